"""The metric registry: every per-event metric hipmon computes, defined once.

A *metric* is a per-event peak in degrees (DESIGN.md sections 2 and 4): its name
(the ``Event`` field, the EVENTS.csv column, the key of ``Event.extra``, of
``hipmon analyze --json`` and of alert rules), unit, labels, sign convention,
which side's value it is, the angle trace it is the peak of and the alert band it
draws on that trace, the event kinds that carry it, and a description. Events and
metrics (``hipmon.metrics``), alert rules (``hipmon.alerts``: a rules file naming a
metric not in here is an error), ``hipmon analyze``, the exports
(``hipmon.exports``), the terminal lines and the dashboard read it; nothing else
spells a metric's name.

Per-event fields that are not metrics (times, durations, flags that the event
detectors and ``hipmon.metrics`` put in ``Event.extra``) are listed in
``EVENT_FIELDS``, so every key an event carries is known here.

Adding a metric: add a ``Metric`` to ``_METRICS`` (and, where it is computed from
the angle traces, a line in ``hipmon.metrics._side_peaks``); ``tests/test_metric_registry.py``
fails for any key an event carries that is not registered.

Pure data and lookups: no Qt, no numpy work; imports only ``hipmon.types``.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from hipmon.types import ANGLE_COLUMNS, EVENT_COLUMNS, EVENT_KINDS, SIDES


@dataclass(frozen=True)
class Metric:
    """One per-event metric.

    - ``name``: the one spelling (Event field / ``Event.extra`` key, EVENTS.csv column,
      analyze JSON key, rules-file ``metric``); ends in ``_<unit>``.
    - ``unit``: ``"deg"`` (degrees at the edges, DESIGN section 2).
    - ``label``: the analyze table's row label; ``short``: the terminal/alert-line name;
      ``title``: the dashboard per-stride panel title (None: no panel).
    - ``sign``: the sign convention, as DESIGN section 2 states it.
    - ``side``: whose value it is for an event of side S (``"stance"``: the stance
      side's hip; ``"contralateral"``: the opposite, swing side of the pelvis).
    - ``traces``: the ANGLES.csv column(s) it is the peak of, ``{side}`` standing for
      left/right; a composite sums them sample by sample.
    - ``trace_sign``: per stance side, the sign that turns the trace into the metric
      (the band of a limit L: ``sign * trace > L``); None where there is no band.
    - ``kinds``: the event kinds that carry it.
    - ``storage``: ``"field"`` (an ``Event`` attribute, an EVENTS.csv column) or
      ``"extra"`` (a key of ``Event.extra``).
    - ``time_key``/``pct_key``: the ``Event.extra`` keys of when the peak happens
      (session time, s; percent of the event window); None where not recorded.
    - ``angle``: the angle name (``hipmon.uncertainty.REAL_WORLD``) whose per-stance peak
      it is, None for a composite.
    - ``summary``: in the per-session summaries (``hipmon analyze``).
    """

    name: str
    unit: str
    label: str
    short: str
    sign: str
    side: str
    traces: tuple[str, ...]
    kinds: tuple[str, ...]
    description: str
    storage: str = "field"
    title: str | None = None
    trace_sign: tuple[tuple[str, int], ...] | None = None
    time_key: str | None = None
    pct_key: str | None = None
    angle: str | None = None
    summary: bool = True

    @property
    def trace(self) -> str:
        """The (first) ANGLES.csv column template, e.g. ``hip_adduction_{side}_deg``."""
        return self.traces[0]

    def trace_of(self, side: str) -> str:
        """The ANGLES.csv column of the trace for a stance of ``side``."""
        return self.trace.format(side=side)

    def sign_for(self, side: str) -> int:
        """+1 or -1: metric = sign * trace for a stance of ``side`` (1 without a band)."""
        return dict(self.trace_sign or ()).get(side, 1)


_ALL = EVENT_KINDS

_METRICS: tuple[Metric, ...] = (
    Metric(
        name="peak_pelvic_drop_deg", unit="deg", label="pelvic drop", short="drop",
        title="Pelvic drop per stance (°)",
        sign="positive when the swing (contralateral) side of the pelvis drops below level",
        side="contralateral", traces=("pelvis_obliquity_deg",), kinds=_ALL,
        trace_sign=(("left", -1), ("right", 1)),
        time_key="t_peak_drop_s", pct_key="pct_peak_drop", angle="pelvis_obliquity",
        description="Peak contralateral pelvic drop over the event: -obliquity on a left stance, "
                    "+obliquity on a right one (two-legged events: the larger drop of either side).",
    ),
    Metric(
        name="peak_hip_adduction_deg", unit="deg", label="hip adduction", short="hip ADD",
        title="Peak hip adduction (°)",
        sign="positive for adduction (knee moves medially), both sides",
        side="stance", traces=("hip_adduction_{side}_deg",), kinds=_ALL,
        trace_sign=(("left", 1), ("right", 1)),
        time_key="t_peak_adduction_s", pct_key="pct_peak_adduction", angle="hip_adduction",
        description="Peak hip adduction of the stance side over the event.",
    ),
    Metric(
        name="peak_hip_internal_rotation_deg", unit="deg", label="hip int. rotation", short="hip IR",
        title="Peak hip IR (°)",
        sign="positive for internal rotation (anterior thigh turns medially), both sides",
        side="stance", traces=("hip_internal_rotation_{side}_deg",), kinds=_ALL,
        trace_sign=(("left", 1), ("right", 1)),
        time_key="t_peak_ir_s", pct_key="pct_peak_ir", angle="hip_internal_rotation",
        description="Peak hip internal rotation of the stance side over the event.",
    ),
    Metric(
        name="peak_valgus_composite_deg", unit="deg", label="add + IR (valgus)", short="valgus composite",
        sign="positive for adduction plus internal rotation (knee valgus at the hip)",
        side="stance", traces=("hip_adduction_{side}_deg", "hip_internal_rotation_{side}_deg"), kinds=_ALL,
        storage="extra", time_key="t_peak_valgus_s",
        description="Peak of hip adduction + internal rotation, summed sample by sample "
                    "(knee valgus at the hip, DESIGN section 2), of the stance side.",
    ),
    Metric(
        name="peak_hip_flexion_deg", unit="deg", label="hip flexion", short="hip flexion",
        sign="positive for flexion (knee moves forward), both sides",
        side="stance", traces=("hip_flexion_{side}_deg",), kinds=("rep",),
        storage="extra", time_key="t_peak_flexion_s", angle="hip_flexion", summary=False,
        description="Peak hip flexion of a repetition (squat depth), relative to the rep's start.",
    ),
)

#: name -> Metric, in definition order
METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}

PELVIC_DROP = METRICS["peak_pelvic_drop_deg"]
HIP_ADDUCTION = METRICS["peak_hip_adduction_deg"]
HIP_INTERNAL_ROTATION = METRICS["peak_hip_internal_rotation_deg"]
VALGUS_COMPOSITE = METRICS["peak_valgus_composite_deg"]
HIP_FLEXION = METRICS["peak_hip_flexion_deg"]

#: Metrics that are ``Event`` fields and EVENTS.csv columns, in column order.
EVENT_FIELD_METRICS: tuple[str, ...] = tuple(m.name for m in _METRICS if m.storage == "field")


def event_value(event: Any, name: str) -> float:
    """An event's value of registered metric ``name`` (degrees): an ``Event`` field or an
    ``Event.extra`` key, as the metric's ``storage`` says; NaN when the event has none."""
    v = getattr(event, name) if METRICS[name].storage == "field" else event.extra.get(name)
    return math.nan if v is None else float(v)
#: Metrics of the per-session summaries (``hipmon analyze``), in table order.
SUMMARY_METRICS: tuple[str, ...] = tuple(m.name for m in _METRICS if m.summary)
#: Metrics with a per-stride panel on the dashboard, in panel order.
PANEL_METRICS: tuple[str, ...] = tuple(m.name for m in _METRICS if m.title)

#: Non-metric per-event values (``Event.extra`` keys) -> (unit, description).
EVENT_FIELDS: dict[str, tuple[str, str]] = {
    "detected_s": ("s", "session time of the sample that completed the event (when live knew it)"),
    "initial_contact_s": ("s", "initial contact (foot strike)"),
    "toe_off_s": ("s", "toe off"),
    "contact_time_s": ("s", "ground contact time of a stance"),
    "stride_s": ("s", "stride time (same-side initial contacts)"),
    "flight_before_s": ("s", "flight time before a running stance"),
    "method": ("", "how a stance was found: 0 running contacts, 1 walking steps"),
    "take_off_s": ("s", "take-off before a landing"),
    "flight_time_s": ("s", "flight time before a landing"),
    "impact_s": ("s", "landing impact"),
    "ends_in_take_off": ("", "1 when a landing ends in the next take-off"),
    "bilateral": ("", "1 for a two-legged landing reported once per leg"),
    "hold_time_s": ("s", "duration of a single-leg hold"),
    "valid_fraction": ("", "share of the event window's samples with valid angles"),
    "worse_side": ("", "two-legged event: the side with the larger valgus composite, 0 left, 1 right"),
    # simulator truth (hipmon.simulate events.csv)
    "peak_time_s": ("s", "simulator truth: time of the peak hip adduction"),
    "amplitude": ("", "simulator truth: the movement's envelope at the event"),
    "landing_index": ("", "simulator truth: landing number"),
    "bottom_s": ("s", "simulator truth: time of a squat's lowest point"),
    "hold_s": ("s", "simulator truth: duration of a hold"),
}
for _m in _METRICS:
    if _m.time_key:
        EVENT_FIELDS[_m.time_key] = ("s", f"session time of the {_m.label} peak")
    if _m.pct_key:
        EVENT_FIELDS[_m.pct_key] = ("%", f"when the {_m.label} peak happens, percent of the event window")
del _m


# ---------------------------------------------------------------- lookups


def get(name: str) -> Metric:
    """The metric called ``name``; ``KeyError`` naming the closest registered names."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(unknown_metric_message(name)) from None


def closest(name: str, candidates: tuple[str, ...] | list[str] | None = None) -> str | None:
    """The registered metric name (or one of ``candidates``) closest to ``name`` (difflib), or None."""
    pool = list(METRICS) if candidates is None else list(candidates)
    hits = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return hits[0] if hits else None


def unknown_metric_message(name: str) -> str:
    """``unknown metric 'x' (did you mean 'y'?)``, or the list of metrics when nothing is close."""
    near = closest(name)
    hint = f"did you mean {near!r}?" if near else f"metrics: {', '.join(METRICS)}"
    return f"unknown metric {name!r} ({hint})"


def side_key(name: str, side: str) -> str:
    """Name of the per-side value of a metric in ``Event.extra`` of a two-legged event.

    ``side_key("peak_hip_adduction_deg", "left") == "peak_hip_adduction_left_deg"``.
    """
    unit = "_" + name.rsplit("_", 1)[1]
    return name[: -len(unit)] + f"_{side}{unit}"


def metric_of_key(key: str) -> Metric | None:
    """The metric a key names: the metric itself or its per-side value (``side_key``); else None."""
    if key in METRICS:
        return METRICS[key]
    for m in _METRICS:
        if key in (side_key(m.name, s) for s in SIDES):
            return m
    return None


def is_known_key(key: str) -> bool:
    """True for a metric, a metric's per-side value, or a non-metric per-event field."""
    return key in EVENT_FIELDS or metric_of_key(key) is not None


def quantity(name: str) -> str:
    """A metric's name without its unit (``peak_pelvic_drop``): the quantity names of
    ``hipmon.pipeline.measurable``."""
    m = METRICS[name]
    return name[: -len("_" + m.unit)]


def is_metric_quantity(q: str) -> bool:
    """True when ``q`` is a metric's quantity name (``peak_hip_adduction``), not an angle or a kind."""
    return any(q == quantity(n) for n in METRICS)


def short_name(key: str) -> str:
    """A metric's (or any ``_deg`` key's) short name for one-line alert texts."""
    m = METRICS.get(key)
    if m is not None:
        return m.short
    return key.replace("peak_", "").replace("_deg", "").replace("_", " ")


def compact_name(key: str) -> str:
    """``peak_pelvic_drop_deg`` -> ``pelvic_drop``: the name ``hipmon analyze``'s alert log prints."""
    return key.replace("peak_", "").replace("_deg", "")


def limit_band(name: str, side: str, limit: float) -> tuple[str, float | None, float | None] | None:
    """The alert band of a metric limit on its trace for a stance of ``side``: ``(column, low, high)``.

    ``metric > limit`` is ``trace > limit`` (sign +1) or ``trace < -limit`` (sign -1: a
    left stance's pelvic drop is the obliquity below ``-limit``). None for metrics
    without a band (composites).
    """
    m = METRICS[name]
    if m.trace_sign is None:
        return None
    col = m.trace_of(side)
    return (col, None, limit) if m.sign_for(side) > 0 else (col, -limit, None)


def limit_from_band(name: str, side: str, low: float | None, high: float | None) -> float | None:
    """The metric limit a band ``(low, high)`` on the trace of ``side`` stands for (``limit_band`` inverted)."""
    m = METRICS[name]
    if m.sign_for(side) > 0:
        return high
    return None if low is None else -low


def check_consistency() -> None:
    """Raise ``AssertionError`` when the registry and the fixed formats of ``hipmon.types`` disagree."""
    assert EVENT_FIELD_METRICS == tuple(c for c in EVENT_COLUMNS if c in METRICS), EVENT_FIELD_METRICS
    for m in _METRICS:
        assert m.name.endswith("_" + m.unit), m.name
        for tr in m.traces:
            for s in SIDES:
                assert tr.format(side=s) in ANGLE_COLUMNS, tr
        assert set(m.kinds) <= set(EVENT_KINDS), m.kinds
        assert m.storage in ("field", "extra")
