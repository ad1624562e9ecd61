"""How far to trust each angle in the real world: the one table every display reads.

The numbers are hipmon with default settings (``hipmon import`` → ``hipmon export``) on a
real walk against an optical reference: ``../shared/data/real/neura-sparse-s02-walk``
(Xsens on the sacrum and both lateral thighs, Vicon markers), 12.7–21.7 s (after the
walk's first 2 s, turn included). Source: ``docs/placement.md``, section "Real-world
uncertainty of each angle" (measured with ``benchmarks/bench_obliquity.py --hipmon``);
the per-angle validation against the floor and the published systems is
``docs/validation.md``. One subject, one slow walk: read every number as "about".
``tests/test_uncertainty.py`` checks that this table equals the one in docs/placement.md,
so a re-measurement there fails the test until it is copied here.

``REAL_WORLD`` holds the numbers as published, per side where they were measured per
side. What the displays show (``hipmon analyze`` text and ``--json``, the dashboard's
trace titles and per-stride panel) comes from the functions below, which pool the two
sides (root mean square: one subject's left/right difference is its straps, not a
property of a side):

- ``per_event_deg(field)``: a single stance's peak (pelvic drop, hip adduction, hip
  internal rotation), the RMSE of the per-stance peak against the markers (bias included:
  it is not known for a new athlete);
- ``asymmetry_deg(field)``: the left-minus-right difference of the per-side mean peaks;
- ``angle_rmse_deg(column)``: a sample of an angle trace (ANGLES.csv column).

Measured on walking stances only: for landings, reps and holds there is no real-world
reference yet, and the functions say so (``None``) for other event kinds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hipmon import metric_registry as reg

#: where the numbers come from (shown with them)
SOURCE = ("one real walk against optical markers (neura-sparse-s02-walk; "
          "docs/placement.md, docs/validation.md)")
#: a short label for displays
LABEL = "real-world"


@dataclass(frozen=True)
class AngleUncertainty:
    """One row of docs/placement.md's table (degrees). ``(left, right)`` pairs for the hips.

    ``rmse``/``bias``: the angle sample by sample; ``peak_rmse``/``peak_bias``/``peak_sd``:
    the per-stance peak (None where no per-stance peak is defined); ``lr_error``: the
    error of the left-minus-right difference of the per-side mean peaks.
    """

    rmse: tuple[float, ...]
    bias: tuple[float, ...]
    peak_rmse: tuple[float, ...] | None = None
    peak_bias: tuple[float, ...] | None = None
    peak_sd: tuple[float, ...] | None = None
    lr_error: float | None = None


#: docs/placement.md, "Real-world uncertainty of each angle" (copied as published).
REAL_WORLD: dict[str, AngleUncertainty] = {
    # pelvic obliquity; its per-stance peak is the contralateral pelvic drop (8 stances, both sides)
    "pelvis_obliquity": AngleUncertainty((3.3,), (-1.2,), (1.5,), (0.1,), (1.5,), 0.2),
    "pelvis_tilt": AngleUncertainty((2.6,), (-2.3,)),
    "pelvis_rotation": AngleUncertainty((1.7,), (0.0,)),
    "hip_flexion": AngleUncertainty((3.5, 3.1), (-0.0, -2.0), (5.3, 3.8), (-5.2, -3.7), (1.3, 1.1), 1.5),
    "hip_adduction": AngleUncertainty((3.6, 4.4), (-2.5, -2.7), (2.7, 2.3), (-2.4, -1.0), (1.3, 2.1), 1.4),
    "hip_internal_rotation": AngleUncertainty((9.7, 3.6), (-1.1, 0.3), (5.8, 5.2), (1.5, 5.1), (5.7, 1.1), 3.7),
}

#: EVENTS.csv / Event peak field -> the angle whose per-stance peak it is (``hipmon.metric_registry``)
PEAK_ANGLE = {name: reg.METRICS[name].angle for name in reg.EVENT_FIELD_METRICS}
#: event kinds the numbers were measured on
MEASURED_KINDS = ("stance",)


def _pooled(values: tuple[float, ...] | None) -> float | None:
    if not values:
        return None
    return round(math.sqrt(sum(v * v for v in values) / len(values)), 1)


def angle_of_column(column: str) -> str:
    """``hip_adduction_left_deg`` -> ``hip_adduction``; ``pelvis_tilt_deg`` -> ``pelvis_tilt``."""
    name = column[:-4] if column.endswith("_deg") else column
    for side in ("_left", "_right"):
        if name.endswith(side):
            name = name[: -len(side)]
    return name


def angle_rmse_deg(column: str) -> float | None:
    """Sample-by-sample real-world RMSE of an angle (an ANGLES.csv column or an angle name)."""
    row = REAL_WORLD.get(angle_of_column(column))
    return None if row is None else _pooled(row.rmse)


def per_event_deg(field: str, kind: str = "stance") -> float | None:
    """Real-world uncertainty (deg, RMSE) of one event's peak ``field``; None where unmeasured
    (the valgus composite, kinds other than stance)."""
    angle = PEAK_ANGLE.get(field)
    if angle is None or kind not in MEASURED_KINDS:
        return None
    return _pooled(REAL_WORLD[angle].peak_rmse)


def asymmetry_deg(field: str, kind: str = "stance") -> float | None:
    """Real-world error (deg) of the left-minus-right difference of a peak's per-side means."""
    angle = PEAK_ANGLE.get(field)
    if angle is None or kind not in MEASURED_KINDS:
        return None
    return REAL_WORLD[angle].lr_error


def format_pm(value: float | None, field: str, kind: str = "stance", nd: int = 1) -> str:
    """``"4.1 ± 1.5°"`` (the per-event uncertainty), or ``"4.1°"`` where none was measured."""
    if value is None or not math.isfinite(value):
        return "—"
    u = per_event_deg(field, kind)
    return f"{value:.{nd}f}°" if u is None else f"{value:.{nd}f} ± {u:.1f}°"


def summary_table() -> dict:
    """JSON-ready: the pooled numbers every display uses, and their source."""
    return {
        "source": SOURCE,
        "measured_on": "walking stances (one subject); none yet for landings, reps and holds",
        "per_stance_peak_rmse_deg": {f: per_event_deg(f) for f in PEAK_ANGLE},
        "left_minus_right_deg": {f: asymmetry_deg(f) for f in PEAK_ANGLE},
        "angle_rmse_deg": {a: _pooled(r.rmse) for a, r in REAL_WORLD.items()},
    }
