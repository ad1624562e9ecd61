"""The ``hipmon`` command: one subcommand per module in ``hipmon.commands``.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Command modules keep their top-level imports light (heavy
imports go inside ``run``) so that ``hipmon --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys

from hipmon import __version__

#: Command names (DESIGN.md section 4, fixed) -> module in hipmon.commands.
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "live": "live",
    "replay": "replay",
    "record": "record",
    "scan": "scan",
    "import": "import_",
    "export": "export",
    "info": "info",
    "repair": "repair",
    "analyze": "analyze",
    "batch": "batch",
    "report": "report",
    "compare": "compare",
    "sessions": "sessions",
    "simulate": "simulate",
    "decode": "decode",
    "profiles": "profiles",
    "mark": "mark",
}


class CommandError(Exception):
    """A user-facing failure: the message is printed as ``hipmon CMD: message``."""


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``hipmon CMD: error: ... (hipmon CMD --help)``, exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hipmon",
        description="Hip stability monitor: pelvic drop and dynamic knee valgus "
        "from IMUs on the pelvis and both thighs.",
    )
    parser.add_argument("--version", action="version", version=f"hipmon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"hipmon.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    from hipmon.recording._common import RecordingError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except CommandError as exc:  # DESIGN section 4: a one-line error, exit status 2
        print(f"hipmon {args.command}: {exc}", file=sys.stderr)
        return 2
    except (RecordingError, sqlite3.DatabaseError, OSError) as exc:
        # the one error path for a file problem no command caught: a line naming it, no traceback
        if isinstance(exc, BrokenPipeError):
            return 0
        where = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"hipmon {args.command}: {where}{_one_line(text)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hipmon {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
