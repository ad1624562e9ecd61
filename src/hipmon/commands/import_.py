"""``hipmon import``: Import per-sensor CSV files (DESIGN.md section 4) into a session file."""

from __future__ import annotations

import argparse
import sys

HELP = "Import per-sensor CSV files (DESIGN.md section 4) into a session file."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon import: not built yet (issue 4)", file=sys.stderr)
    return 2
