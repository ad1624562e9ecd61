"""Sources of dashboard updates that need no sensors.

A *source* (``hipmon.app.model.Source``) hands the runner thread
``Update(frames, events, alerts)`` chunks in session time. ``SimulatedFeed``
plays known angles and events (the simulator's ground truth, or the small
synthetic runner below) in real time or faster: it is the test source of the
dashboard and ``hipmon demo --source truth`` / ``hipmon live --truth``. It
computes no kinematics: the angles are given.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from hipmon.alerts import AlertEngine, load_rules
from hipmon.buffers import COL, CalibrationStatus, Limit, SessionInfo
from hipmon.metric_registry import EVENT_FIELD_METRICS, HIP_ADDUCTION, PELVIC_DROP, limit_band
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS, Alert, Event, Frames, SensorStatus

# --------------------------------------------------------------------- update containers


@dataclass
class FeedUpdate:
    """One read of a feed (``hipmon.app.model.SourceUpdate``; the fields of ``hipmon.pipeline.Update``)."""

    frames: Frames | None
    events: list[Event] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    calibration: Any = None  # a feed's angles are given: never a new calibration
    backfill: Frames | None = None


#: the alert type of the feeds and the tests (``hipmon.types.Alert``: rule, side, time_s, values, event)
SimpleAlert = Alert


# --------------------------------------------------------------------- alerting


class FixedLimitAlerts:
    """A fixed-limit alerter for tests and benchmarks (``hipmon.alerts.AlertEngine`` is the real one).

    One rule per metric with a fixed limit in degrees (no baseline, no debounce); an event
    whose peak exceeds the limit raises an alert at once, which makes alert timing exact
    in tests.
    """

    RULES = (
        ("pelvic_drop", PELVIC_DROP.name, 7.0),
        ("hip_adduction", HIP_ADDUCTION.name, 15.0),
    )

    def update(self, events: Sequence[Event]) -> list[Alert]:
        out = []
        for ev in events:
            for rule, metric, limit in self.RULES:
                v = getattr(ev, metric)  # a registered Event field
                if math.isfinite(v) and v > limit:
                    ev.alert = ev.alert or rule
                    out.append(Alert(rule, ev.side, ev.end_s, {metric: v, "limit_deg": limit}, ev))
        return out

    def limits(self) -> list[Limit]:
        """The bands of the fixed limits, one per trace column (``hipmon.metric_registry.limit_band``)."""
        return [Limit(col, low=low, high=high, rule=rule)
                for rule, metric, limit in self.RULES
                for col, low, high in (limit_band(metric, side, limit) for side in ("left", "right"))]


def make_alerter() -> AlertEngine:
    """``hipmon.alerts.AlertEngine`` with the shipped default rules."""
    return AlertEngine(load_rules(None))


def limits_of(alerter: AlertEngine | FixedLimitAlerts, kind: str = "stance") -> list[Limit]:
    """Alert bands for the traces: the alerter's current limits for events of ``kind``.

    ``hipmon.alerts.AlertEngine``: per rule, condition and side, ``limit(condition, kind, side)``
    (baseline + margin, or the absolute screening limit before a baseline) as a band on the
    metric's trace (``hipmon.metric_registry.limit_band``: a pelvic-drop limit ``L`` on a left
    stance, whose right side drops, is obliquity below ``-L``; on a right stance, above ``+L``).
    ``FixedLimitAlerts`` gives its bands itself.
    """
    if isinstance(alerter, FixedLimitAlerts):
        return alerter.limits()
    out: list[Limit] = []
    for rule in alerter.rules.rules:
        if kind not in rule.kinds:
            continue
        for cond in rule.conditions:
            for side in ("left", "right"):
                lim, _base = alerter.limit(cond, kind, side)
                if lim is None or not math.isfinite(lim):
                    continue
                band = limit_band(cond.metric, side, lim)  # rules files are checked against the registry
                if band is not None:
                    col, low, high = band
                    out.append(Limit(col, low=low, high=high, rule=rule.name))
    return out


# --------------------------------------------------------------------- synthetic runner


def synthetic_run(seconds: float = 60.0, rate_hz: float = 208.0, fatigue_after_s: float = 20.0, seed: int = 0):
    """A small runner-like truth for tests and benchmarks (fast, exact events, no simulator).

    Returns ``(time_s (N,), angles_deg (N, 9), events)``: 170 steps/min, stance
    ~40 % of each step alternating left/right; the contralateral pelvic drop,
    hip adduction and internal rotation of the stance side peak mid-stance and
    grow after ``fatigue_after_s`` (the left side more), so fixed-limit alerts
    appear within a minute. Events carry their true peaks. Not physiology: a
    shaped test signal with the sign conventions of DESIGN section 2.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    step = 60.0 / 170.0
    angles = np.zeros((n, len(ANGLE_COLUMNS)))
    fat = np.clip((t - fatigue_after_s) / 25.0, 0.0, 1.0)
    angles[:, COL["pelvis_tilt_deg"]] = 2.0 * np.sin(2 * np.pi * t / step)
    angles[:, COL["pelvis_rotation_deg"]] = 5.0 * np.sin(np.pi * t / step)
    angles[:, COL["hip_flexion_left_deg"]] = 15.0 + 25.0 * np.cos(np.pi * t / step)
    angles[:, COL["hip_flexion_right_deg"]] = 15.0 - 25.0 * np.cos(np.pi * t / step)
    events: list[Event] = []
    k = 0
    while (k + 1) * step <= seconds:
        side = "left" if k % 2 == 0 else "right"
        start, end = k * step, k * step + 0.4 * step
        i0, i1 = int(start * rate_hz), int(end * rate_hz)
        ph = np.sin(np.pi * (t[i0:i1] - start) / (end - start))
        f = fat[i0]
        gain = 1.0 if side == "right" else 1.35
        drop = (4.0 + 5.0 * f * gain) * (1 + 0.08 * rng.standard_normal())
        add = (8.0 + 8.0 * f * gain) * (1 + 0.08 * rng.standard_normal())
        ir = (3.0 + 4.0 * f * gain) * (1 + 0.1 * rng.standard_normal())
        # stance of `side`: the other side drops; obliquity + = right side up
        angles[i0:i1, COL["pelvis_obliquity_deg"]] = (drop if side == "right" else -drop) * ph
        angles[i0:i1, COL[f"hip_adduction_{side}_deg"]] = add * ph
        angles[i0:i1, COL[f"hip_internal_rotation_{side}_deg"]] = ir * ph
        other = "right" if side == "left" else "left"
        angles[i0:i1, COL[f"hip_adduction_{other}_deg"]] = -3.0 * ph
        events.append(Event("stance", side, start, end, drop, add, ir))
        k += 1
    angles += 0.15 * rng.standard_normal(angles.shape)
    return t, angles, events


# --------------------------------------------------------------------- the feed


class SimulatedFeed:
    """Plays given angles and events as a live source, ``speed`` × real time.

    - ``time_s`` (N,), ``angles_deg`` (N, 9) in ``ANGLE_COLUMNS`` order;
      ``events``: completed events, released to the runner ``event_delay_s``
      after their ``end_s`` (a causal detector's delay); each released event is
      run through the alerter (``hipmon.alerts.AlertEngine`` by default).
    - ``loop``: start again (times keep increasing) when the data run out.
    - ``speed=math.inf``: release everything as fast as the reader asks (tests, benchmarks).

    Sensor status and calibration guidance are synthesised from the clock:
    "stand still" for the first 3 s, "walk" until ``calibrated_at_s``.

    A ``hipmon.app.model.Source`` that cannot record (no raw sensor data): ``can_record``
    is False and the recording calls are refused.
    """

    can_record = False
    placements: tuple[str, ...] = PLACEMENTS  # truth angles of all three segments

    def __init__(
        self,
        time_s: np.ndarray,
        angles_deg: np.ndarray,
        events: Sequence[Event] = (),
        *,
        speed: float = 1.0,
        loop: bool = False,
        event_delay_s: float = 0.05,
        sensor_rates_hz: dict[str, float] | None = None,
        calibrated_at_s: float = 8.0,
        alerter: Any = None,
        chunk_s: float = 1.0 / 60.0,
        label: str = "simulated feed",
    ):
        self.time_s = np.asarray(time_s, dtype=float)
        self.angles_deg = np.asarray(angles_deg, dtype=float)
        self.events = sorted(events, key=lambda e: e.end_s)
        self.speed = float(speed)
        self.loop = loop
        self.event_delay_s = event_delay_s
        self.sensor_rates_hz = sensor_rates_hz or {p: 208.0 for p in PLACEMENTS}
        self.calibrated_at_s = calibrated_at_s
        self.alerter = alerter if alerter is not None else make_alerter()
        self.chunk_s = chunk_s
        self.label = label
        self._period = float(self.time_s[-1] - self.time_s[0]) + (
            float(np.median(np.diff(self.time_s))) if self.time_s.size > 1 else 0.0
        )
        self._t0_wall: float | None = None
        self._i = 0  # next frame index (within the current loop)
        self._j = 0  # next event index
        self._lap = 0
        self._session_s = float(self.time_s[0])

    @classmethod
    def from_simulation(cls, sim: Any, **kw: Any) -> "SimulatedFeed":
        """From a ``hipmon.simulate.Simulation``: its truth angles and true events."""
        kw.setdefault("sensor_rates_hz", {p: float(s.rate_hz) for p, s in sim.sensors.items()} or None)
        kw.setdefault("label", f"simulated {sim.kind} (truth)")
        return cls(sim.truth_time_s, sim.truth_angles_deg, list(sim.events), **kw)

    # -- Source protocol

    def start(self) -> None:
        self._t0_wall = time.monotonic()

    def stop(self) -> None:
        pass

    def session_time(self) -> float:
        return self._session_s

    def _target_time(self) -> float:
        if self._t0_wall is None:
            self.start()
        if math.isinf(self.speed):
            return math.inf
        return float(self.time_s[0]) + (time.monotonic() - self._t0_wall) * self.speed

    def read(self, timeout: float = 0.02) -> FeedUpdate | None:
        """The frames and events due by now (at most ``chunk_s`` × speed of frames per call when fast)."""
        target = self._target_time()
        offset = self._lap * self._period
        if math.isinf(target):
            target = self.time_s[min(self._i, len(self.time_s) - 1)] + offset + max(self.chunk_s, 0.5)
        if target - offset <= self.time_s[min(self._i, len(self.time_s) - 1)]:
            time.sleep(min(timeout, self.chunk_s))
            return None
        hi = int(np.searchsorted(self.time_s, target - offset, side="right"))
        lo = self._i
        frames = None
        if hi > lo:
            t = self.time_s[lo:hi] + offset
            frames = Frames(t, self.angles_deg[lo:hi], {}, {}, np.ones(hi - lo, bool))  # given angles: no signals
            self._session_s = float(t[-1])
        self._i = hi
        released = []
        while self._j < len(self.events) and self.events[self._j].end_s + self.event_delay_s + offset <= target:
            ev = self.events[self._j]
            if offset:
                ev = Event(
                    ev.kind, ev.side, ev.start_s + offset, ev.end_s + offset, alert="", extra=dict(ev.extra),
                    **{name: getattr(ev, name) for name in EVENT_FIELD_METRICS},
                )
            released.append(ev)
            self._j += 1
        alerts = list(self.alerter.update(released)) if released else []
        if self._i >= len(self.time_s) and self.loop:
            self._i, self._j, self._lap = 0, 0, self._lap + 1
        if frames is None and not released:
            return None
        return FeedUpdate(frames, released, alerts)

    @property
    def finished(self) -> bool:
        return not self.loop and self._i >= len(self.time_s) and self._j >= len(self.events)

    def sensor_status(self) -> list[SensorStatus]:
        """Every sensor streaming at its rate, nothing lost (the samples played so far)."""
        played_s = max(0.0, self._session_s - float(self.time_s[0]))  # laps included
        return [
            SensorStatus(p, placement=p, profile="simulated", connected=True, state="streaming",
                         rate_measured_hz=r, samples=int(played_s * r))
            for p, r in self.sensor_rates_hz.items()
        ]

    def calibration_status(self) -> CalibrationStatus:
        t = self._session_s - float(self.time_s[0])
        if self._lap or t >= self.calibrated_at_s:
            return CalibrationStatus("done", 1.0, 1.0, "calibrated (ground truth: simulated feed)")
        if t < 3.0:
            return CalibrationStatus("stand", t / 3.0, None, "stand still")
        return CalibrationStatus("walk", (t - 3.0) / max(self.calibrated_at_s - 3.0, 1e-6), None, "walk 10 steps")

    def limits(self) -> list[Limit]:
        return limits_of(self.alerter)

    def finish(self) -> list[FeedUpdate]:
        """Nothing is queued behind ``read``."""
        return []

    def pipeline_lag_ms(self) -> float | None:
        """No pipeline: not measured."""
        return None

    def start_recording(self, path: str, info: SessionInfo | None = None) -> None:
        raise RuntimeError("this source cannot record (no raw sensor data)")

    def stop_recording(self) -> None:
        pass

    def add_marker(self, time_s: float, label: str, condition: str = "") -> None:
        pass  # markers live in the LiveState; there is no file to write them to


DEMO_PRESET = "right_hip_tires"  # hipmon.simulate.PRESETS: the runner whose right glute tires within a minute


def demo_feed(seconds: float = 120.0, seed: int = 7, speed: float = 1.0, **kw: Any) -> SimulatedFeed:
    """The demo's truth feed: the simulator's fatiguing runner (``hipmon.simulate``, preset ``DEMO_PRESET``)."""
    from hipmon.simulate import simulate  # noqa: PLC0415

    sim = simulate("run", seconds, seed, preset=DEMO_PRESET)
    return SimulatedFeed.from_simulation(sim, speed=speed, **kw)
