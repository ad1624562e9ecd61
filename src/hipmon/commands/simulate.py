"""``hipmon simulate``: Simulate an athlete (run, jump, squat, stance, walk): sensor CSVs, truth angles and events."""

from __future__ import annotations

import argparse
import sys

HELP = "Simulate an athlete (run, jump, squat, stance, walk): sensor CSVs, truth angles and events."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon simulate: not built yet (issue 3)", file=sys.stderr)
    return 2
