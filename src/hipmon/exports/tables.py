"""ANGLES.csv and EVENTS.csv (DESIGN.md section 4): the one writer and the one reader of each.

Numbers are written with 4 decimals (degrees, seconds); a value that is not finite
(no valid sample, an unmeasured angle) is an empty field, and is read back as NaN.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from hipmon.metric_registry import METRICS
from hipmon.types import ANGLE_COLUMNS, EVENT_COLUMNS, Event, Frames

if TYPE_CHECKING:
    from hipmon.pipeline import SessionResult

from ._files import ExportError, write_text_atomic

#: columns the simulator's truth EVENTS.csv adds after ``EVENT_COLUMNS`` (``extras=True``)
TRUTH_EXTRA_COLUMNS: tuple[str, ...] = ("initial_contact_s", "toe_off_s", "extra")


def format_value(x: Any) -> str:
    """``f"{x:.4f}"``, or "" for None, NaN or inf (an empty CSV field)."""
    return "" if x is None or not math.isfinite(x) else f"{x:.4f}"


# ---------------------------------------------------------------- EVENTS.csv


def _event_row(e: Event) -> list[str]:
    row = []
    for col in EVENT_COLUMNS:
        if col in METRICS:
            row.append(format_value(getattr(e, col)))
        elif col in ("start_s", "end_s"):
            row.append(f"{getattr(e, col):.4f}")
        else:  # kind, side, alert
            row.append(getattr(e, col) or "")
    return row


def events_csv_text(events: Iterable[Event], *, extras: bool = False, sort: bool = True) -> str:
    """EVENTS.csv text: a header row of ``EVENT_COLUMNS``, one row per event.

    ``sort``: by (start_s, kind, side) (``hipmon export``); else in the given order.
    ``extras``: also ``initial_contact_s``, ``toe_off_s`` and the other ``Event.extra``
    values as ``k=v;`` sorted by key (the simulator's truth ``events.csv``).
    """
    events = list(events)
    if sort:
        events.sort(key=lambda e: (e.start_s, e.kind, e.side))
    header = list(EVENT_COLUMNS) + (list(TRUTH_EXTRA_COLUMNS) if extras else [])
    lines = [",".join(header)]
    for e in events:
        row = _event_row(e)
        if extras:
            extra = dict(e.extra)
            ic = extra.pop("initial_contact_s", float("nan"))
            to = extra.pop("toe_off_s", float("nan"))
            rest = ";".join(f"{k}={v:.4f}" for k, v in sorted(extra.items()))
            row += [format_value(ic), format_value(to), rest]
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def write_events_csv(result: SessionResult, path: str | os.PathLike[str], *, extras: bool = False,
                     sort: bool = True) -> Path:
    """Write EVENTS.csv of ``result`` (its ``events``) atomically (a list of events: ``events_csv_text``)."""
    return write_text_atomic(path, events_csv_text(result.events, extras=extras, sort=sort))


def _float_field(text: str, path: Path, line: int, col: str) -> float:
    if text.strip() == "":
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise ExportError(f"{path}, line {line}: {col} is {text!r}, not a number") from None


def read_events_csv(path: str | os.PathLike[str]) -> list[Event]:
    """Events from an EVENTS.csv (``hipmon export --events`` or the simulator's truth file).

    Empty metric fields become NaN; ``initial_contact_s``, ``toe_off_s``, ``extra``
    (``k=v;...``) and any further numeric columns go to ``Event.extra``. ``ExportError``
    names the file and line of anything malformed.
    """
    path = Path(path)
    rows = _csv_rows(path)
    if not rows or tuple(rows[0][: len(EVENT_COLUMNS)]) != EVENT_COLUMNS:
        raise ExportError(f"{path}, line 1: header must start with {','.join(EVENT_COLUMNS)}")
    header = rows[0]
    events = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise ExportError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        v = dict(zip(header, row))
        ev = Event(v["kind"], v["side"], _float_field(v["start_s"], path, line, "start_s"),
                   _float_field(v["end_s"], path, line, "end_s"), alert=v["alert"])
        for col in header:
            if col in METRICS:
                setattr(ev, col, _float_field(v[col], path, line, col))
            elif col == "extra":
                for item in filter(None, v[col].split(";")):
                    key, _, val = item.partition("=")
                    ev.extra[key] = _float_field(val, path, line, f"extra {key}")
            elif col not in EVENT_COLUMNS and v[col] != "":
                ev.extra[col] = _float_field(v[col], path, line, col)
        events.append(ev)
    return events


# ---------------------------------------------------------------- ANGLES.csv


@dataclass
class AnglesTable:
    """ANGLES.csv read back: ``time_s`` (N,) s, ``angles_deg`` (N, 9) in ``ANGLE_COLUMNS`` order (NaN: empty)."""

    time_s: np.ndarray
    angles_deg: np.ndarray
    columns: tuple[str, ...] = ANGLE_COLUMNS

    def column(self, name: str) -> np.ndarray:
        """One angle column (N,) by its ANGLES.csv name."""
        return self.angles_deg[:, self.columns.index(name)]


def angles_csv_text(frames: Frames, include_invalid: bool = False) -> str:
    """ANGLES.csv text of pipeline ``frames``: a row wherever the pelvis has valid angles
    (``valid_sensor["pelvis"]``, else ``valid``), or every row with ``include_invalid``."""
    lines = [",".join(("time_s",) + ANGLE_COLUMNS)]
    row_ok = frames.valid_sensor.get("pelvis", frames.valid)
    for i in range(len(frames.time_s)):
        if not row_ok[i] and not include_invalid:
            continue
        lines.append(f"{frames.time_s[i]:.4f}," + ",".join(format_value(float(x)) for x in frames.angles_deg[i]))
    return "\n".join(lines) + "\n"


def write_angles_csv(result: SessionResult, path: str | os.PathLike[str], *, include_invalid: bool = False) -> Path:
    """Write ANGLES.csv of ``result`` (a ``SessionResult``: its ``frames``) atomically."""
    return write_text_atomic(path, angles_csv_text(result.frames, include_invalid))


def _csv_rows(path: Path) -> list[list[str]]:
    """The rows of a CSV file hipmon wrote; ``ExportError`` naming it when it cannot be read."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.reader(f))
    except OSError as exc:
        raise ExportError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_angles_csv(path: str | os.PathLike[str]) -> AnglesTable:
    """ANGLES.csv (``hipmon export --angles``, the simulator's ``truth.csv``) as arrays; empty
    fields are NaN. ``ExportError`` names the file and line of anything malformed."""
    path = Path(path)
    rows = _csv_rows(path)
    want = ("time_s",) + ANGLE_COLUMNS
    if not rows or tuple(rows[0]) != want:
        raise ExportError(f"{path}, line 1: header must be {','.join(want)}")
    values = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(want):
            raise ExportError(f"{path}, line {line}: {len(row)} fields, {len(want)} expected")
        values.append([_float_field(x, path, line, c) for x, c in zip(row, want)])
    a = np.asarray(values, dtype=float).reshape(-1, len(want))
    return AnglesTable(a[:, 0], a[:, 1:])

