"""Linear interpolation of many columns at once: ``np.interp`` per column, bit for bit, in one pass.

Putting each sensor's samples on the grid interpolated every column separately (six
``np.interp`` calls per sensor and chunk, each copying its column and searching the grid
points again). :func:`interp_rows` finds each point's two neighbours once and interpolates
every column there with ``np.interp``'s own arithmetic (numpy's ``arr_interp``: the left
neighbour's value at an exact sample time, ``slope * (x - x_j) + y_j`` between samples, the
other side when that is NaN), so the values are the same bits as before.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from hipmon.jit import njit

__all__ = ["interp_rows", "on_grid_as_delivered"]


def interp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp(x, xp, fp[:, c])`` for every column ``c``: (M,) points, (N,) increasing sample
    times and (N, C) values -> (M, C). Outside ``xp`` the first or last row is held (``np.interp``'s
    defaults). Raises ``ValueError`` for no samples, as ``np.interp`` does."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    xp = np.ascontiguousarray(xp, dtype=np.float64)
    fp = np.ascontiguousarray(fp, dtype=np.float64)
    if fp.ndim != 2 or xp.ndim != 1 or fp.shape[0] != xp.size:
        raise ValueError(f"interp_rows: xp (N,) and fp (N, C) needed, got {xp.shape} and {fp.shape}")
    if xp.size == 0:
        raise ValueError("array of sample points is empty")
    out = np.empty((x.size, fp.shape[1]))
    _interp_rows(x, xp, fp, out)
    return out


@njit
def _interp_rows(x, xp, fp, out):  # pragma: no cover - compiled
    n, cols = xp.shape[0], fp.shape[1]
    j = 0  # the neighbour below the previous point: the search starts there (points mostly increase)
    for i in range(x.shape[0]):
        xv = x[i]
        if n == 1:  # numpy: below, above or at the one sample, its value (NaN too)
            for c in range(cols):
                out[i, c] = fp[0, c]
            continue
        if np.isnan(xv):
            for c in range(cols):
                out[i, c] = xv
            continue
        if xv < xp[0]:
            for c in range(cols):
                out[i, c] = fp[0, c]
            continue
        if xv >= xp[n - 1]:  # beyond (the last value) and at the last sample (its value)
            for c in range(cols):
                out[i, c] = fp[n - 1, c]
            continue
        # j: xp[j] <= xv < xp[j + 1]; a few steps on from the last point's, else a binary search
        if xp[j] > xv:
            j = 0
        steps = 0
        while steps < 8 and xp[j + 1] <= xv:
            j += 1
            steps += 1
        if xp[j + 1] <= xv:
            lo, hi = j + 1, n - 1  # xp[lo] <= xv < xp[hi]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if xp[mid] <= xv:
                    lo = mid
                else:
                    hi = mid
            j = lo
        if xp[j] == xv:
            for c in range(cols):
                out[i, c] = fp[j, c]
            continue
        for c in range(cols):
            out[i, c] = _between(xp[j], xp[j + 1], fp[j, c], fp[j + 1, c], xv)


@register_jitable(inline="always")
def _between(x0, x1, f0, f1, xv):  # pragma: no cover - compiled into its callers
    """numpy's ``arr_interp`` between samples (x0, f0) and (x1, f1), x0 < xv < x1: ``slope * (xv -
    x0) + f0``, the other side when that is NaN, and f0 when both sides are equal and still NaN."""
    slope = (f1 - f0) / (x1 - x0)
    r = slope * (xv - x0) + f0
    if np.isnan(r):
        r = slope * (xv - x1) + f1
        if np.isnan(r) and f0 == f1:
            r = f0
    return r


def on_grid_as_delivered(grid: np.ndarray, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, mag: np.ndarray | None,
                         available: np.ndarray, hold_gap_s: float, max_step_s: float
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """One sensor's samples on grid points, each point with only the first ``available[i]`` samples.

    ``grid`` (M,) s, finite; ``t`` (N,) s strictly increasing; ``acc``, ``gyr``, ``mag`` (N, 3) or
    ``mag`` None; ``available`` (M,) int, 1..N. Returns acc, gyr, mag (M, 3) (mag None without it)
    and (M,) bool validity, bit for bit what the numpy it replaced gave (tests/test_interp_delivered.py):

    - the values are ``np.interp(grid, t, column)`` of every column;
    - beyond the last delivered sample (``grid > t[available - 1]``) acc and mag hold that
      sample and the rate is zero;
    - with ``j`` the delivered samples at or before the point, the rate is zero where the
      delivered neighbours ``t[max(j-1, 0)]``, ``t[min(j, available-1)]`` are more than
      ``hold_gap_s`` apart, unless the point is exactly on the first of them;
    - valid: ``j >= 1``, not beyond, and neighbours at most ``max_step_s`` apart (or exact).

    Raises ``ValueError`` for no samples, or ``available`` outside 1..N.
    """
    grid = np.ascontiguousarray(grid, dtype=np.float64)
    t = np.ascontiguousarray(t, dtype=np.float64)
    n_av = np.ascontiguousarray(available, dtype=np.int64)
    if t.size == 0:
        raise ValueError("array of sample points is empty")
    if n_av.shape != grid.shape:
        raise ValueError(f"available must be (M,) like the grid, got {n_av.shape} for {grid.shape}")
    acc = np.ascontiguousarray(acc, dtype=np.float64)
    gyr = np.ascontiguousarray(gyr, dtype=np.float64)
    n_cols = 2 if mag is None else 3
    mag = acc if mag is None else np.ascontiguousarray(mag, dtype=np.float64)
    if not acc.shape == gyr.shape == mag.shape == (t.size, 3):
        raise ValueError(f"samples must be (N, 3) like the times (N,), got {acc.shape}, {gyr.shape}, {mag.shape}"
                         f" for {t.shape}")
    out = np.empty((n_cols, grid.size, 3))
    valid = np.empty(grid.size, dtype=np.bool_)
    if not _as_delivered(grid, t, acc, gyr, mag, n_cols, n_av, float(hold_gap_s), float(max_step_s), out, valid):
        raise ValueError(f"available must be (M,) counts in 1..{t.size}")
    return out[0], out[1], (out[2] if n_cols == 3 else None), valid


@njit
def _as_delivered(grid, t, acc, gyr, mag, n_cols, n_av, hold_gap_s, max_step_s, out, valid):  # pragma: no cover
    """``on_grid_as_delivered`` into ``out`` (n_cols, M, 3) (acc, gyr, mag) and ``valid`` (M,);
    False (and ``out`` unfinished) when a count of ``n_av`` is outside 1..N."""
    n = t.shape[0]
    for i in range(n_av.shape[0]):
        if n_av[i] < 1 or n_av[i] > n:
            return False
    j_r = 0  # samples at or before the point (np.searchsorted(t, x, side="right")): walked from the last point's
    if grid.shape[0]:
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            if t[mid] <= grid[0]:
                lo = mid + 1
            else:
                hi = mid
        j_r = lo
    for i in range(grid.shape[0]):
        xv = grid[i]
        while j_r < n and t[j_r] <= xv:
            j_r += 1
        while j_r > 0 and t[j_r - 1] > xv:
            j_r -= 1
        last = n_av[i] - 1
        beyond = xv > t[last]
        for k in range(n_cols):
            fp = acc if k == 0 else (gyr if k == 1 else mag)
            if beyond:  # the last delivered sample held, the rate zero
                for c in range(3):
                    out[k, i, c] = 0.0 if k == 1 else fp[last, c]
            elif n == 1 or j_r == 0:  # np.interp: before the first sample (or one sample), the first
                for c in range(3):
                    out[k, i, c] = fp[0, c]
            elif j_r == n:  # at or after the last sample, the last
                for c in range(3):
                    out[k, i, c] = fp[n - 1, c]
            else:
                j = j_r - 1  # t[j] <= xv < t[j + 1]
                if t[j] == xv:
                    for c in range(3):
                        out[k, i, c] = fp[j, c]
                else:
                    for c in range(3):
                        out[k, i, c] = _between(t[j], t[j + 1], fp[j, c], fp[j + 1, c], xv)
        # the delivered neighbours: the rate held to zero across a long gap, and validity
        j = min(j_r, n_av[i])
        lo = max(j - 1, 0)
        hi = min(j, last)
        step = t[hi] - t[lo]
        exact = t[lo] == xv
        if step > hold_gap_s and not exact:
            for c in range(3):
                out[1, i, c] = 0.0
        valid[i] = j >= 1 and not beyond and (step <= max_step_s or exact)
    return True
