"""hipmon.interp.on_grid_as_delivered against the numpy it replaced (``_Stream.on_grid_as_delivered``
before session 8), bit for bit: random sample times with gaps, grid points on samples, before the
first and beyond the delivered ones, NaN samples, with and without a magnetometer."""

import numpy as np
import pytest

from hipmon.interp import interp_rows, on_grid_as_delivered


def _oracle(t, a_all, g_all, m_all, grid, n_av, hold_gap_s, max_step_s):
    m = grid.size
    i0 = max(int(np.searchsorted(t, grid[0], side="right")) - 1, 0) if m else 0
    i1 = min(int(np.searchsorted(t, grid[-1], side="left")) + 1, t.size) if m else 0
    ts = t[i0:i1]
    acc, gyr = interp_rows(grid, ts, a_all[i0:i1]), interp_rows(grid, ts, g_all[i0:i1])
    mag = None if m_all is None else interp_rows(grid, ts, m_all[i0:i1])
    last = n_av - 1
    beyond = grid > t[last]
    if beyond.any():
        acc[beyond] = a_all[last[beyond]]
        if mag is not None:
            mag[beyond] = m_all[last[beyond]]
    gyr[beyond] = 0.0
    j = np.minimum(np.searchsorted(t, grid, side="right"), n_av)
    lo = np.maximum(j - 1, 0)
    hi = np.minimum(j, last)
    step = t[hi] - t[lo]
    exact = t[lo] == grid
    gyr[(step > hold_gap_s) & ~exact] = 0.0
    valid = (j >= 1) & ~beyond & ((step <= max_step_s) | exact)
    return acc, gyr, mag, valid


def _case(rng, n):
    dt = rng.choice([0.0048, 0.005, 0.0052, 0.03, 0.8, 1.6], size=n, p=[0.3, 0.3, 0.3, 0.06, 0.03, 0.01])
    t = 1.0 + np.cumsum(dt)
    vals = [rng.normal(size=(n, 3)) for _ in range(3)]
    if rng.random() < 0.5:
        vals[0][rng.integers(0, n, 3), rng.integers(0, 3, 3)] = np.nan
        vals[1][rng.integers(0, n, 2), 0] = np.inf
    rate = 100.0
    k0 = int(np.floor(rng.uniform(t[0] - 0.2, t[0] + 0.2) * rate))
    k1 = int(np.ceil(rng.uniform(t[-1] - 0.5, t[-1] + 1.5) * rate))
    grid = np.arange(k0, k1) / rate
    if rng.random() < 0.5:  # some grid points exactly on samples
        pick = rng.integers(0, n, 5)
        grid = np.unique(np.concatenate([grid, t[pick]]))
    # delivered: non-decreasing, between 1 and n (the staged grid's schedule)
    n_av = np.sort(rng.integers(1, n + 1, grid.size))
    if rng.random() < 0.3:
        n_av[:] = n
    return grid, t, vals, n_av


@pytest.mark.parametrize("seed", range(40))
def test_matches_the_numpy_it_replaced(seed):
    rng = np.random.default_rng(seed)
    grid, t, (a, g, m), n_av = _case(rng, int(rng.integers(1, 400)))
    hold = float(rng.choice([np.inf, 1.0, 0.02]))
    with_mag = seed % 2 == 0
    got = on_grid_as_delivered(grid, t, a, g, m if with_mag else None, n_av, hold, 1.5 * 0.005)
    want = _oracle(t, a, g, m if with_mag else None, grid, n_av, hold, 1.5 * 0.005)
    for x, y in zip(got, want):
        if y is None:
            assert x is None
        else:
            assert x.dtype == y.dtype and x.shape == y.shape
            assert np.array_equal(x.view(np.uint8), np.ascontiguousarray(y).view(np.uint8))


def test_chunks_give_the_same_bits():
    rng = np.random.default_rng(7)
    grid, t, (a, g, m), n_av = _case(rng, 300)
    whole = on_grid_as_delivered(grid, t, a, g, m, n_av, 1.0, 0.0075)
    cut = int(grid.size * 0.4)
    parts = [on_grid_as_delivered(grid[s], t, a, g, m, n_av[s], 1.0, 0.0075) for s in (slice(0, cut), slice(cut, None))]
    for i in range(4):
        assert np.array_equal(np.concatenate([p[i] for p in parts]), whole[i], equal_nan=i < 3)


def test_bad_inputs_raise():
    t = np.arange(5) * 0.01
    a = np.zeros((5, 3))
    grid = np.array([0.0, 0.01])
    with pytest.raises(ValueError, match="empty"):
        on_grid_as_delivered(grid, t[:0], a[:0], a[:0], None, np.array([1, 1]), 1.0, 0.015)
    for bad in (np.array([0, 1]), np.array([1, 6]), np.array([1])):
        with pytest.raises(ValueError, match="available"):
            on_grid_as_delivered(grid, t, a, a, None, bad, 1.0, 0.015)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        on_grid_as_delivered(grid, t, a, a[:4], None, np.array([5, 5]), 1.0, 0.015)
