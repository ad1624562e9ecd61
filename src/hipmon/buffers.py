"""Live state the dashboard reads: ring buffers sized in seconds, thread-safe.

The pipeline's runner thread *writes* here (angles, events, alerts, sensor and
calibration status); the Qt GUI *reads* on a timer (about 30 Hz) and never
blocks on BLE or disk. Every structure is bounded, so memory stays flat over a
session of any length:

- ``RingBuffer``: a fixed-capacity ring of timestamped rows, capacity =
  ``seconds × rate_hz``; the oldest rows are overwritten.
- ``LiveState``: one ``RingBuffer`` of the nine angles (``ANGLE_COLUMNS`` order,
  degrees, NaN where the pipeline marked the frame invalid, so traces break at
  gaps instead of drawing a straight line across them), bounded deques of events
  and alerts (``hipmon.types.Alert``; each alert and event gets a running sequence
  number, its position in the session, so a reader can ask for "what is new since
  I last looked"), sensor status (``hipmon.types.SensorStatus``), calibration
  status, alert limits (for the bands), markers, recording state and names.

Readers get copies (numpy arrays, tuples, dicts) taken under the lock; writers
never wait for a reader longer than one copy.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from hipmon.metric_registry import short_name
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS, Alert, Event, SensorStatus

#: Index of each angle column in the (N, 9) arrays.
COL = {name: i for i, name in enumerate(ANGLE_COLUMNS)}


class RingBuffer:
    """Timestamped rows in a fixed-capacity ring sized in seconds.

    ``capacity = ceil(seconds × rate_hz)`` rows of ``n_channels`` float64 values
    plus their times (s). ``push`` appends in order and overwrites the oldest
    rows; ``get`` returns copies in chronological order. Thread-safe (one lock;
    a push or a get costs one or two ``np.copyto`` of at most ``capacity`` rows).
    """

    def __init__(self, seconds: float, rate_hz: float, n_channels: int):
        if seconds <= 0 or rate_hz <= 0 or n_channels <= 0:
            raise ValueError("seconds, rate_hz and n_channels must be positive")
        self.seconds = float(seconds)
        self.rate_hz = float(rate_hz)
        self.capacity = int(math.ceil(self.seconds * self.rate_hz))
        self.n_channels = int(n_channels)
        self._t = np.full(self.capacity, np.nan)
        self._x = np.full((self.capacity, self.n_channels), np.nan)
        self._head = 0  # next write index
        self._count = 0
        self._n_pushed = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    @property
    def n_pushed(self) -> int:
        """Rows pushed since creation, including those overwritten."""
        return self._n_pushed

    def push(self, time_s: np.ndarray, data: np.ndarray) -> None:
        """Append rows: ``time_s`` (N,) s and ``data`` (N, n_channels)."""
        t = np.asarray(time_s, dtype=float).reshape(-1)
        x = np.asarray(data, dtype=float).reshape(t.shape[0], self.n_channels)
        n = t.shape[0]
        if n == 0:
            return
        with self._lock:
            self._n_pushed += n
            if n >= self.capacity:  # only the newest capacity rows survive
                t, x = t[-self.capacity :], x[-self.capacity :]
                self._t[:] = t
                self._x[:] = x
                self._head = 0
                self._count = self.capacity
                return
            first = min(n, self.capacity - self._head)
            self._t[self._head : self._head + first] = t[:first]
            self._x[self._head : self._head + first] = x[:first]
            rest = n - first
            if rest:
                self._t[:rest] = t[first:]
                self._x[:rest] = x[first:]
            self._head = (self._head + n) % self.capacity
            self._count = min(self.capacity, self._count + n)

    def overwrite(self, time_s: np.ndarray, data: np.ndarray) -> int:
        """Replace the rows held at exactly these times (s) with ``data`` (N, C); returns how many.

        For rows computed later than they were first pushed (the calibration walk's angles,
        filled in once the calibration exists); rows no longer held are left out."""
        t = np.asarray(time_s, dtype=float).reshape(-1)
        x = np.asarray(data, dtype=float).reshape(t.shape[0], self.n_channels)
        with self._lock:
            held = self._t[: self._count] if self._count < self.capacity else self._t
            order = np.argsort(held, kind="stable")
            pos = np.searchsorted(held[order], t)
            pos = np.clip(pos, 0, max(held.size - 1, 0))
            if held.size == 0:
                return 0
            idx = order[pos]
            hit = np.isclose(held[idx], t, rtol=0.0, atol=1e-9)
            self._x[idx[hit]] = x[hit]
            return int(hit.sum())

    def _ordered(self) -> tuple[np.ndarray, np.ndarray]:
        # caller holds the lock
        if self._count < self.capacity:
            return self._t[: self._count].copy(), self._x[: self._count].copy()
        idx = np.r_[self._head : self.capacity, 0 : self._head]
        return self._t[idx], self._x[idx]

    def get(self, seconds: float | None = None, end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows in chronological order: ``(time_s (N,), data (N, C))``, copies.

        ``seconds``: only the last ``seconds`` before ``end_s`` (default: the
        newest row's time); ``None`` returns everything held.
        """
        with self._lock:
            t, x = self._ordered()
        if t.size == 0 or seconds is None and end_s is None:
            return t, x
        end = t[-1] if end_s is None else end_s
        lo = np.searchsorted(t, end - seconds, side="left") if seconds is not None else 0
        hi = np.searchsorted(t, end, side="right")
        return t[lo:hi], x[lo:hi]

    def latest(self) -> tuple[float, np.ndarray] | None:
        """The newest row ``(time_s, data (C,))``, or None when empty."""
        with self._lock:
            if self._count == 0:
                return None
            i = (self._head - 1) % self.capacity
            return float(self._t[i]), self._x[i].copy()


@dataclass(frozen=True)
class CalibrationStatus:
    """Calibration guidance: stage ``stand`` → ``walk`` → ``done`` (or ``none``: not started / not needed)."""

    stage: str = "none"
    progress: float = 0.0  # 0..1 within the stage
    quality: float | None = None  # 0..1 once calibrated
    message: str = ""


@dataclass(frozen=True)
class Limit:
    """An alert band on one trace: values beyond ``low``/``high`` (degrees) are out of bounds."""

    column: str  # an ANGLE_COLUMNS name
    low: float | None = None
    high: float | None = None
    rule: str = ""


@dataclass
class SessionInfo:
    athlete: str = ""
    session: str = ""
    source: str = ""  # e.g. "demo (emulated sensors)", "live", "replay FILE"


_RULE_TITLES = {"pelvic_drop": "pelvic drop", "valgus": "knee valgus"}


def describe_alert(rule: str, side: str, values: dict[str, Any]) -> str:
    """One short line a coach reads at a glance.

    ``values`` as ``hipmon.alerts.Alert.values``: ``<metric>``, ``<metric>_limit``,
    ``<metric>_baseline`` (degrees). E.g. ``LEFT stance — pelvic drop: drop 9.1° > 7.0° (right side drops)``.
    """
    parts = []
    for k, v in values.items():
        # the measured value only: limits, baselines, their uncertainty and offsets are the rule's workings
        if k.endswith(("_limit", "_baseline", "_baseline_se", "_offset")) or k in ("k", "n") \
                or not isinstance(v, (int, float)):
            continue
        if not math.isfinite(v):
            continue
        name = short_name(k)
        lim = values.get(f"{k}_limit")
        text = f"{name} {v:.1f}°"
        if isinstance(lim, (int, float)) and math.isfinite(lim):
            text += f" > {lim:.1f}°"
        parts.append(text)
    text = f"{side.upper()} stance — {_RULE_TITLES.get(rule, rule.replace('_', ' '))}"
    if parts:
        text += ": " + ", ".join(parts)
    if rule == "pelvic_drop" and side in ("left", "right"):
        text += f" ({'right' if side == 'left' else 'left'} side drops)"
    return text


def alert_message(alert: Alert) -> str:
    """The one line the dashboard and the terminal show for an alert (``describe_alert`` of its rule, side, values)."""
    return describe_alert(str(alert.rule), str(alert.side), dict(alert.values or {}))


class LiveState:
    """Everything the dashboard shows, written by the runner thread, read by the GUI.

    Sized in seconds: ``seconds`` of angles at ``rate_hz`` (frames faster than
    ``rate_hz`` just cover fewer seconds), ``max_events`` events and
    ``max_alerts`` alerts (the oldest drop off).

    The live ``hipmon.app.model.DashboardModel``: ``placements`` are the source's sensors,
    the clock is the newest frame (``tick`` does nothing, nothing after ``now_s`` is shown).
    """

    lookahead_s = 0.0  # the traces end at now
    audible = True

    def __init__(
        self,
        seconds: float = 30.0,
        rate_hz: float = 208.0,
        max_events: int = 400,
        max_alerts: int = 500,
        max_markers: int = 1000,
        placements: Iterable[str] = PLACEMENTS,
    ):
        #: the placements the session has sensors for (``PLACEMENTS`` order)
        self.placements: tuple[str, ...] = tuple(p for p in PLACEMENTS if p in set(placements))
        self.angles = RingBuffer(seconds, rate_hz, len(ANGLE_COLUMNS))
        self._lock = threading.Lock()
        self._events: deque[tuple[int, Event]] = deque(maxlen=max_events)
        self._event_seq = 0
        self._alerts: deque[Alert] = deque(maxlen=max_alerts)
        self._alert_seq = 0
        self._markers: deque[tuple[float, str]] = deque(maxlen=max_markers)
        self._sensors: dict[str, SensorStatus] = {}
        self._calibration = CalibrationStatus()
        self._limits: tuple[Limit, ...] = ()
        self.info = SessionInfo()
        self._recording: str | None = None
        self._message = ""
        self._lag_ms: float | None = None
        self._stats: dict[str, float] = {"frames": 0, "updates": 0}

    # ------------------------------------------------------------ writer side (runner thread)

    def push_frames(self, time_s: np.ndarray, angles_deg: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Append angle frames; rows with ``valid == False`` are stored as NaN (a gap in the trace)."""
        t = np.asarray(time_s, dtype=float)
        if t.size == 0:
            return
        a = np.array(angles_deg, dtype=float, copy=True)
        if valid is not None:
            a[~np.asarray(valid, dtype=bool)] = np.nan
        self.angles.push(t, a)
        with self._lock:
            self._stats["frames"] += t.size

    def push_events(self, events: Iterable[Event]) -> None:
        with self._lock:
            for ev in events:
                self._event_seq += 1
                self._events.append((self._event_seq, ev))

    def push_alerts(self, alerts: Iterable[Alert]) -> list[tuple[int, Alert]]:
        """Store alerts (``hipmon.types.Alert``); returns them with their sequence numbers."""
        out = []
        with self._lock:
            for a in alerts:
                self._alert_seq += 1
                self._alerts.append(a)
                out.append((self._alert_seq, a))
        return out

    def push_update(self, update: Any) -> None:
        """Store a source's update (``hipmon.app.model.SourceUpdate``: frames, events, alerts, backfill)."""
        back = update.backfill
        if back is not None and len(back.time_s):
            a = np.array(back.angles_deg, dtype=float, copy=True)
            a[~np.asarray(back.valid, dtype=bool)] = np.nan
            self.angles.overwrite(back.time_s, a)
        frames = update.frames
        if frames is not None and len(frames.time_s):
            self.push_frames(frames.time_s, frames.angles_deg, frames.valid)
        self.push_events(update.events or ())
        self.push_alerts(update.alerts or ())
        with self._lock:
            self._stats["updates"] += 1

    def set_sensors(self, statuses: Iterable[SensorStatus]) -> None:
        with self._lock:
            self._sensors = {s.sensor_id: s for s in statuses}

    def set_calibration(self, status: CalibrationStatus) -> None:
        with self._lock:
            self._calibration = status

    def set_limits(self, limits: Iterable[Limit]) -> None:
        with self._lock:
            self._limits = tuple(limits)

    def add_marker(self, time_s: float, label: str = "") -> None:
        with self._lock:
            self._markers.append((float(time_s), label))

    def set_recording(self, path: str | None) -> None:
        with self._lock:
            self._recording = path

    def set_lag_ms(self, lag_ms: float | None) -> None:
        """Arrival of the newest sample → its angles in this buffer (ms, a recent median; None = not measured)."""
        with self._lock:
            self._lag_ms = lag_ms

    def set_message(self, text: str) -> None:
        """A status line (source errors, 'sensor lost', ...)."""
        with self._lock:
            self._message = text

    # ------------------------------------------------------------ reader side (GUI thread)

    def tick(self) -> None:
        """The live clock is the newest frame: nothing to advance."""

    def take_alerts_reset(self) -> bool:
        """Live alerts are only ever appended."""
        return False

    def now_s(self) -> float | None:
        latest = self.angles.latest()
        return None if latest is None else latest[0]

    def angles_window(self, seconds: float, end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.angles.get(seconds, end_s)

    def current_angles(self) -> np.ndarray | None:
        latest = self.angles.latest()
        return None if latest is None else latest[1]

    def events(self, kind: str | None = None, side: str | None = None, last: int | None = None) -> list[Event]:
        with self._lock:
            evs = [e for _, e in self._events]
        if kind is not None:
            evs = [e for e in evs if e.kind == kind]
        if side is not None:
            evs = [e for e in evs if e.side == side]
        return evs[-last:] if last else evs

    def events_since(self, since_seq: int = 0) -> list[tuple[int, Event]]:
        """``(seq, event)`` pairs newer than ``since_seq`` (terminal output, loggers)."""
        with self._lock:
            return [(q, e) for q, e in self._events if q > since_seq]

    def alerts(self) -> list[Alert]:
        """The alerts held, oldest first."""
        with self._lock:
            return list(self._alerts)

    def alerts_since(self, since_seq: int = 0) -> list[tuple[int, Alert]]:
        """``(seq, alert)`` pairs newer than ``since_seq``; the n-th alert of the session has seq n."""
        with self._lock:
            first = self._alert_seq - len(self._alerts) + 1  # seq of the oldest alert held
            skip = max(0, since_seq - first + 1)
            return [(first + i, a) for i, a in enumerate(self._alerts) if i >= skip]

    @property
    def alert_seq(self) -> int:
        return self._alert_seq

    @property
    def event_seq(self) -> int:
        return self._event_seq

    def sensors(self) -> list[SensorStatus]:
        with self._lock:
            return list(self._sensors.values())

    def calibration(self) -> CalibrationStatus:
        with self._lock:
            return self._calibration

    def limits(self) -> tuple[Limit, ...]:
        with self._lock:
            return self._limits

    def markers(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self._markers)

    def recording(self) -> str | None:
        with self._lock:
            return self._recording

    def message(self) -> str:
        with self._lock:
            return self._message

    def lag_ms(self) -> float | None:
        with self._lock:
            return self._lag_ms

    def stats(self) -> dict[str, float]:
        with self._lock:
            return dict(self._stats)


__all__ = [
    "COL",
    "RingBuffer",
    "LiveState",
    "CalibrationStatus",
    "Limit",
    "SessionInfo",
    "alert_message",
    "describe_alert",
]
