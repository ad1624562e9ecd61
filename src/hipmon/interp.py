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

from hipmon.jit import njit

__all__ = ["interp_rows"]


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
            slope = (fp[j + 1, c] - fp[j, c]) / (xp[j + 1] - xp[j])
            r = slope * (xv - xp[j]) + fp[j, c]
            if np.isnan(r):
                r = slope * (xv - xp[j + 1]) + fp[j + 1, c]
                if np.isnan(r) and fp[j, c] == fp[j + 1, c]:
                    r = fp[j, c]
            out[i, c] = r
