"""hipmon.pipeline_kernels.grid_advances against the numpy of ``Pipeline.replay_blocks`` it replaced:
the advances, each sensor's counts and newest times then, and the state carried to the next block."""

import numpy as np
import pytest

from hipmon.pipeline_kernels import grid_advances


def _oracle(js, kept, lasts, advanced, step_s, count, last_before):
    n_p = count.size
    steps = np.floor(lasts / step_s)
    before = np.maximum.accumulate(np.concatenate([[advanced], steps]))
    advances = np.flatnonzero(steps > before[:-1])
    mine = js[:, None] == np.arange(n_p)
    counts_then = count + np.cumsum(np.where(mine, kept[:, None], 0), axis=0)
    newest_row = np.maximum.accumulate(np.where(mine, np.arange(js.size)[:, None], -1), axis=0)
    last_then = np.where(newest_row >= 0, lasts[newest_row], np.array(last_before))
    return counts_then[advances], last_then[advances], float(before[-1]), counts_then[-1], last_then[-1]


@pytest.mark.parametrize("seed", range(30))
def test_matches_the_numpy_it_replaced(seed):
    rng = np.random.default_rng(seed)
    n_p, r = int(rng.integers(1, 4)), int(rng.integers(1, 300))
    js = rng.integers(0, n_p, r)
    kept = rng.integers(1, 9, r)
    lasts = np.cumsum(rng.exponential(0.03, r)) + rng.uniform(-1, 5) - 0.2 * (js == 1)  # a lagging sensor
    if seed % 5 == 4:
        lasts[r // 2] = np.nan  # numpy's running maximum keeps the NaN: no advance after it
    advanced = -np.inf if seed % 3 == 0 else float(np.floor(lasts[0] / 0.1) + rng.integers(-2, 3))
    count = rng.integers(0, 50, n_p) * (seed % 2)
    last_before = np.where(count > 0, lasts[0] - 0.5, -np.inf)
    want = _oracle(js, kept, lasts, advanced, 0.1, count.copy(), last_before.tolist())
    c, lb = count.astype(np.int64).copy(), last_before.copy()
    co, lo = np.empty((r, n_p), np.int64), np.empty((r, n_p))
    e, adv = grid_advances(js.astype(np.int64), kept.astype(np.int64), lasts, advanced, 0.1, c, lb, co, lo)
    assert np.array_equal(co[:e], want[0]) and np.array_equal(lo[:e], want[1], equal_nan=True)
    assert (adv == want[2]) or (np.isnan(adv) and np.isnan(want[2]))
    assert np.array_equal(c, want[3]) and np.array_equal(lb, want[4], equal_nan=True)
    if seed % 5 != 4:
        assert e > 0
