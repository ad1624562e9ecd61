"""``hipmon export``: Export a session's angles (--angles) and events (--events) as CSV."""

from __future__ import annotations

import argparse
import sys

HELP = "Export a session's angles (--angles) and events (--events) as CSV."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon export: not built yet (issue 5)", file=sys.stderr)
    return 2
