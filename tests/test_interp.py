"""``hipmon.interp.interp_rows`` is ``np.interp`` per column, bit for bit (the grid's values)."""

import numpy as np
import pytest

from hipmon.interp import interp_rows


def _reference(x, xp, fp):
    return np.stack([np.interp(x, xp, fp[:, c]) for c in range(fp.shape[1])], axis=1).reshape(len(x), fp.shape[1])


def _same(a, b):
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


@pytest.mark.parametrize("seed", range(40))
def test_equals_np_interp_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    xp = np.cumsum(rng.uniform(1e-4, 0.02, n)) + rng.normal() * 100
    fp = rng.normal(0, 10, (n, int(rng.integers(1, 7)))) * 10.0 ** rng.integers(-6, 6)
    if seed % 3 == 0:  # NaN and inf among the values (the NaN fallbacks of numpy's arithmetic)
        fp.ravel()[rng.integers(0, fp.size, 1 + fp.size // 8)] = rng.choice([np.nan, np.inf, -np.inf], 1 + fp.size // 8)
    m = int(rng.integers(0, 300))
    lo, hi = xp[0] - 0.05, xp[-1] + 0.05
    x = np.sort(rng.uniform(lo, hi, m)) if seed % 2 else rng.uniform(lo, hi, m)  # also out of order
    if m:
        x[rng.integers(0, m, 1 + m // 5)] = rng.choice(xp, 1 + m // 5)  # exactly at samples, the last one too
    if seed % 5 == 0 and m:
        x[rng.integers(0, m)] = np.nan
    assert _same(interp_rows(x, xp, fp), _reference(x, xp, fp))


def test_grid_like_inputs():
    """The pipeline's case: a 100 Hz grid over 208 Hz samples with jitter, columns of a (N, 3) array's rows."""
    rng = np.random.default_rng(7)
    t = np.cumsum(np.full(5000, 1 / 208) + rng.normal(0, 1e-5, 5000))
    a = rng.normal(0, 3, (5000, 3))
    grid = np.arange(int(t[0] * 100) + 1, int(t[-1] * 100)) / 100.0
    assert _same(interp_rows(grid, t[100:4000], a[100:4000]), _reference(grid, t[100:4000], a[100:4000]))


def test_no_samples_is_an_error():
    with pytest.raises(ValueError):
        interp_rows(np.arange(3.0), np.zeros(0), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="fp"):
        interp_rows(np.arange(3.0), np.arange(3.0), np.zeros((2, 3)))
