"""``hipmon info``: Describe a session: duration, sensors, profiles, placements, samples, gaps."""

from __future__ import annotations

import argparse
import sys

HELP = "Describe a session: duration, sensors, profiles, placements, samples, gaps."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon info: not built yet (issue 4)", file=sys.stderr)
    return 2
