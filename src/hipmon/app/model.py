"""The declared seams of the app: what the dashboard reads, and what feeds it. No Qt here.

Two protocols (``typing.Protocol``, ``runtime_checkable``):

- ``DashboardModel``: what the window's panels read, ~30×/s on the GUI thread. Live:
  ``hipmon.buffers.LiveState`` (ring buffers the runner thread writes); replay:
  ``hipmon.app.replay.ReplayModel`` (a whole recording and a playhead). A model that can
  move its clock (replay) is also ``Seekable``.
- ``Source``: what ``hipmon.app.session.SessionRunner`` drains into a ``LiveState`` on its
  worker thread. ``hipmon.app.chain.ChainSource`` (emulated or real sensors → BLE →
  ``hipmon.pipeline``) and ``hipmon.app.feeds.SimulatedFeed`` (given angles and events,
  no sensors). A source hands out ``SourceUpdate``\\ s (``hipmon.pipeline.Update`` or
  ``hipmon.app.feeds.FeedUpdate``).

And the judgements the panels display but do not make (no physics, no alert signs in the
GUI): ``bands_by_column`` (alert limits as bands on the angle traces), ``metric_bars`` (the
per-stride panels: values, alerted strides, each side's metric limit, via
``hipmon.metric_registry``), ``AlertTracker`` (new alerts since the last look, a replay's
seek, which alert the banner holds), ``out_of_band`` (which parts of the frontal figure are
beyond their bands), ``link_level`` (a sensor's sample loss as ok/warn/bad), ``obliquity_words``
and ``Coverage`` (what a session's placements can measure, ``hipmon.pipeline.measurable``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from hipmon import metric_registry
from hipmon.calibration import CalibrationConfig
from hipmon.buffers import CalibrationStatus, Limit, SessionInfo
from hipmon.types import PLACEMENTS, Alert, Event, SensorStatus

#: (low, high) degrees per ANGLES column; None: no limit on that side
Bands = dict[str, tuple[float | None, float | None]]

# ------------------------------------------------------------------ what a source hands the runner


@runtime_checkable
class AngleFrames(Protocol):
    """Angle frames on the session grid (``hipmon.types.Frames``; a feed's have no segment signals)."""

    time_s: np.ndarray  # (N,) session time, s
    angles_deg: np.ndarray  # (N, 9) ANGLE_COLUMNS order, degrees
    valid: np.ndarray  # (N,) bool: every sensor had data
    valid_sensor: dict[str, np.ndarray]  # placement -> (N,) bool (may be empty)


@runtime_checkable
class SourceUpdate(Protocol):
    """What one ``Source.read`` produced (``hipmon.pipeline.Update``, ``hipmon.app.feeds.FeedUpdate``)."""

    frames: AngleFrames | None
    events: list[Event]
    alerts: list[Alert]
    calibration: Any  # a new hipmon.calibration result, or None
    backfill: AngleFrames | None  # earlier frames, now with angles (after a calibration)


@runtime_checkable
class Source(Protocol):
    """A session's data, read on the runner thread (never the GUI's).

    ``read`` returns what is due now (or None after waiting up to ``timeout`` s); ``finish``
    returns, at the end, what is still queued and the pipeline's flush (before the recording
    closes). ``finished`` turns True when the source has no more data (an emulated session's
    end). Recording: ``can_record`` says whether ``start_recording``/``stop_recording``/
    ``add_marker`` write a session file (a truth feed has no raw data to record).
    """

    label: str
    placements: tuple[str, ...]
    can_record: bool

    @property
    def finished(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def read(self, timeout: float = 0.02) -> SourceUpdate | None: ...

    def finish(self) -> list[SourceUpdate]: ...

    def session_time(self) -> float: ...

    def sensor_status(self) -> list[SensorStatus]: ...

    def calibration_status(self) -> CalibrationStatus: ...

    def limits(self) -> list[Limit]: ...

    def pipeline_lag_ms(self) -> float | None: ...

    def start_recording(self, path: str, info: SessionInfo | None = None) -> None: ...

    def stop_recording(self) -> None: ...

    def add_marker(self, time_s: float, label: str, condition: str = "") -> None: ...


# ------------------------------------------------------------------ what the dashboard reads


@runtime_checkable
class DashboardModel(Protocol):
    """What the panels read (GUI thread, ~30×/s; every read returns quickly and copies).

    Session clock: ``now_s`` (live: the newest frame; replay: the playhead), advanced by
    ``tick`` (replay: wall time × speed; live: nothing). ``lookahead_s``: how far past
    ``now_s`` the traces show (replay 2 s, live 0). ``audible``: alerts may beep.
    ``placements``: the sensors of the session (``PLACEMENTS`` order).
    """

    info: SessionInfo
    placements: tuple[str, ...]
    lookahead_s: float
    audible: bool

    def tick(self) -> None: ...

    def now_s(self) -> float | None: ...

    def angles_window(self, seconds: float, end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def current_angles(self) -> np.ndarray | None: ...

    def events(self, kind: str | None = None, side: str | None = None, last: int | None = None) -> list[Event]: ...

    def alerts(self) -> list[Alert]:
        """The alerts up to the clock, oldest first (their text: ``hipmon.buffers.alert_message``)."""
        ...

    def alerts_since(self, since_seq: int = 0) -> list[tuple[int, Alert]]:
        """``(seq, alert)`` of the alerts after ``since_seq`` up to the clock; the session's n-th alert has seq n."""
        ...

    def take_alerts_reset(self) -> bool:
        """True once after the alert history was rewritten (a replay's seek): readers start over."""
        ...

    def sensors(self) -> list[SensorStatus]: ...

    def calibration(self) -> CalibrationStatus: ...

    def limits(self) -> tuple[Limit, ...]: ...

    def markers(self) -> list[tuple[float, str]]: ...

    def recording(self) -> str | None: ...

    def message(self) -> str: ...

    def lag_ms(self) -> float | None: ...


@runtime_checkable
class Seekable(Protocol):
    """A model whose clock can be moved (replay): the alert log's entries jump there."""

    def seek(self, t: float) -> None: ...


# ------------------------------------------------------------------ judgements the panels display


def bands_by_column(limits: Iterable[Limit]) -> Bands:
    """The alert limits as one band per ANGLES column: the tightest low and high of all rules."""
    out: Bands = {}
    for lim in limits:
        lo, hi = out.get(lim.column, (None, None))
        if lim.low is not None:
            lo = lim.low if lo is None else max(lo, lim.low)
        if lim.high is not None:
            hi = lim.high if hi is None else min(hi, lim.high)
        out[lim.column] = (lo, hi)
    return out


def out_of_band(angles_deg: Mapping[str, float], bands: Bands) -> dict[str, bool]:
    """Per column of ``angles_deg`` (name -> degrees): beyond its band (NaN: not beyond)."""
    out = {}
    for col, v in angles_deg.items():
        lo, hi = bands.get(col, (None, None))
        out[col] = math.isfinite(v) and ((hi is not None and v > hi) or (lo is not None and v < lo))
    return out


def obliquity_words(obliquity_deg: float, level_deg: float = 0.5) -> str:
    """Which side of the pelvis is low, in words (DESIGN section 2: obliquity > 0 = right side up)."""
    if obliquity_deg > level_deg:
        return "L side low"
    if obliquity_deg < -level_deg:
        return "R side low"
    return "level"


def link_level(loss: float | None) -> str:
    """A sensor's sample loss as ``"ok"`` (≤ 1 %), ``"warn"`` (≤ 5 %) or ``"bad"``; ``""`` when not reported."""
    if loss is None:
        return ""
    return "bad" if loss > 0.05 else "warn" if loss > 0.01 else "ok"


STRIDE_KINDS = ("stance", "landing", "rep")


@dataclass(frozen=True)
class SideBars:
    """One side's bars in a per-stride panel: the newest ``n`` strides, oldest first."""

    slots: np.ndarray  # (k,) slot index, n - k … n - 1 (n - 1 = the last stride)
    values: np.ndarray  # (k,) metric, degrees (NaN → 0: no bar)
    alerted: np.ndarray  # (k,) bool: an alert was active on that stride
    limit: float | None  # the metric limit of that side now (degrees), None: no rule


@dataclass(frozen=True)
class MetricBars:
    """A per-stride panel's data: ``metric`` per side and the largest recent value (for the axis)."""

    metric: str
    sides: dict[str, SideBars]
    recent_max: float


def metric_bars(events: Sequence[Event], alerts: Sequence[Alert], bands: Bands, n: int = 20,
                metrics: Sequence[str] = metric_registry.PANEL_METRICS) -> list[MetricBars]:
    """The per-stride panels from the model's events, alerts and bands (``hipmon.metric_registry``
    says each metric's trace, sign and side: a left stance's pelvic-drop limit is the obliquity
    band's low edge, negated)."""
    strides = [e for e in events if e.kind in STRIDE_KINDS]
    alerted_ids = {id(a.event) for a in alerts if a.event is not None}
    out = []
    for name in metrics:
        m = metric_registry.get(name)
        sides = {}
        for side in ("left", "right"):
            evs = [e for e in strides if e.side == side][-n:]
            vals = np.array([getattr(e, name) for e in evs], dtype=float)  # a registered Event field
            lo, hi = bands.get(m.trace_of(side), (None, None))
            sides[side] = SideBars(
                slots=np.arange(n - len(evs), n), values=np.nan_to_num(vals, nan=0.0),
                alerted=np.array([bool(e.alert) or id(e) in alerted_ids for e in evs], dtype=bool),
                limit=metric_registry.limit_from_band(name, side, lo, hi))
        recent = np.array([getattr(e, name) for e in strides[-2 * n:]], dtype=float)
        recent = recent[np.isfinite(recent)]
        out.append(MetricBars(name, sides, float(recent.max()) if recent.size else 0.0))
    return out


#: a calibration of at least this quality is trusted (``hipmon.calibration.CalibrationConfig``)
TRUSTED_QUALITY = CalibrationConfig().trusted_quality


def idle_banner(calibration: Any, hips_measured: bool) -> tuple[str, bool]:
    """The banner's text when no alert is held, and whether it may say "within limits".

    Only a trusted calibration lets it: before one (or with one of low quality) no limit can
    be judged, and a green "No alert" would say the athlete is fine when nothing was measured."""
    if calibration is None or calibration.stage != "done":
        return "No alerts yet — not calibrated: stand still 3 s, then walk or run 10 steps", False
    if calibration.quality is not None and calibration.quality < TRUSTED_QUALITY:
        return (f"No alerts — calibration not trusted (quality {calibration.quality:.2f}): "
                "recalibrate before reading limits"), False
    if hips_measured:
        return "No alert — pelvis and knees within limits", True
    return "No alert — pelvis within limits (one sensor on the sacrum: no hip or knee alerts)", True


def rule_active(model: DashboardModel, alert: Alert) -> bool:
    """The alert's rule is still active on its side: that side's latest stride carries it (``Event.alert``)."""
    evs = [e for e in model.events(side=alert.side, last=4) if e.kind in STRIDE_KINDS]
    return bool(evs) and evs[-1].alert == alert.rule


@dataclass
class AlertDelta:
    """What changed since the last ``AlertTracker.poll``."""

    new: list[Alert]  # newest last
    reset: bool  # the history was rewritten (a replay's seek): ``new`` is all of it, no cue
    banner: Alert | None  # the alert the banner shows now (None: no alert active)


@dataclass
class AlertTracker:
    """Reads a model's alerts incrementally and decides what the banner holds.

    The newest alert holds the banner for ``hold_s`` of session time, then for as long as its
    rule is active on that side; after that an older alert whose rule is still active takes it
    (the engine labels a stride with its first active rule only), else the banner clears.
    """

    hold_s: float = 4.0
    last_seq: int = 0
    banner: Alert | None = None
    _lookback: int = field(default=50, repr=False)

    def poll(self, model: DashboardModel, now: float | None) -> AlertDelta:
        reset = model.take_alerts_reset()
        if reset:  # everything up to the new clock, read again from the start
            self.banner = None
            numbered = model.alerts_since(0)
            self.last_seq = max((q for q, _ in numbered), default=0)
        else:
            numbered = model.alerts_since(self.last_seq)
            self.last_seq = max([self.last_seq] + [q for q, _ in numbered])
        new = [a for _, a in numbered]
        if new:
            self.banner = new[-1]
        a = self.banner
        if a is not None and now is not None and (now - a.time_s) > self.hold_s and not rule_active(model, a):
            self.banner = next((b for b in reversed(model.alerts()[-self._lookback:]) if rule_active(model, b)), None)
        return AlertDelta(new, reset, self.banner)


@dataclass(frozen=True)
class Coverage:
    """What a session's placements can measure (``hipmon.pipeline.measurable``), for the panels' notes."""

    placements: tuple[str, ...]
    not_measurable: dict[str, str]

    @classmethod
    def of(cls, placements: Iterable[str] | None) -> "Coverage":
        from hipmon.pipeline import measurable  # noqa: PLC0415  (a table of words, no kinematics)

        have = set(placements or PLACEMENTS)
        ordered = tuple(p for p in PLACEMENTS if p in have)
        return cls(ordered, dict(measurable(ordered)["not_measurable"]))

    @property
    def hips_measured(self) -> bool:
        return "hip_adduction" not in self.not_measurable

    def why_not(self, quantity: str) -> str | None:
        """Why ``quantity`` (an angle name or a metric quantity) is not measured, or None."""
        return self.not_measurable.get(quantity)

    def sensors_text(self) -> str:
        if self.placements == ("pelvis",):
            return "one sensor, on the sacrum"
        return ", ".join(p.replace("_", " ") for p in self.placements)


# ------------------------------------------------------------------ test protocols (hipmon.protocols)

#: seconds of angles the protocol result reads (a stance hold's drift needs the whole hold, up to 60 s; the live
#: ring buffer is sized for it in ``hipmon.app.main.build_live``)
PROTOCOL_WINDOW_S = 75.0


@dataclass
class ProtocolChoice:
    """The protocol and side the coach picked (None: a free session); the picker writes it, the prompt,
    the result panel and the Record button read it."""

    name: str | None = None
    side: str | None = None

    def protocol(self) -> Any:
        from hipmon.protocols import get_protocol  # noqa: PLC0415

        return None if not self.name else get_protocol(self.name)

    def metadata(self) -> dict:
        """What a recording stores: ``protocol`` and ``protocol_side``."""
        if not self.name:
            return {}
        return {"protocol": self.name, **({"protocol_side": self.side} if self.side else {})}


def protocol_options() -> list[tuple[str, str | None, bool]]:
    """The picker's entries (label, protocol name, has a side choice), from ``hipmon.protocols.PROTOCOLS``."""
    from hipmon.protocols import PROTOCOLS  # noqa: PLC0415

    return [("Free session", None, False)] + [(p.label, p.name, p.side_choice) for p in PROTOCOLS.values()]


def protocol_result(model: DashboardModel, choice: ProtocolChoice) -> Any:
    """The chosen protocol's result so far (``hipmon.protocols.ProtocolResult``), from the model's events and
    angles up to its clock; None for a free session. The physics is ``hipmon.protocols``'."""
    from hipmon.protocols import protocol_result as compute  # noqa: PLC0415
    from hipmon.types import ANGLE_COLUMNS  # noqa: PLC0415

    if not choice.name:
        return None
    t, a = model.angles_window(PROTOCOL_WINDOW_S)
    a = np.asarray(a, dtype=float).reshape(len(t), len(ANGLE_COLUMNS))
    valid = np.isfinite(a[:, ANGLE_COLUMNS.index("pelvis_obliquity_deg")])
    return compute(choice.name, model.events(), np.asarray(t, dtype=float), a, valid, side=choice.side)


def protocol_prompt(choice: ProtocolChoice, calibration_stage: str, result: Any = None) -> str:
    """What the athlete is told now: the calibration's step (stand, walk), then the protocol's task,
    then "done" once its target (holds, reps, landings) is reached. Empty for a free session."""
    p = choice.protocol()
    if p is None:
        return ""
    if calibration_stage in ("stand", "walk"):
        return p.prompt(calibration_stage, choice.side)
    if result is not None and _target_reached(p, choice, result):
        return p.prompt("done", choice.side)
    return p.prompt("task", choice.side)


def _target_reached(p: Any, choice: ProtocolChoice, result: Any) -> bool:
    sides = [choice.side] if choice.side else ["left", "right"]
    t = p.target
    if "reps" in t:
        return all(result.sides.get(s, {}).get("n", 0) >= t["reps"] for s in sides)
    if "hold_s" in t:
        return all(result.sides.get(s, {}).get("longest_hold_s", 0.0) >= t["hold_s"] for s in sides)
    if "landings" in t:
        return len(result.items) >= t["landings"]
    return False


__all__ = [
    "AlertDelta", "AlertTracker", "AngleFrames", "Bands", "Coverage", "DashboardModel", "MetricBars",
    "STRIDE_KINDS", "Seekable", "SideBars", "Source", "SourceUpdate", "bands_by_column", "link_level", "metric_bars",
    "obliquity_words", "out_of_band", "rule_active", "ProtocolChoice", "protocol_options", "protocol_result",
    "protocol_prompt", "PROTOCOL_WINDOW_S",
]
