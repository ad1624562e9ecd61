"""``hipmon export SESSION --parquet DIR``: tidy Parquet tables with units and conventions in the schema.

Tables (one file each in ``DIR``; the columns of the first four are ``hipmon batch``'s,
``hipmon.batch.session_tables``, so a single export and a batch read alike):

- ``angles.parquet``: ``time_s``, ``valid``, the nine ANGLES.csv columns (deg, NaN where not
  measured), ``valid_<placement>``.
- ``events.parquet``: one row per event: kind, side, start/end, every registered metric
  (``hipmon.metric_registry.METRICS``) and per-event field (``EVENT_FIELDS``), alert.
- ``alerts.parquet``, ``calibration.parquet``: as ``hipmon batch`` writes them.
- ``session.parquet``: one row: duration, frames, rate, events, alerts, calibration,
  hipmon version and the session metadata (``metadata_json``).
- ``markers.parquet``: ``time_s``, ``label``, ``condition``.

Every field carries metadata ``unit`` (and for angles ``sign``, ``axis``, ``sequence``,
``frames``; for metrics and event fields ``description``); every table carries ``hipmon``
(JSON: version, table, conventions). Read them with ``pyarrow.parquet.read_table`` or
``pandas.read_parquet``; ``schema.field(name).metadata`` holds the units.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from hipmon import __version__
from hipmon.metric_registry import EVENT_FIELDS, METRICS
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS

from ._dirs import file_set
from ._files import ExportError
from .conventions import angle_convention, marker_rows

if TYPE_CHECKING:
    from hipmon.pipeline import SessionResult

CONVENTIONS = ("DESIGN.md section 2: global X forward (faced at calibration), Y up, Z right; segments X anterior, "
               "Y superior, Z right (ISB); pelvis Cardan Y-X-Z in global (Baker 2001), hip Cardan Z-X-Y thigh in "
               "pelvis (ISB JCS), left side mirrored; degrees; session time in seconds")

_COMMON = {
    "time_s": {"unit": "s", "description": "session time"},
    "start_s": {"unit": "s", "description": "event start, session time"},
    "end_s": {"unit": "s", "description": "event end, session time"},
    "kind": {"unit": "", "description": "stance, landing, rep or hold"},
    "side": {"unit": "", "description": "left, right or both"},
    "alert": {"unit": "", "description": "the alert rule that fired, empty if none"},
    "valid": {"unit": "", "description": "every sensor has data there, and calibrated"},
    "extra_json": {"unit": "", "description": "other per-event values, JSON"},
    "label": {"unit": "", "description": "marker label"},
    "condition": {"unit": "", "description": "marker condition (e.g. shoe A, after fatigue)"},
    "rate_hz": {"unit": "Hz", "description": "common grid rate"},
    "metadata_json": {"unit": "", "description": "the session metadata (athlete, notes, ...), JSON"},
}


def field_metadata(name: str) -> dict[str, str]:
    """unit/description (and the sign conventions of an angle) of a column of these tables."""
    if name in ANGLE_COLUMNS:
        return angle_convention(name)
    if name in METRICS:
        m = METRICS[name]
        return {"unit": m.unit, "sign": m.sign, "description": m.description}
    if name in EVENT_FIELDS:
        unit, desc = EVENT_FIELDS[name]
        return {"unit": unit, "description": desc}
    if name.startswith("valid_") and name[6:] in PLACEMENTS:
        return {"unit": "", "description": f"the {name[6:]} sensor has data there (and calibrated)"}
    if name in _COMMON:
        return dict(_COMMON[name])
    if name.endswith("_s"):
        return {"unit": "s"}
    if name.endswith("_deg"):
        return {"unit": "deg"}
    return {}


def annotate(table: Any, name: str, extra: dict[str, Any] | None = None) -> Any:
    """``table`` with ``field_metadata`` on every field and the ``hipmon`` table metadata."""
    import pyarrow as pa

    fields = []
    for f in table.schema:
        md = {k: str(v) for k, v in field_metadata(f.name).items()}
        fields.append(f.with_metadata(md) if md else f)
    meta = {"version": __version__, "table": name, "conventions": CONVENTIONS, **(extra or {})}
    schema = pa.schema(fields, metadata={"hipmon": json.dumps(meta, sort_keys=True)})
    return table.cast(schema)


def session_table(result: "SessionResult", metadata: dict[str, Any] | None) -> Any:
    import pyarrow as pa

    f = result.frames
    t = f.time_s
    cal = result.calibration
    rate = 1.0 / float(np.median(np.diff(t))) if len(t) > 1 else float("nan")
    row = {
        "start_s": [float(t[0]) if len(t) else float("nan")],
        "duration_s": [float(t[-1] - t[0]) if len(t) else 0.0],
        "rate_hz": [rate],
        "frames": [int(len(t))],
        "valid_fraction": [float(np.mean(f.valid)) if len(t) else 0.0],
        "events": [len(result.events)],
        "alerts": [len(result.alerts)],
        "gaps": [len(result.gaps)],
        "calibration_quality": [float("nan") if cal is None else float(cal.quality)],
        "calibration_trusted": [bool(cal is not None and cal.trusted)],
        "hipmon_version": [__version__],
        "metadata_json": [json.dumps(metadata or {}, sort_keys=True, default=str)],
    }
    return pa.table(row)


def write_parquet(result: "SessionResult", path: str | os.PathLike[str], *, markers: Iterable[Any] | None = None,
                  metadata: dict[str, Any] | None = None) -> Path:
    """Write the tidy tables of ``result`` into folder ``path`` (created; parent must exist)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hipmon.batch import session_tables

    if len(result.frames) == 0:
        raise ExportError(f"{path}: no frames to export")
    tables = session_tables(result)
    tables.pop("summary", None)  # a statistic of the events, not data: hipmon analyze/batch give it
    tables["session"] = session_table(result, metadata)
    ms = marker_rows(markers)
    tables["markers"] = pa.table({"time_s": pa.array([m.time_s for m in ms], pa.float64()),
                                  "label": pa.array([m.label for m in ms], pa.string()),
                                  "condition": pa.array([m.condition for m in ms], pa.string())})
    extra_md = {"session": json.dumps(metadata or {}, sort_keys=True, default=str)}
    with file_set(path) as fs:
        for name, table in tables.items():
            pq.write_table(annotate(table, name, extra_md), fs.tmp(f"{name}.parquet"))
    return Path(path)
