"""``hipmon export``: a session's angles (--angles) and events (--events) as CSV.

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
import math
import os
import sys
from pathlib import Path

HELP = "Export a session's angles (--angles) and events (--events) as CSV."

_IMU_COLUMNS = ("time_s", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
_MAG_COLUMNS = ("mag_x", "mag_y", "mag_z")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", metavar="SESSION", help="session file, or a directory of import CSVs")
    parser.add_argument("--angles", metavar="ANGLES.csv", help="write the nine angles (degrees) per grid sample")
    parser.add_argument("--events", metavar="EVENTS.csv", help="write the detected events with their peaks and alerts")
    parser.add_argument("--rate", type=float, default=None, metavar="HZ", help="common grid rate (default: sensor rate, at most 100 Hz)")
    parser.add_argument("--filter", default="vqf", choices=("vqf", "madgwick", "mahony", "ekf"),
                        help="orientation filter (default vqf); madgwick, mahony and ekf run with hipmon's "
                             "rest gyro-bias estimate and accelerometer low-pass, within 1.5x vqf's error "
                             "(docs/fusion.md); with --mag only vqf (the others are refused: no "
                             "magnetic-disturbance rejection)")
    parser.add_argument("--mag", action="store_true", help="magnetometer-aided heading (9D) where the sensors send it")
    parser.add_argument("--rules", metavar="RULES.toml", default=None, help="alert rules (default: the shipped rules)")
    parser.add_argument("--include-invalid", action="store_true", help="also write rows before calibration and in gaps (empty angles)")


def _fmt(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.4f}"


def _write_atomic(path: Path, lines: list[str]) -> None:
    from hipmon.cli import CommandError

    if path.parent and not path.parent.exists():
        raise CommandError(f"{path}: directory {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write("\n".join(lines))
            f.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise CommandError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def read_imu_csv(path: Path):
    """(time_s (N,), acc (N, 3), gyr (N, 3), mag (N, 3) | None) from an import-format CSV; CommandError names file and line."""
    import numpy as np

    from hipmon.cli import CommandError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    lines = text.splitlines()
    if not lines:
        raise CommandError(f"{path}: line 1: empty file (header {','.join(_IMU_COLUMNS)} expected)")
    header = [h.strip() for h in lines[0].split(",")]
    if tuple(header[:7]) != _IMU_COLUMNS:
        raise CommandError(f"{path}: line 1: header must start with {','.join(_IMU_COLUMNS)}, got {lines[0]!r}")
    has_mag = tuple(header[7:10]) == _MAG_COLUMNS
    ncol = 10 if has_mag else 7
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < ncol:
            raise CommandError(f"{path}: line {i}: {len(parts)} values, {ncol} expected")
        try:
            vals = [float(p) for p in parts[:ncol]]
        except ValueError:
            raise CommandError(f"{path}: line {i}: not a number in {line!r}") from None
        if not all(math.isfinite(v) for v in vals):
            raise CommandError(f"{path}: line {i}: non-finite value")
        rows.append(vals)
    if len(rows) < 2:
        raise CommandError(f"{path}: no samples")
    a = np.asarray(rows)
    t = a[:, 0]
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size:
        raise CommandError(f"{path}: line {int(bad[0]) + 3}: time_s does not increase")
    return t, a[:, 1:4], a[:, 4:7], (a[:, 7:10] if has_mag else None)


def _run_pipeline(args: argparse.Namespace):
    import numpy as np

    from hipmon.cli import CommandError
    from hipmon.pipeline import PipelineConfig, SensorSpec, process_samples, process_session
    from hipmon.types import PLACEMENTS

    cfg = PipelineConfig(rate_hz=args.rate, filter=args.filter, use_mag=bool(args.mag))
    if args.rules:
        from hipmon.alerts import load_rules

        try:
            cfg.alert_rules = load_rules(args.rules)
        except Exception as exc:
            raise CommandError(f"{args.rules}: {exc}") from exc
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


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError
    from hipmon.types import ANGLE_COLUMNS, EVENT_COLUMNS

    if not args.angles and not args.events:
        raise CommandError("nothing to export: give --angles ANGLES.csv and/or --events EVENTS.csv")
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
    if args.angles:
        fr = result.frames
        lines = [",".join(("time_s",) + ANGLE_COLUMNS)]
        row_ok = fr.valid_sensor.get("pelvis", fr.valid) if fr.valid_sensor else fr.valid
        for i in range(len(fr)):
            if not row_ok[i] and not args.include_invalid:
                continue
            lines.append(f"{fr.time_s[i]:.4f}," + ",".join(_fmt(float(x)) for x in fr.angles_deg[i]))
        _write_atomic(Path(args.angles), lines)
    if args.events:
        lines = [",".join(EVENT_COLUMNS)]
        for e in sorted(result.events, key=lambda e: (e.start_s, e.kind, e.side)):
            vals = [e.kind, e.side, f"{e.start_s:.4f}", f"{e.end_s:.4f}", _fmt(e.peak_pelvic_drop_deg),
                    _fmt(e.peak_hip_adduction_deg), _fmt(e.peak_hip_internal_rotation_deg), e.alert or ""]
            lines.append(",".join(vals))
        _write_atomic(Path(args.events), lines)
    print(
        f"hipmon export: {int(result.frames.valid.sum())} frames, {len(result.events)} events, "
        f"{len(result.alerts)} alerts; calibration quality {cal.quality:.2f}",
        file=sys.stderr,
    )
    return 0
