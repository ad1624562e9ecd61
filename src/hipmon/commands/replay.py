"""``hipmon replay``: Open a recording in the dashboard: play, pause, speed, scrub, jump to alerts."""

from __future__ import annotations

import argparse
import sys

HELP = "Open a recording in the dashboard: play, pause, speed, scrub, jump to alerts."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon replay: not built yet (issue 7)", file=sys.stderr)
    return 2
