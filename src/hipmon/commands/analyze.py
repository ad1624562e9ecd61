"""``hipmon analyze``: Per-side summary of a session's events, metrics and alerts."""

from __future__ import annotations

import argparse
import sys

HELP = "Per-side summary of a session's events, metrics and alerts."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon analyze: not built yet (issue 6)", file=sys.stderr)
    return 2
