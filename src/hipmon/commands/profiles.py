"""``hipmon profiles``: List the firmware profiles and what each can stream."""

from __future__ import annotations

import argparse
import sys

HELP = "List the firmware profiles and what each can stream."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon profiles: not built yet (issue 2)", file=sys.stderr)
    return 2
