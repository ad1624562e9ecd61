"""Comparing hipmon's angles with a reference (optical motion capture), and the data
transformations that must not change them (pure functions).

Used by ``benchmarks/bench_real.py`` and the real-data tests; useful to anyone who
records hipmon next to markers. Angles in degrees (the ANGLES.csv columns), time in s.

- ``angle_errors(time_s, angles_deg, ref_time_s, ref_angles_deg, windows)``: per angle
  RMSE, bias, correlation and coverage over time windows (pelvis rotation wrapped to ±180°).
- ``angles_difference_rms(a, b, ...)``: RMS difference of two runs of hipmon per angle
  (rotated, resampled or shortened copies of the same data).
- ``rotate_imu(acc, gyr, R)``: the same motion seen by a sensor strapped on rotated by ``R``.
- ``resample_imu(time_s, acc, gyr, rate_hz)``: the same motion sampled at another rate.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from hipmon.types import ANGLE_COLUMNS

WRAPPED = ("pelvis_rotation_deg",)


def _in_windows(t: np.ndarray, windows: Sequence[tuple[float, float]]) -> np.ndarray:
    m = np.zeros(t.shape, dtype=bool)
    for a, b in windows:
        m |= (t >= a) & (t <= b)
    return m


def _interp(column: str, t_new: np.ndarray, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x`` (deg) at ``t_new``; a wrapped angle is unwrapped first (between +179° and −179°
    lies ±180°, not 0°), NaN stays NaN (no angle), outside ``t`` is NaN."""
    x = np.asarray(x, dtype=float)
    if column in WRAPPED:
        ok = np.isfinite(x)
        x = x.copy()
        x[ok] = np.degrees(np.unwrap(np.radians(x[ok])))
    return np.interp(t_new, t, x, left=np.nan, right=np.nan)


def _difference(column: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    if column in WRAPPED:
        d = (d + 180.0) % 360.0 - 180.0
    return d


def angle_errors(
    time_s: np.ndarray,
    angles_deg: np.ndarray,
    ref_time_s: np.ndarray,
    ref_angles_deg: Mapping[str, np.ndarray],
    windows: Sequence[tuple[float, float]],
    columns: Sequence[str] = ANGLE_COLUMNS,
) -> dict[str, dict[str, float]]:
    """hipmon (``time_s`` (N,), ``angles_deg`` (N, 9) in ANGLE_COLUMNS order) against a reference.

    The estimate is interpolated onto the reference's samples inside ``windows`` (s); NaN
    (no angle) is left out and counted in ``coverage`` (fraction of window samples with an
    angle). Returns ``{column: {"rmse", "bias", "corr", "coverage", "max_abs"}}`` in degrees.
    """
    ref_t = np.asarray(ref_time_s, dtype=float)
    m = _in_windows(ref_t, windows)
    out: dict[str, dict[str, float]] = {}
    for c in columns:
        i = ANGLE_COLUMNS.index(c)
        est = _interp(c, ref_t[m], time_s, angles_deg[:, i])
        ref = np.asarray(ref_angles_deg[c], dtype=float)[m]
        e = _difference(c, est, ref)
        ok = np.isfinite(e)
        if not ok.any():
            out[c] = {"rmse": np.nan, "bias": np.nan, "corr": np.nan, "coverage": 0.0, "max_abs": np.nan}
            continue
        corr = float(np.corrcoef(est[ok], ref[ok])[0, 1]) if ok.sum() > 2 and np.std(ref[ok]) > 0 else np.nan
        out[c] = {
            "rmse": float(np.sqrt(np.mean(e[ok] ** 2))),
            "bias": float(np.mean(e[ok])),
            "corr": corr,
            "coverage": float(ok.mean()),
            "max_abs": float(np.max(np.abs(e[ok]))),
        }
    return out


def angles_difference_rms(
    time_a: np.ndarray, angles_a: np.ndarray, time_b: np.ndarray, angles_b: np.ndarray,
    windows: Sequence[tuple[float, float]], columns: Sequence[str] = ANGLE_COLUMNS,
) -> dict[str, float]:
    """RMS difference (deg) per angle between two runs, on ``time_a``'s samples inside ``windows``.

    A sample where either run has no angle is a difference of its own: it counts as NaN, and a
    column with any NaN difference where the other has a value returns ``inf``."""
    m = _in_windows(np.asarray(time_a, dtype=float), windows)
    out = {}
    for c in columns:
        i = ANGLE_COLUMNS.index(c)
        a = angles_a[m, i]
        b = _interp(c, time_a[m], time_b, angles_b[:, i])
        if np.any(np.isfinite(a) != np.isfinite(b)):
            out[c] = float("inf")
            continue
        d = _difference(c, a, b)
        d = d[np.isfinite(d)]
        out[c] = float(np.sqrt(np.mean(d**2))) if d.size else float("nan")
    return out


def rotate_imu(acc_sensor: np.ndarray, gyr_sensor: np.ndarray, R_new_old: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """acc (N, 3) m/s² and gyr (N, 3) rad/s of a sensor strapped on rotated by ``R_new_old`` (3, 3)."""
    return acc_sensor @ R_new_old.T, gyr_sensor @ R_new_old.T


def resample_imu(time_s: np.ndarray, acc_sensor: np.ndarray, gyr_sensor: np.ndarray,
                 rate_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same motion at ``rate_hz``: cubic-spline interpolation of acc and gyr (N, 3).

    Band-limited motion (walking and running: < 20 Hz) survives a spline at >= 52 Hz; this
    stands in for a sensor that samples at another rate."""
    from scipy.interpolate import CubicSpline

    t_new = np.arange(time_s[0], time_s[-1], 1.0 / rate_hz)
    return t_new, CubicSpline(time_s, acc_sensor)(t_new), CubicSpline(time_s, gyr_sensor)(t_new)
