"""Compiled step of ``Pipeline.replay_blocks`` (numba): when ``feed`` would put the grid forward.

``feed`` advances the grid after a notification whose samples take the newest sample time into
a new ``ADVANCE_STEP_S`` step; the staged replay finds those moments, and what every sensor had
delivered then, in one pass over a block's rows (comparisons and counts only: exact).
"""

from __future__ import annotations

import numpy as np

from hipmon.jit import njit

__all__ = ["grid_advances"]


@njit
def grid_advances(js, kept, lasts, advanced, step_s, count, last_before, counts_out, lasts_out):  # pragma: no cover
    """Rows in arrival order: ``js`` (R,) the row's sensor column, ``kept`` (R,) its samples kept,
    ``lasts`` (R,) s its newest sample time. ``advanced``: the newest step advanced at so far
    (``floor(t / step_s)``; -inf for none, NaN stays NaN as numpy's running maximum). ``count``
    (P,) int64 samples and ``last_before`` (P,) s newest sample time of each sensor: brought up
    to date in place. At each row taking the newest time into a new step: ``count`` and
    ``last_before`` then, into ``counts_out`` (R, P), ``lasts_out`` (R, P). Returns (advances
    written, the newest step)."""
    e = 0
    for r in range(js.shape[0]):
        j = js[r]
        count[j] += kept[r]
        last_before[j] = lasts[r]
        s = np.floor(lasts[r] / step_s)
        if np.isnan(s):
            advanced = s
        elif s > advanced:
            advanced = s
            for p in range(count.shape[0]):
                counts_out[e, p] = count[p]
                lasts_out[e, p] = last_before[p]
            e += 1
    return e, advanced
