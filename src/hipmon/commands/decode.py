"""``hipmon decode``: Decode hex notifications (one per line, FILE or stdin) with a firmware profile to a samples CSV."""

from __future__ import annotations

import argparse
import sys

HELP = "Decode hex notifications (one per line, FILE or stdin) with a firmware profile to a samples CSV."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon decode: not built yet (issue 2)", file=sys.stderr)
    return 2
