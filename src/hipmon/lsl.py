"""Lab Streaming Layer outlets: hipmon's angles and events next to EMG, EEG and motion capture.

Two outlets per session (``pylsl``):

- ``<name> angles``: type ``MoCap``, the nine angles of ``hipmon.types.ANGLE_COLUMNS`` in that
  order, float32 degrees, nominal rate = the pipeline's grid rate; the stream description holds
  each channel's ``label``, ``unit`` (``degrees``), ``type`` (``Angle``), the sign convention
  (``hipmon.metric_registry``/DESIGN.md section 2) and ``hipmon`` session information. A grid
  point without angles (before calibration, a lost sensor) is sent as NaN so every grid point
  arrives, spaced at the grid rate.
- ``<name> markers``: type ``Markers``, one JSON string per event, alert and marker
  (``{"type": "event"|"alert"|"marker", "time_s": ..., ...}``), stamped at its session time.

Clock: session time ``t`` (s) is sent as LSL time ``t + offset``. Live, ``offset`` maps the
session's monotonic origin onto ``pylsl.local_clock()`` (measured once at the start: LSL's clock
is the host's monotonic clock, the one the notifications are stamped with); in a replay it is
the LSL time at which the replay started, minus the first frame's session time.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, is_dataclass
from typing import Any, Iterable

import numpy as np

from hipmon.types import ANGLE_COLUMNS, Event

#: DESIGN.md section 2 signs, per angle column (the stream description carries them)
SIGNS = {
    "pelvis_tilt_deg": "+ anterior tilt",
    "pelvis_obliquity_deg": "+ right side of the pelvis up",
    "pelvis_rotation_deg": "+ right side forward (anticlockwise seen from above)",
    "hip_flexion_left_deg": "+ flexion", "hip_flexion_right_deg": "+ flexion",
    "hip_adduction_left_deg": "+ adduction", "hip_adduction_right_deg": "+ adduction",
    "hip_internal_rotation_left_deg": "+ internal rotation",
    "hip_internal_rotation_right_deg": "+ internal rotation",
}


class LslError(RuntimeError):
    """LSL is not usable here (pylsl or its liblsl missing); the message says what to install."""


def _pylsl():
    try:
        import pylsl
    except Exception as exc:  # ImportError, or liblsl not found (RuntimeError)
        raise LslError(f"Lab Streaming Layer is not available ({exc}); install it: pip install pylsl") from None
    return pylsl


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (np.floating, np.integer)):
        return _json_value(v.item())
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    return v


def event_json(ev: Event) -> str:
    """One event as the marker stream's JSON string."""
    d = asdict(ev) if is_dataclass(ev) else dict(ev)
    d = {"type": "event", "time_s": float(ev.start_s), **d}
    return json.dumps(_json_value(d), sort_keys=True)


def alert_json(alert: Any) -> str:
    """One alert (``hipmon.types.Alert``) as the marker stream's JSON string."""
    d = asdict(alert) if is_dataclass(alert) else dict(alert)
    return json.dumps(_json_value({"type": "alert", **d}), sort_keys=True)


def marker_json(time_s: float, label: str, condition: str = "") -> str:
    """A marker placed in the session as the marker stream's JSON string."""
    return json.dumps({"type": "marker", "time_s": float(time_s), "label": label, "condition": condition},
                      sort_keys=True)


class LslPublisher:
    """The two outlets of one session (see the module docstring).

    ``rate_hz``: the grid rate; ``name``: the streams' name prefix; ``source_id``: a stable id
    (the session file or the sensors) so LSL recorders can reconnect; ``offset_s``: LSL time of
    session time 0 (None: set by :meth:`start_live` or :meth:`start_replay`).
    """

    def __init__(self, rate_hz: float, name: str = "hipmon", source_id: str = "hipmon",
                 session_info: dict[str, str] | None = None) -> None:
        lsl = _pylsl()
        self._lsl = lsl
        self.rate_hz = float(rate_hz)
        info = lsl.StreamInfo(f"{name} angles", "MoCap", len(ANGLE_COLUMNS), self.rate_hz, lsl.cf_float32,
                              f"{source_id}-angles")
        desc = info.desc()
        desc.append_child_value("manufacturer", "hipmon")
        chans = desc.append_child("channels")
        for col in ANGLE_COLUMNS:
            ch = chans.append_child("channel")
            ch.append_child_value("label", col)
            ch.append_child_value("unit", "degrees")
            ch.append_child_value("type", "Angle")
            ch.append_child_value("convention", SIGNS.get(col, ""))
        sess = desc.append_child("hipmon")
        for k, v in (session_info or {}).items():
            sess.append_child_value(str(k), str(v))
        sess.append_child_value("clock", "LSL time = session time + offset (module hipmon.lsl)")
        self.angles = lsl.StreamOutlet(info, chunk_size=0, max_buffered=3600)
        minfo = lsl.StreamInfo(f"{name} markers", "Markers", 1, lsl.IRREGULAR_RATE, lsl.cf_string,
                               f"{source_id}-markers")
        self.markers = lsl.StreamOutlet(minfo, chunk_size=0, max_buffered=3600)
        self.offset_s: float | None = None
        self.samples_sent = 0
        self.markers_sent = 0

    # ------------------------------------------------------------ clock

    def start_live(self, origin_ns: int) -> None:
        """Session time 0 is host monotonic ``origin_ns``: map it onto LSL's clock."""
        now_lsl = self._lsl.local_clock()
        now_session = (time.monotonic_ns() - origin_ns) / 1e9
        self.offset_s = now_lsl - now_session

    def start_replay(self, first_time_s: float) -> None:
        """A replay starting now at session time ``first_time_s``."""
        self.offset_s = self._lsl.local_clock() - float(first_time_s)

    def wait_for_consumers(self, timeout_s: float) -> bool:
        """True once inlets are connected to both streams (or False after ``timeout_s``)."""
        end = time.monotonic() + timeout_s
        ok = bool(self.angles.wait_for_consumers(timeout_s))
        return ok and bool(self.markers.wait_for_consumers(max(0.0, end - time.monotonic())))

    # ------------------------------------------------------------ data

    def push_frames(self, time_s: np.ndarray, angles_deg: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Grid points (N,) s with their angles (N, 9) degrees; invalid rows go out as NaN."""
        if self.offset_s is None:
            raise RuntimeError("start_live or start_replay first")
        t = np.asarray(time_s, dtype=float)
        if t.size == 0:
            return
        a = np.array(angles_deg, dtype=np.float32, copy=True)
        if valid is not None:
            a[~np.asarray(valid, bool)] = np.nan
        stamps = (t + self.offset_s).tolist()
        self.angles.push_chunk(a.tolist(), stamps)
        self.samples_sent += int(t.size)

    def push_marker_string(self, time_s: float, text: str) -> None:
        if self.offset_s is None:
            raise RuntimeError("start_live or start_replay first")
        self.markers.push_sample([text], float(time_s) + self.offset_s)
        self.markers_sent += 1

    def push_events(self, events: Iterable[Event]) -> None:
        for ev in events:
            self.push_marker_string(float(ev.start_s), event_json(ev))

    def push_alerts(self, alerts: Iterable[Any]) -> None:
        for a in alerts:
            self.push_marker_string(float(a.time_s), alert_json(a))

    def push_update(self, update: Any) -> None:
        """A live pipeline update (``hipmon.app.model.SourceUpdate``): its frames, events and alerts.

        Backfilled frames (the calibration walk, given angles once calibrated) are not sent
        again: their grid points already went out (as NaN) in order."""
        f = update.frames
        if f is not None and len(f.time_s):
            self.push_frames(f.time_s, f.angles_deg, f.valid)
        self.push_events(update.events)
        self.push_alerts(update.alerts)

    def close(self) -> None:
        """Drop the outlets (inlets see the streams end)."""
        del self.angles
        del self.markers


class LiveLsl:
    """A ``hipmon.app.session.SessionRunner`` sink: every live update to LSL, and (``marker``, a
    marker sink) every marker placed live.

    The outlets open at the first update with frames (the grid rate is then known from their
    spacing, the clock offset from ``source.session_time()``)."""

    def __init__(self, source: Any, name: str = "hipmon", session_info: dict[str, str] | None = None) -> None:
        _pylsl()  # say now, before the session starts, when LSL is missing
        self.source = source
        self.name = name
        self.session_info = dict(session_info or {})
        self.publisher: LslPublisher | None = None
        self._early_markers: list[tuple[float, str]] = []  # placed before the outlets opened

    def marker(self, time_s: float, label: str, condition: str = "") -> None:
        """A marker placed live (``SessionRunner.marker_sinks``) onto the marker stream at its
        session time (held until the outlets open with the first frames)."""
        text = marker_json(time_s, label, condition)
        if self.publisher is None:
            self._early_markers.append((float(time_s), text))
        else:
            self.publisher.push_marker_string(float(time_s), text)

    def __call__(self, update: Any) -> None:
        if self.publisher is None:
            f = update.frames
            if f is None or len(f.time_s) < 2:
                return  # no event comes before the first frames (they are detected on them)
            rate = 1.0 / float(np.median(np.diff(f.time_s)))
            self.publisher = LslPublisher(round(rate, 6), self.name, self.name, self.session_info)
            self.publisher.offset_s = self.publisher._lsl.local_clock() - float(self.source.session_time())
            for t, text in self._early_markers:
                self.publisher.push_marker_string(t, text)
            self._early_markers.clear()
        self.publisher.push_update(update)


def replay_to_lsl(result: Any, publisher: LslPublisher, markers: Iterable[Any] = (), speed: float | None = 1.0,
                  chunk_s: float = 0.1) -> None:
    """A processed session (``hipmon.pipeline.SessionResult``) to LSL at ``speed`` × real time
    (None: as fast as the outlets take it), markers and events at their session times, in order."""
    f = result.frames
    t = np.asarray(f.time_s, dtype=float)
    if t.size == 0:
        return
    publisher.start_replay(float(t[0]))
    items = sorted([(float(e.start_s), event_json(e)) for e in result.events]
                   + [(float(a.time_s), alert_json(a)) for a in result.alerts]
                   + [(float(m.time_s), marker_json(m.time_s, m.label, m.condition)) for m in markers])
    start_wall = time.monotonic()
    i = j = 0
    step = max(1, int(round(chunk_s * publisher.rate_hz)))
    while i < t.size:
        k = min(t.size, i + step)
        publisher.push_frames(t[i:k], f.angles_deg[i:k], f.valid[i:k])
        while j < len(items) and items[j][0] <= t[k - 1]:
            publisher.push_marker_string(*items[j])
            j += 1
        i = k
        if speed:
            lag = (t[k - 1] - t[0]) / speed - (time.monotonic() - start_wall)
            if lag > 0:
                time.sleep(lag)
    for item in items[j:]:
        publisher.push_marker_string(*item)

