"""``hipmon live``: Live dashboard on real sensors from a session configuration or a scan; --no-gui prints one line per stride."""

from __future__ import annotations

import argparse
import sys

HELP = "Live dashboard on real sensors from a session configuration or a scan; --no-gui prints one line per stride."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("hipmon live: not built yet (issue 7)", file=sys.stderr)
    return 2
