"""``hipmon mark SESSION --at S --label L [--condition C]``: add a marker to a recorded session.

For a marker placed after the fact (in replay, or one the dashboard's Marker button missed):
an explicit write to the session file, one committed transaction (nothing half-written);
refused with one line for a file that is not a hipmon session, is damaged, or is still being
recorded (``hipmon.recording.writer.add_marker_to_session``). ``--list`` prints the
session's markers (time, label, condition), after the new one if ``--at`` is given too.
A marker's condition ("shoe A", "after fatigue") labels the events after it until the next
marker: ``hipmon compare SESSION --by-condition`` compares them.
"""

from __future__ import annotations

import argparse
import json

HELP = "Add a marker (label and condition) to a recorded session, or list its markers."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", metavar="SESSION", help="the session file")
    parser.add_argument("--at", type=float, metavar="S", help="session time of the marker, s")
    parser.add_argument("--label", metavar="L", help="the marker's label (e.g. 'shoe change')")
    parser.add_argument("--condition", default="", metavar="C",
                        help="the condition from this marker on (e.g. 'shoe A', 'after fatigue')")
    parser.add_argument("--list", action="store_true", help="print the session's markers")
    parser.add_argument("--json", action="store_true", help="with --list: the markers as JSON")


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError
    from hipmon.recording import RecordingError, SessionReader
    from hipmon.recording.writer import add_marker_to_session

    if args.at is None and not args.list:
        raise CommandError("give --at S --label L [--condition C] to add a marker, or --list")
    if args.at is not None and args.label is None:
        raise CommandError("--at needs --label")
    if args.at is None and (args.label is not None or args.condition):
        raise CommandError("--label/--condition need --at (the marker's session time, s)")
    try:
        if args.at is not None:
            add_marker_to_session(args.session, args.at, args.label, args.condition)
            cond = f" condition {args.condition!r}" if args.condition else ""
            print(f"{args.session}: marker {args.label!r}{cond} at {args.at:.3f} s")
        if args.list:
            with SessionReader(args.session) as reader:
                markers = reader.markers
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    if args.list:
        if args.json:
            print(json.dumps([{"time_s": m.time_s, "label": m.label, "condition": m.condition} for m in markers],
                             indent=2))
        elif not markers:
            print(f"{args.session}: no markers")
        else:
            print(f"{'time_s':>10}  label | condition")
            for m in markers:
                print(f"{m.time_s:10.3f}  {m.label} | {m.condition}")
    return 0
