"""``hipmon export``: a session's angles (--angles) and events (--events) as CSV; for lab
tools OpenSim/OpenSense (--opensim DIR), C3D (--c3d FILE), Parquet (--parquet DIR) and
BIDS-motion (--bids DIR), with the recording's markers and metadata (docs/exports.md).

``SESSION`` is a session file (``hipmon record`` / ``hipmon import``) or a
directory holding ``pelvis.csv``, ``left_thigh.csv`` and ``right_thigh.csv`` in
the import format (DESIGN.md section 4; e.g. the output of ``hipmon simulate``), or
``pelvis.csv`` alone (a sacrum-only session: the hip columns are empty, stderr says why).
A row is written wherever the pelvis angles exist; a column whose sensor has no data
there (a lost thigh) is empty.
The session goes through the same causal pipeline as a live session
(``hipmon.pipeline``), so the angles are the ones the live view showed.
Files are written atomically: nothing is half-written on an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hipmon.commands._options import add_pipeline_arguments

HELP = ("Export a session's angles (--angles) and events (--events) as CSV, and for lab tools as "
        "OpenSim (--opensim), C3D (--c3d), Parquet (--parquet) or BIDS-motion (--bids).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hipmon.commands._progress import add_progress_arguments

    add_progress_arguments(parser)
    parser.add_argument("session", metavar="SESSION", help="session file, or a directory of import CSVs")
    parser.add_argument("--angles", metavar="ANGLES.csv", help="write the nine angles (degrees) per grid sample")
    parser.add_argument("--events", metavar="EVENTS.csv", help="write the detected events with their peaks and alerts")
    parser.add_argument("--opensim", metavar="DIR", help="write OpenSense orientations (.sto) and OpenSim pelvis/hip "
                        "coordinates (.mot) into DIR (docs/exports.md)")
    parser.add_argument("--c3d", metavar="FILE.c3d", help="write Plug-in Gait angle points and gait events as C3D")
    parser.add_argument("--parquet", metavar="DIR", help="write tidy Parquet tables (angles, events, session, markers)")
    parser.add_argument("--bids", metavar="DIR", help="write (or add to) a BIDS-motion dataset in DIR")
    parser.add_argument("--bids-subject", metavar="LABEL", help="BIDS subject label (default: the athlete, else 01)")
    parser.add_argument("--bids-session", metavar="LABEL", default="01", help="BIDS session label (default 01)")
    parser.add_argument("--bids-task", metavar="LABEL", help="BIDS task label (default hipmonitoring)")
    add_pipeline_arguments(parser)
    parser.add_argument("--include-invalid", action="store_true", help="also write rows before calibration and in gaps (empty angles)")


def read_imu_csv(path: Path):
    """(time_s (N,), acc (N, 3), gyr (N, 3), mag (N, 3) | None) from an import-format CSV
    (``hipmon.recording.csvio.read_imu_csv``, the one reader of the format); CommandError names file and line."""
    from hipmon.cli import CommandError
    from hipmon.recording.csvio import CsvFormatError
    from hipmon.recording.csvio import read_imu_csv as read_import_csv

    try:
        b = read_import_csv(path).block
    except CsvFormatError as exc:
        raise CommandError(str(exc)) from None
    if len(b) < 2:
        raise CommandError(f"{path}: no samples")
    return b.time_sensor_s, b.acc_sensor, b.gyr_sensor, b.mag_sensor


def _run_pipeline(args: argparse.Namespace):
    import numpy as np

    from hipmon.cli import CommandError
    from hipmon.commands._options import pipeline_config
    from hipmon.pipeline import process_samples, process_session
    from hipmon.types import SensorSpec
    from hipmon.types import PLACEMENTS

    cfg = pipeline_config(args)
    src = Path(args.session)
    if not src.exists():
        raise CommandError(f"{src}: no such session")
    if src.is_dir():
        samples, specs = {}, []
        thighs = [(src / f"{p}.csv").exists() for p in ("left_thigh", "right_thigh")]
        wanted = PLACEMENTS if any(thighs) else ("pelvis",)
        for p in wanted:
            f = src / f"{p}.csv"
            if not f.exists():
                raise CommandError(f"{src}: {p}.csv missing (need pelvis.csv, left_thigh.csv, right_thigh.csv, "
                                   "or pelvis.csv alone)")
            t, acc, gyr, mag = read_imu_csv(f)
            samples[p] = (t, acc, gyr, mag)
            rate = 1.0 / float(np.median(np.diff(t)))
            specs.append(SensorSpec(p, p, None, rate))
        if cfg.use_mag and any(v[3] is None for v in samples.values()):
            raise CommandError("--mag: not every sensor file has mag_x,mag_y,mag_z")
        try:
            return process_samples(samples, specs, cfg)
        except Exception as exc:  # e.g. a refused filter: one line, no traceback
            raise CommandError(f"{src}: {exc}") from exc
    try:
        return process_session(src, cfg)
    except CommandError:
        raise
    except Exception as exc:
        raise CommandError(f"{src}: {exc}") from exc


def _markers_and_metadata(args: argparse.Namespace) -> tuple[list, dict]:
    """The recording's user markers and metadata (a session file); none for a CSV directory."""
    src = Path(args.session)
    if src.is_dir():
        return [], {"source": str(src)}
    from hipmon.recording.reader import SessionReader

    try:
        with SessionReader(src) as reader:
            return list(reader.markers), dict(reader.metadata)
    except Exception:  # noqa: BLE001 - the pipeline already read it; markers are a bonus
        return [], {}


_LAB = ("opensim", "c3d", "parquet", "bids")


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError
    from hipmon.types import ANGLE_COLUMNS

    lab = [k for k, v in zip(_LAB, (args.opensim, args.c3d, args.parquet, args.bids)) if v]
    if not args.angles and not args.events and not lab:
        raise CommandError("nothing to export: give --angles ANGLES.csv and/or --events EVENTS.csv "
                           "(or --opensim DIR, --c3d FILE.c3d, --parquet DIR, --bids DIR)")
    if args.c3d and not str(args.c3d).lower().endswith(".c3d"):
        raise CommandError(f"{args.c3d}: a C3D file name must end in .c3d")
    from hipmon.commands._progress import Progress

    outputs = [x for x in (args.angles, args.events) if x] + lab
    prog = Progress("export", total=1 + len(outputs), enabled=args.progress)
    prog.step(f"processing {args.session} (fusion, calibration, angles, events)")
    result = _run_pipeline(args)
    cal = result.calibration
    if cal is None:
        raise CommandError(
            f"{args.session}: no calibration found (need >= 2 s of quiet standing, then walking, running, landings or squats)"
        )
    from hipmon.pipeline import measurable

    have = [p for p, v in result.frames.valid_sensor.items() if len(v) and v.any()]
    what = measurable(have)
    if what["not_measurable"]:
        cols = [c for c in ANGLE_COLUMNS if any(c.startswith(q) for q in what["not_measurable"])]
        reasons = sorted(set(what["not_measurable"].values()))
        print(f"hipmon export: note: sensors {', '.join(have) or 'none'}: columns {', '.join(cols)} are empty "
              f"(NaN) and event hip peaks too: {'; '.join(reasons)}", file=sys.stderr)
    if not cal.trusted:
        print(f"hipmon export: warning: calibration cannot be trusted: {'; '.join(cal.reasons)}", file=sys.stderr)
    if result.events_error and args.events:
        print(f"hipmon export: warning: event detection failed ({result.events_error}); events are incomplete", file=sys.stderr)
    from hipmon.exports import ExportError, write_angles_csv, write_events_csv

    try:
        if args.angles:
            prog.step(f"writing {args.angles}")
            write_angles_csv(result, args.angles, include_invalid=args.include_invalid)
        if args.events:
            prog.step(f"writing {args.events}")
            write_events_csv(result, args.events)
        if lab:
            from hipmon.exports import write_bids, write_c3d, write_opensim, write_parquet

            markers, metadata = _markers_and_metadata(args)
            opts = {"markers": markers, "metadata": metadata}
            if args.opensim:
                prog.step(f"writing the OpenSim files in {args.opensim}")
                write_opensim(result, args.opensim, **opts)
            if args.c3d:
                prog.step(f"writing {args.c3d}")
                write_c3d(result, args.c3d, **opts)
            if args.parquet:
                prog.step(f"writing the Parquet tables in {args.parquet}")
                write_parquet(result, args.parquet, **opts)
            if args.bids:
                prog.step(f"writing the BIDS dataset in {args.bids}")
                write_bids(result, args.bids, sub=args.bids_subject, ses=args.bids_session, task=args.bids_task,
                           **opts)
    except ExportError as exc:
        raise CommandError(str(exc)) from None
    print(
        f"hipmon export: {int(result.frames.valid.sum())} frames, {len(result.events)} events, "
        f"{len(result.alerts)} alerts; calibration quality {cal.quality:.2f}",
        file=sys.stderr,
    )
    prog.done("exported")
    return 0
