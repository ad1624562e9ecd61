"""``hipmon import``: per-sensor CSV files (DESIGN.md section 4) -> one session file."""

from __future__ import annotations

import argparse

HELP = "Import per-sensor CSV files (DESIGN.md section 4) into a session file."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pelvis", required=True, metavar="P.csv", help="pelvis sensor CSV")
    parser.add_argument("--left-thigh", metavar="L.csv", help="left thigh sensor CSV (leave out both thighs for a "
                        "sacrum-only session: pelvis angles, contacts, pelvic drop; no hip angles)")
    parser.add_argument("--right-thigh", metavar="R.csv", help="right thigh sensor CSV")
    parser.add_argument("-o", "--output", metavar="SESSION", help="session file to create (without it: "
                        "a new file in the athlete library, with --athlete)")
    parser.add_argument("--force", action="store_true", help="replace SESSION if it exists")
    parser.add_argument("--athlete", default=None, help="athlete name or id stored in the metadata (without -o: "
                        "the session goes to LIBRARY/<athlete>/<date>_<protocol>_<n>.hipmon)")
    from hipmon.commands._progress import add_progress_arguments
    from hipmon.commands.sessions import add_library_argument, add_protocol_arguments

    add_protocol_arguments(parser)
    add_library_argument(parser)
    add_progress_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    from hipmon.cli import CommandError
    from hipmon.recording import RecordingError, import_csv_session

    if (args.left_thigh is None) != (args.right_thigh is None):
        given, other = ("--left-thigh", "--right-thigh") if args.left_thigh else ("--right-thigh", "--left-thigh")
        raise CommandError(f"{given} needs {other} too (give both thighs, or the pelvis alone)")
    files = {"pelvis": args.pelvis}
    if args.left_thigh is not None:
        files.update({"left_thigh": args.left_thigh, "right_thigh": args.right_thigh})
    from hipmon.commands._progress import Progress
    from hipmon.commands.sessions import library_output, protocol_metadata
    from hipmon.recording.writer import check_output_path

    metadata = {"athlete": args.athlete} if args.athlete else {}
    metadata.update(protocol_metadata(args))
    args.output, _in_library = library_output(args, args.output, metadata.get("protocol"))
    prog = Progress("import", total=1, enabled=args.progress)

    try:  # before any work: a directory, a missing or non-directory parent, an existing file
        check_output_path(args.output, args.force, flag="--force")
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    prog.step(f"reading {len(files)} CSV file{'s' if len(files) > 1 else ''} and writing {args.output}")
    try:
        parsed = import_csv_session(files, args.output, metadata=metadata, overwrite=args.force)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    for placement, csvf in parsed.items():
        for finding in csvf.findings:
            print(f"hipmon import: warning: {finding.line()}", file=sys.stderr)
        if csvf.ignored_columns:
            print(
                f"hipmon import: {csvf.path}: ignored column(s) {', '.join(csvf.ignored_columns)}",
                file=sys.stderr,
            )
        b = csvf.block
        print(
            f"{placement}: {len(b)} samples, {b.time_sensor_s[0]:.3f}-{b.time_sensor_s[-1]:.3f} s, "
            f"{csvf.rate_hz:.1f} Hz{', with mag' if b.mag_sensor is not None else ''}"
        )
    if len(files) == 1:
        print("one sensor on the sacrum: pelvis angles, contacts and pelvic drop; hip angles need thigh sensors")
    prog.done(f"wrote {args.output}")
    print(f"wrote {args.output}")
    return 0
