"""One session's analysis, the data model that ``hipmon report`` and ``hipmon compare`` share.

``analyse_session(path, config=None) -> SessionAnalysis`` runs the session through
``hipmon.pipeline.process_session`` and summarises it with ``hipmon analyze``'s own code
(``summarize_result``: ``hipmon.metrics.summarize_events`` plus alerts and uncertainty), so a
report's numbers are ``hipmon analyze --json``'s numbers. On top it keeps what a report draws:
every event's metric value over time, the event-normalised traces (0-100 % of each stance or
landing, resampled to 101 points) and the session's facts (athlete, date, protocol, sensors,
calibration).

Degrees and seconds throughout; arrays have events (or time) on the first axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hipmon import metric_registry as reg
from hipmon.types import ANGLE_COLUMNS, SIDES, Alert, Event

if TYPE_CHECKING:
    from hipmon.alerts import Rules
    from hipmon.pipeline import SessionResult

#: The four metrics of a report, in order (hipmon.metric_registry's per-session summaries).
REPORT_METRICS: tuple[str, ...] = reg.SUMMARY_METRICS
#: Points of an event-normalised curve (0, 1, ..., 100 % of the event).
CURVE_POINTS = 101
#: Kinds that are the task of a session; stances are the task only when none of these occur
#: (otherwise they are the calibration walk's steps).
TASK_KINDS = ("landing", "rep", "hold")
PROTOCOL_NAMES = {
    "run": "running", "walk": "walking", "jump": "drop vertical jumps (landings)",
    "squat": "single-leg squats", "stance": "single-leg stance holds", "stand": "quiet standing",
}
KIND_NAMES = {"stance": "stance", "landing": "landing", "rep": "repetition", "hold": "hold"}


@dataclass
class SessionAnalysis:
    """What a report shows of one session (see the module docstring)."""

    path: str
    name: str
    athlete: str | None
    date: str | None  # ISO date-time (UTC) the session was recorded or imported
    protocol: str  # run, walk, jump, squat, stance, ... or "unknown"
    source: str  # emulation, csv-import, recording, ...
    duration_s: float
    sensors: list[dict]
    calibration: dict | None
    warnings: list[str]
    summary: dict  # hipmon analyze --json
    kinds: tuple[str, ...]  # the kinds reported (the task), in order
    events: list[Event] = field(repr=False)
    alerts: list[Alert] = field(repr=False)
    time_s: np.ndarray = field(repr=False)
    angles_deg: np.ndarray = field(repr=False)
    valid: np.ndarray = field(repr=False)
    rules: Rules | None = field(default=None, repr=False)  # the alert rules (None: not known)
    protocol_side: str | None = None  # the tested side of a one-leg protocol (metadata ``protocol_side``)
    protocol_stored: bool = False  # the recording stores its protocol (record/live/import --protocol, the picker)

    # ------------------------------------------------------------ per event

    def events_of(self, kind: str, side: str) -> list[Any]:
        return [e for e in self.events if e.kind == kind and e.side == side]

    def series(self, kind: str, side: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(time of each event's peak or middle, s; the metric's value, deg) of ``kind`` on ``side``."""
        evs = self.events_of(kind, side)
        m = reg.METRICS[metric]
        t = np.array([e.extra.get(m.time_key, 0.5 * (e.start_s + e.end_s)) if m.time_key else
                      0.5 * (e.start_s + e.end_s) for e in evs], dtype=float)
        v = np.array([metric_value(e, metric) for e in evs], dtype=float)
        return t, v

    def block(self, kind: str, side: str, metric: str) -> dict | None:
        """The summary's ``{"mean", "sd", "n", "trend", ...}`` of a metric, or None."""
        try:
            return self.summary["kinds"][kind]["sides"][side][metric]
        except KeyError:
            return None

    def sides_of(self, kind: str) -> list[str]:
        return list(self.summary["kinds"].get(kind, {}).get("sides", {}))

    def metric_trace(self, metric: str, side: str) -> np.ndarray:
        """The angle trace (N,) a metric is the peak of, for events of ``side``, in the metric's sign:
        pelvic drop = ∓obliquity, the hip angles as they are, the composite their sum."""
        m = reg.METRICS[metric]
        cols = [ANGLE_COLUMNS.index(tr.format(side=side)) for tr in m.traces]
        return m.sign_for(side) * self.angles_deg[:, cols].sum(axis=1)

    def normalised(self, kind: str, side: str, metric: str) -> np.ndarray:
        """(n_events, CURVE_POINTS) deg: the metric's trace over each event, 0-100 % of the event."""
        trace = self.metric_trace(metric, side)
        trace = np.where(self.valid, trace, np.nan)
        pct = np.linspace(0.0, 1.0, CURVE_POINTS)
        rows = []
        for e in self.events_of(kind, side):
            if not e.end_s > e.start_s:
                continue
            i0, i1 = np.searchsorted(self.time_s, [e.start_s, e.end_s])
            i1 = min(i1 + 1, len(self.time_s))
            if i1 - i0 < 3:
                continue
            tt, vv = self.time_s[i0:i1], trace[i0:i1]
            if np.isnan(vv).mean() > 0.2:
                continue
            ok = np.isfinite(vv)
            rows.append(np.interp(e.start_s + pct * (e.end_s - e.start_s), tt[ok], vv[ok]))
        return np.array(rows).reshape(-1, CURVE_POINTS)

    @property
    def label(self) -> str:
        day = (self.date or "")[:10]
        return f"{self.name} ({day})" if day else self.name


#: an event's value of a registered metric (``hipmon.metric_registry.event_value``)
metric_value = reg.event_value


def _protocol(metadata: dict, events: list) -> str:
    from hipmon.protocols import infer_protocol

    known = infer_protocol(metadata, events)
    if known is not None:
        return known
    for key in ("protocol", "kind"):
        if isinstance(metadata.get(key), str):
            return metadata[key]
    emu = metadata.get("emulation") or {}
    if isinstance(emu.get("kind"), str):
        return emu["kind"]
    kinds = {e.kind for e in events}
    for k, p in (("landing", "jump"), ("rep", "squat"), ("hold", "stance")):
        if k in kinds:
            return p
    return "run" if any(e.extra.get("flight_before_s", 0) for e in events) else ("walk" if events else "unknown")


def _task_kinds(summary: dict) -> tuple[str, ...]:
    present = list(summary.get("kinds", {}))
    task = tuple(k for k in TASK_KINDS if k in present)
    if task:
        return task
    return ("stance",) if "stance" in present else tuple(present)


def _sensors(reader: Any, metadata: dict, result: SessionResult) -> list[dict]:
    summ = metadata.get("sensors_summary") or {}
    out = []
    vs = result.frames.valid_sensor
    for sid, spec in reader.sensors.items():
        s = summ.get(sid, {})
        ok = vs.get(spec.placement)
        out.append({
            "placement": spec.placement, "sensor_id": sid, "profile": spec.profile,
            "rate_hz": spec.rate_hz, "samples": s.get("samples"), "samples_lost": s.get("samples_lost"),
            "reconnects": s.get("reconnects"), "battery_pct": s.get("battery_pct"),
            "valid_pct": None if ok is None or not len(ok) else 100.0 * float(np.mean(ok)),
        })
    return out


CALIBRATION_MEANING = (
    "Every angle is zero in the standing pose the session started with, so the numbers describe "
    "this athlete relative to how they stood: compare them with the same athlete's other sessions, "
    "not with other people's. The quality (0-1) says how well the standing pose and the first steps "
    "agreed on where each sensor sits on its segment."
)


def calibration_text(cal: dict | None) -> str:
    """One plain paragraph on what the calibration means for this session's numbers."""
    if cal is None:
        return ("No calibration was found (it needs at least 2 s of quiet standing, then walking, running "
                "or landings): no angle in this session can be trusted.")
    if cal["trusted"]:
        return f"Calibration quality {cal['quality']:.2f}: trusted. " + CALIBRATION_MEANING
    return (f"Calibration quality {cal['quality']:.2f}: NOT trusted. Read the reasons below before any number: "
            "an angle can be offset or mirrored. " + CALIBRATION_MEANING)


def analyse_session(path: str | Path, config: Any = None, rules: Rules | None = None) -> SessionAnalysis:
    """Process and summarise one session file (a ``CommandError`` for an unreadable one)."""
    from hipmon.alerts import load_rules
    from hipmon.commands.analyze import _calibration_and_warnings, _process, summarize_result
    from hipmon.recording.reader import SessionReader

    path = str(path)
    result = _process(path, config)
    summary = summarize_result(result)
    cal, warnings = _calibration_and_warnings(path, result)
    with SessionReader(path) as reader:
        meta = reader.meta
        metadata = dict(meta.get("metadata") or {})
        sensors = _sensors(reader, metadata, result)
        warnings = list(warnings) + [str(w) for w in (reader.warnings() if callable(reader.warnings) else reader.warnings)]
    events = list(result.events or [])
    date = meta.get("created_utc")
    try:
        date = datetime.fromisoformat(str(date)).strftime("%Y-%m-%d %H:%M UTC") if date else None
    except ValueError:
        pass
    frames = result.frames
    time_s = np.asarray(frames.time_s, dtype=float)
    angles = np.asarray(frames.angles_deg, dtype=float).reshape(len(time_s), len(ANGLE_COLUMNS))
    valid = np.asarray(frames.valid, dtype=bool)
    if result.events_error:
        warnings.append(f"events stopped: {result.events_error}")
    return SessionAnalysis(
        path=path, name=Path(path).stem, athlete=metadata.get("athlete"), date=date,
        protocol=_protocol(metadata, events), source=str(metadata.get("source") or ("csv-import" if metadata.get("imports") else "recording")),
        duration_s=float(summary.get("duration_s") or 0.0), sensors=sensors, calibration=cal,
        warnings=warnings, summary=summary, kinds=_task_kinds(summary), events=events,
        alerts=list(result.alerts or []), time_s=time_s, angles_deg=angles, valid=valid,
        rules=rules if rules is not None else load_rules(),
        protocol_side=metadata.get("protocol_side") if isinstance(metadata.get("protocol_side"), str) else None,
        protocol_stored=isinstance(metadata.get("protocol"), str),
    )


def session_order_key(a: SessionAnalysis) -> tuple:
    """Sort key: the recording date, then the file name (sessions without a date last)."""
    return (a.date is None, a.date or "", a.name)


__all__ = ["SessionAnalysis", "analyse_session", "metric_value", "REPORT_METRICS", "SIDES", "calibration_text",
           "session_order_key", "KIND_NAMES", "PROTOCOL_NAMES"]
