"""Per-event hip metrics and per-session summaries.

Per event (a stance, landing, repetition or hold of one side, or of both legs):

- peak contralateral pelvic drop (CPD): ``max`` over the event window of
  ``hipmon.kinematics.contralateral_pelvic_drop_deg(obliquity, side)``;
- peak hip adduction and peak hip internal rotation of the stance side;
- peak valgus composite: ``max(adduction + internal rotation)`` (DESIGN
  section 2: knee valgus at the hip is adduction combined with internal
  rotation, so the composite is taken sample by sample, not as a sum of peaks);
- when each peak happens (session time, s, and percent of the event window).

For a two-legged event (``side == "both"``, e.g. a drop vertical jump landing)
the per-side peaks are kept in ``extra`` (``peak_hip_adduction_left_deg``, ...)
and the main fields hold the worse side; pelvic drop is then the larger drop of
either side of the pelvis, ``max |obliquity|``.

Per session: count, mean and SD of each peak per side and kind, the left-right
asymmetry (left minus right, degrees: percentage symmetry indices are not used
because the angles pass through zero), and the trend over time (least-squares
slope in degrees per minute with its 95 % confidence interval) as the fatigue
indicator.

Everything is in degrees and seconds; arrays have time on the first axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from hipmon import metric_registry as reg
from hipmon.kinematics import contralateral_pelvic_drop_deg
from hipmon.metric_registry import HIP_ADDUCTION, HIP_INTERNAL_ROTATION, PELVIC_DROP, VALGUS_COMPOSITE
from hipmon.types import ANGLE_COLUMNS, SIDES, Event

#: The per-event peak fields of ``Event`` that summaries and alerts use (``hipmon.metric_registry``).
PEAK_FIELDS: tuple[str, ...] = reg.EVENT_FIELD_METRICS
#: Extra per-event metric (in ``Event.extra``): peak of adduction + internal rotation.
VALGUS_FIELD = VALGUS_COMPOSITE.name

_OBLIQUITY = ANGLE_COLUMNS.index(PELVIC_DROP.trace)


def angle_index(name: str, side: str) -> int:
    """Column of ``ANGLE_COLUMNS`` for a hip angle (``flexion``, ``adduction``, ``internal_rotation``) of ``side``."""
    return ANGLE_COLUMNS.index(f"hip_{name}_{side}_deg")


side_key = reg.side_key  # per-side value of a metric in ``Event.extra`` of a two-legged event


def window_mask(time_s: np.ndarray, start_s: float, end_s: float, valid: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask (N,) of samples with ``start_s <= t <= end_s`` (and ``valid`` where given)."""
    t = np.asarray(time_s, dtype=float)
    mask = (t >= start_s) & (t <= end_s)
    if valid is not None:
        mask &= np.asarray(valid, dtype=bool)
    return mask


#: The per-event peaks, in the column order of ``_side_traces``.
_PEAK_METRICS = (PELVIC_DROP, HIP_ADDUCTION, HIP_INTERNAL_ROTATION, VALGUS_COMPOSITE)


def _side_traces(angles_deg: np.ndarray, side: str, mask: np.ndarray) -> np.ndarray:
    """(N, 4) the traces whose peaks a stance on ``side`` reports (``_PEAK_METRICS``: contralateral
    pelvic drop, hip adduction, hip internal rotation, their sum; degrees), NaN outside ``mask`` (N,)."""
    add = angles_deg[:, ANGLE_COLUMNS.index(HIP_ADDUCTION.trace_of(side))]
    ir = angles_deg[:, ANGLE_COLUMNS.index(HIP_INTERNAL_ROTATION.trace_of(side))]
    cpd = contralateral_pelvic_drop_deg(angles_deg[:, _OBLIQUITY], side)
    return np.where(mask[:, None], np.stack([cpd, add, ir, add + ir], axis=1), np.nan)


def _peaks_dict(peaks: list[float], times: list[float]) -> dict[str, float]:
    """One window's peaks and their times (4,) as ``event_peaks``'s keys."""
    out: dict[str, float] = {}
    for m, pk, t in zip(_PEAK_METRICS, peaks, times):
        out[m.name], out[m.time_key] = pk, t
    return out


def _side_peaks(time_s: np.ndarray, angles_deg: np.ndarray, side: str, mask: np.ndarray) -> dict[str, float]:
    """Peaks and their times for a stance on ``side`` (degrees, s) over the rows in ``mask``."""
    n = np.asarray(time_s).size
    peaks, times = _window_peaks(time_s, _side_traces(angles_deg, side, mask), np.array([0]), np.array([n]))
    return _peaks_dict(peaks[0].tolist(), times[0].tolist())


def event_peaks(
    time_s: np.ndarray,
    angles_deg: np.ndarray,
    side: str,
    start_s: float,
    end_s: float,
    valid: np.ndarray | None = None,
) -> dict[str, float]:
    """Per-event peaks of an event window.

    Parameters: ``time_s`` (N,) s; ``angles_deg`` (N, 9) in ``ANGLE_COLUMNS``
    order; ``side`` "left", "right" or "both"; the window ``[start_s, end_s]``;
    ``valid`` (N,) bool or None (invalid samples are ignored).

    Returns a flat dict: ``peak_pelvic_drop_deg``, ``peak_hip_adduction_deg``,
    ``peak_hip_internal_rotation_deg``, ``peak_valgus_composite_deg`` (deg),
    ``t_peak_drop_s``, ``t_peak_adduction_s``, ``t_peak_ir_s``,
    ``t_peak_valgus_s`` (session time, s), ``pct_peak_drop``,
    ``pct_peak_adduction``, ``pct_peak_ir`` (percent of the window), and
    ``valid_fraction`` (share of window samples that were valid). For
    ``side == "both"`` also the per-side values with ``_left``/``_right``
    inserted before ``_deg`` and ``worse_side`` (0 left, 1 right, by valgus
    composite). NaN where the window holds no valid sample.
    """
    angles_deg = np.asarray(angles_deg, dtype=float)
    time_s = np.asarray(time_s, dtype=float)
    in_window = window_mask(time_s, start_s, end_s)
    mask = window_mask(time_s, start_s, end_s, valid)
    if side in SIDES:
        out = _side_peaks(time_s, angles_deg, side, mask)
    elif side == "both":
        out = _both_legs({s: _side_peaks(time_s, angles_deg, s, mask) for s in SIDES})
    else:
        raise ValueError(f"side must be left, right or both, not {side!r}")
    return _with_timing(out, start_s, end_s, int(np.count_nonzero(mask)), int(np.count_nonzero(in_window)))


def _both_legs(per: dict[str, dict[str, float]]) -> dict[str, float]:
    """A two-legged event's peaks from each side's (``_side_peaks``): the worse side's, the larger
    pelvic drop of either side of the pelvis, and every side's value under its own key."""
    worse = max(SIDES, key=lambda s: np.nan_to_num(per[s][VALGUS_FIELD], nan=-np.inf))
    out = dict(per[worse])
    drop = {s: per[s][PELVIC_DROP.name] for s in SIDES}
    drop_side = max(SIDES, key=lambda s: np.nan_to_num(drop[s], nan=-np.inf))
    out[PELVIC_DROP.name] = drop[drop_side]
    out[PELVIC_DROP.time_key] = per[drop_side][PELVIC_DROP.time_key]
    for s in SIDES:
        for key in (*PEAK_FIELDS, VALGUS_FIELD):
            out[side_key(key, s)] = per[s][key]
    out["worse_side"] = float(SIDES.index(worse))
    return out


def _with_timing(out: dict[str, float], start_s: float, end_s: float, n_valid: int, n_window: int) -> dict[str, float]:
    """``out`` with when each peak happens (percent of the window) and the window's valid share."""
    duration = end_s - start_s
    for key, tkey in ((m.pct_key, m.time_key) for m in (PELVIC_DROP, HIP_ADDUCTION, HIP_INTERNAL_ROTATION)):
        out[key] = 100.0 * (out[tkey] - start_s) / duration if duration > 0 else float("nan")
    out["valid_fraction"] = float(n_valid) / n_window if n_window else 0.0
    return out


def _window_peaks(time_s: np.ndarray, values: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The maximum of each column of ``values`` (N, C; NaN where masked out) over each of the row
    windows ``a[i]:b[i]`` (E,), and its time: peaks and times (E, C), NaN where a window has no
    finite value. The first maximum of a window, NaN skipped, as ``nanargmax``
    (``hipmon.event_kernels.window_peaks``, compiled)."""
    from hipmon.event_kernels import window_peaks

    n_ev, n_col = len(a), values.shape[1]
    peak, when = np.empty((n_ev, n_col)), np.empty((n_ev, n_col))
    window_peaks(np.ascontiguousarray(time_s, dtype=float), np.ascontiguousarray(values, dtype=float),
                 np.ascontiguousarray(a, dtype=np.int64), np.ascontiguousarray(b, dtype=np.int64), peak, when)
    return peak, when


#: ``Event.extra`` keys of a one-sided event's metrics, in the order ``event_peaks`` gives them
#: (its dict without the ``Event`` fields).
_EXTRA_KEYS: tuple[str, ...] = (PELVIC_DROP.time_key, HIP_ADDUCTION.time_key, HIP_INTERNAL_ROTATION.time_key,
                                VALGUS_FIELD, VALGUS_COMPOSITE.time_key, PELVIC_DROP.pct_key, HIP_ADDUCTION.pct_key,
                                HIP_INTERNAL_ROTATION.pct_key, "valid_fraction")
#: Per side (left, right): the ``angles_deg`` columns of obliquity, hip adduction and internal rotation,
#: and the sign that makes the obliquity that stance's contralateral pelvic drop.
_TRACE_COLUMNS = np.array([[_OBLIQUITY, ANGLE_COLUMNS.index(HIP_ADDUCTION.trace_of(s)),
                            ANGLE_COLUMNS.index(HIP_INTERNAL_ROTATION.trace_of(s))] for s in SIDES], dtype=np.int64)
_SIDE_CODES = {s: i for i, s in enumerate(SIDES)}
_DROP_SIGNS = np.array([float(contralateral_pelvic_drop_deg(np.ones(1), s)[0]) for s in SIDES])


def events_metrics(time_s: np.ndarray, angles_deg: np.ndarray, valid: np.ndarray, sides: Sequence[str],
                   start_s: Sequence[float], end_s: Sequence[float],
                   increasing: bool) -> list[tuple[float, float, float, dict[str, float]]]:
    """``event_peaks`` of many events at once, split as an ``Event`` holds them.

    ``time_s`` (N,) s; ``angles_deg`` (N, 9); ``valid`` (N,) bool; per event (E,) its ``sides``
    ("left", "right" or "both") and window ``[start_s, end_s]`` (s). ``increasing``: ``time_s``
    increases, so that a window is a run of rows (found by bisection; else each window is
    masked from all rows). Per event: its peak pelvic drop, hip adduction and internal rotation
    (deg, the ``Event`` fields) and the rest of ``event_peaks``'s dict in its order (the
    ``Event.extra`` keys): the same numbers. One compiled pass over the windows
    (``hipmon.event_kernels.event_window_peaks``: the peaks, their times and percents, the valid
    share); only a two-legged event takes ``_both_legs`` and ``_with_timing`` (Python, per event).
    """
    from hipmon.event_kernels import event_window_peaks

    t = np.ascontiguousarray(time_s, dtype=float)
    angles = np.ascontiguousarray(angles_deg, dtype=float)
    ok = np.ascontiguousarray(valid, dtype=np.bool_)
    start = np.ascontiguousarray(start_s, dtype=float)
    end = np.ascontiguousarray(end_s, dtype=float)
    n_ev = start.size
    code = np.array([_SIDE_CODES.get(s, 2) for s in sides], dtype=np.int64)
    if (t.ndim != 1 or angles.shape != (t.size, len(ANGLE_COLUMNS)) or ok.shape != t.shape or start.shape != (n_ev,)
            or end.shape != (n_ev,) or code.shape != (n_ev,)):  # (the compiled pass reads them unchecked)
        raise ValueError(f"events_metrics: times {t.shape}, angles {angles.shape}, valid {ok.shape}, "
                         f"{len(sides)} sides, starts {start.shape}, ends {end.shape} do not match")
    peak, when, counts, rows = np.empty((n_ev, 8)), np.empty((n_ev, 8)), np.empty((n_ev, 2), np.int64), np.empty((n_ev, 12))
    event_window_peaks(t, angles, _TRACE_COLUMNS, _DROP_SIGNS, ok, start, end, code, not increasing, peak, when, counts,
                       rows)
    out = []
    for i, (side, row) in enumerate(zip(sides, rows.tolist())):
        if side in SIDES:
            out.append((row[0], row[1], row[2], dict(zip(_EXTRA_KEYS, row[3:]))))
        elif side == "both":
            p, w = peak[i].tolist(), when[i].tolist()
            r = _both_legs({s: _peaks_dict(p[4 * j:4 * j + 4], w[4 * j:4 * j + 4]) for j, s in enumerate(SIDES)})
            r = _with_timing(r, float(start[i]), float(end[i]), int(counts[i, 0]), int(counts[i, 1]))
            out.append((r.pop(PELVIC_DROP.name), r.pop(HIP_ADDUCTION.name), r.pop(HIP_INTERNAL_ROTATION.name), r))
        else:
            raise ValueError(f"side must be left, right or both, not {side!r}")
    return out


def fill_event_metrics(event: Event, time_s: np.ndarray, angles_deg: np.ndarray, valid: np.ndarray | None = None) -> Event:
    """Set the peak fields of ``event`` (in place) from the angle traces; returns the event."""
    return set_event_metrics(event, event_peaks(time_s, angles_deg, event.side, event.start_s, event.end_s, valid))


def set_event_metrics(event: Event, peaks: dict[str, float]) -> Event:
    """Put ``event_peaks``'s dict into ``event`` (in place): the peak fields, the rest in ``extra``."""
    peaks = dict(peaks)
    for key in PEAK_FIELDS:
        setattr(event, key, peaks.pop(key))
    event.extra.update(peaks)
    return event


# ---------------------------------------------------------------- session summaries


@dataclass(frozen=True)
class Trend:
    """Least-squares trend of a metric over session time.

    ``slope_per_min`` (units of the metric per minute), its 95 % confidence
    interval ``ci95`` (low, high), ``n`` events, and ``change`` = fitted value at
    the last event minus at the first (units of the metric).
    """

    slope_per_min: float
    ci95: tuple[float, float]
    n: int
    change: float

    @property
    def significant(self) -> bool:
        """True when the 95 % interval excludes zero."""
        lo, hi = self.ci95
        return bool(np.isfinite(lo) and (lo > 0 or hi < 0))


#: fewer events than this give no trend: a slope through a handful of peaks that vary by a few
#: degrees stride to stride (SD 1-3 deg) is noise, and its "per minute" an extrapolation
MIN_TREND_EVENTS = 10


def linear_trend(time_s: Sequence[float], values: Sequence[float]) -> Trend:
    """Trend (per minute) of ``values`` against ``time_s`` (s) with its 95 % CI; NaNs are dropped.

    Fewer than ``MIN_TREND_EVENTS`` finite values: no trend (slope and CI NaN)."""
    t = np.asarray(time_s, dtype=float)
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok] / 60.0, v[ok]
    n = int(t.size)
    nan = float("nan")
    if n < max(MIN_TREND_EVENTS, 3) or np.ptp(t) <= 0:
        return Trend(nan, (nan, nan), n, nan)
    tm = t - t.mean()
    sxx = float(np.sum(tm**2))
    slope = float(np.sum(tm * (v - v.mean())) / sxx)
    change = slope * float(np.ptp(t))
    resid = v - v.mean() - slope * tm
    se = math.sqrt(float(np.sum(resid**2)) / (n - 2) / sxx)
    from scipy.special import stdtrit  # Student's t quantile (what scipy.stats.t.ppf calls; a lighter import)

    half = float(stdtrit(n - 2, 0.975)) * se
    return Trend(slope, (slope - half, slope + half), n, change)


def _stats(values: np.ndarray) -> dict[str, float]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {"mean": float("nan"), "sd": float("nan"), "n": 0}
    sd = float(np.std(v, ddof=1)) if v.size > 1 else float("nan")
    return {"mean": float(np.mean(v)), "sd": sd, "n": int(v.size)}


def _metric_values(events: Sequence[Event], field: str) -> np.ndarray:
    return np.array([reg.event_value(e, field) for e in events], dtype=float)


def summarize_events(events: Iterable[Event], alerts: Iterable = ()) -> dict:
    """Per-kind, per-side session summary, JSON-serialisable.

    Returns ``{"kinds": {kind: {"sides": {side: {...}}, "asymmetry": {...}}},
    "alerts": {rule: {side: count}}, "n_events": int}`` where each side block
    holds ``count``, ``duration_s`` (mean event duration), and for each metric
    (the three peaks and the valgus composite) ``mean``, ``sd``, ``n`` and
    ``trend`` (``slope_per_min``, ``ci95``, ``change``, ``significant``);
    ``asymmetry`` holds left minus right of each metric's mean (degrees) where
    both sides have events. NaN becomes None so the result dumps to JSON.
    """
    events = list(events)
    metrics = reg.SUMMARY_METRICS
    kinds: dict[str, dict] = {}
    for kind in sorted({e.kind for e in events}):
        of_kind = [e for e in events if e.kind == kind]
        sides: dict[str, dict] = {}
        for side in ("left", "right", "both"):
            sel = [e for e in of_kind if e.side == side]
            if not sel:
                continue
            block: dict = {
                "count": len(sel),
                "duration_s": float(np.mean([e.end_s - e.start_s for e in sel])),
                "alerts": sum(1 for e in sel if e.alert),
            }
            mid = [0.5 * (e.start_s + e.end_s) for e in sel]
            for field in metrics:
                vals = _metric_values(sel, field)
                st = _stats(vals)
                tr = linear_trend(mid, vals)
                st["trend"] = {
                    "slope_per_min": tr.slope_per_min,
                    "ci95": list(tr.ci95),
                    "change": tr.change,
                    "significant": tr.significant,
                }
                block[field] = st
            sides[side] = block
        asym = {}
        if "left" in sides and "right" in sides:
            for field in metrics:
                asym[field] = sides["left"][field]["mean"] - sides["right"][field]["mean"]
        kinds[kind] = {"sides": sides, "asymmetry_left_minus_right": asym}
    alert_counts: dict[str, dict[str, int]] = {}
    for a in alerts:
        alert_counts.setdefault(a.rule, {}).setdefault(a.side, 0)
        alert_counts[a.rule][a.side] += 1
    return _json_clean({"n_events": len(events), "kinds": kinds, "alerts": alert_counts})


def _json_clean(obj):
    """Replace NaN/inf floats by None and numpy scalars by Python ones, recursively."""
    if isinstance(obj, dict):
        return {k: _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
