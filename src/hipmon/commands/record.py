"""``hipmon record``: Record a session without a GUI, from sensors or --emulate KIND, to a SQLite session file."""

from __future__ import annotations

import argparse
import sys

HELP = "Record a session without a GUI, from sensors or --emulate KIND, to a SQLite session file."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon record: not built yet (issue 4)", file=sys.stderr)
    return 2
