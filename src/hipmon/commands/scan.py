"""``hipmon scan``: Scan for BLE sensors whose advertisements match a firmware profile."""

from __future__ import annotations

import argparse
import sys

HELP = "Scan for BLE sensors whose advertisements match a firmware profile."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon scan: not built yet (issue 4)", file=sys.stderr)
    return 2
