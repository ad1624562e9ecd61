"""``hipmon demo``: Live dashboard on emulated sensors (a simulated runner who fatigues); --duration/--screenshot for headless use."""

from __future__ import annotations

import argparse
import sys

HELP = "Live dashboard on emulated sensors (a simulated runner who fatigues); --duration/--screenshot for headless use."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon demo: not built yet (issue 7)", file=sys.stderr)
    return 2
