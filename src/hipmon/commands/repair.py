"""``hipmon repair SESSION -o NEW``: recover what is intact from a damaged or truncated session file.

The damaged file (and its ``-wal``) is only read, never modified; the recovered rows go to
a new session file written atomically (``hipmon.recording.salvage``; what is recovered and
what is lost: ``docs/recording-format.md``, "Damaged files and repair"). Exit status 0
when something was recovered, 2 with a one-line message when nothing could be.
"""

from __future__ import annotations

import argparse

HELP = "Recover what is intact from a damaged or truncated session file into a new one."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", metavar="SESSION", help="the damaged session file (read only)")
    parser.add_argument("-o", "--output", required=True, metavar="NEW", help="the repaired session file to create")
    parser.add_argument("--overwrite", action="store_true", help="replace NEW if it exists")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    import json

    from hipmon.cli import CommandError
    from hipmon.recording import RecordingError
    from hipmon.recording.salvage import repair
    from hipmon.recording.writer import check_output_path

    try:
        check_output_path(args.output, args.overwrite)  # before any work
        report = repair(args.session, args.output, overwrite=args.overwrite)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps({**report.to_json(), "output": args.output}, indent=2))
    else:
        print("\n".join(report.lines()))
        print(f"wrote {args.output}")
    return 0
