"""The compiled heading tracker (hipmon.heading_kernels) against the vectorised one it replaced
(tests/_heading_reference.py): the same corrected orientations, history and resets bit for bit,
on synthetic gait / standing / turning streams with lost thighs, for several rates, configurations
and chunkings; and its pairwise sums against numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from _heading_reference import HeadingTracker as ReferenceTracker
from hipmon import heading_kernels as hk
from hipmon import rotations as rot
from hipmon.heading import HeadingConfig, HeadingTracker

THIGHS = ("left_thigh", "right_thigh")


def test_pairwise_sum_is_numpys_sum():
    rng = np.random.default_rng(0)
    for n in range(0, 1001):
        for _ in range(2):
            a = rng.normal(size=n) * 10.0 ** rng.uniform(-4, 4, n)
            buf = np.concatenate([a, rng.normal(size=5)])  # summing a prefix of a longer buffer
            assert hk.pairwise_sum(buf, n) == np.sum(a), n
            s, lo, hi = hk.sum_min_max(buf, n)
            assert s == np.sum(a) and (n == 0 or (lo == a.min() and hi == a.max())), n


def test_pairwise_sum_complex_is_numpys_sum():
    rng = np.random.default_rng(1)
    for m in range(0, 700):
        z = (rng.normal(size=m) + 1j * rng.normal(size=m)) * 10.0 ** rng.uniform(-4, 4, m)
        re, im = np.concatenate([z.real, [1.0]]), np.concatenate([z.imag, [2.0]])
        assert hk.pairwise_sum_complex(re, im, m) == (np.sum(z).real, np.sum(z).imag), m


def test_sum_min_max_nan():
    s, lo, hi = hk.sum_min_max(np.array([1.0, np.nan, -2.0]), 3)
    assert np.isnan(s) and np.isnan(lo) and np.isnan(hi)


def _stream(rate_hz: float, seconds: float, seed: int) -> tuple[dict, dict, dict]:
    """Synthetic segment orientations (N, 4) and rates (N, 3): gait (thighs flexing in
    antiphase, pelvis yawing, a drifting thigh heading), quiet standing with a small relative
    twist, a turn beyond the travel limit, jumps; thighs lost now and then."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    # 0 gait, 1 standing, 2 gait after a turn, 3 both legs together, 4 the legs' phase sliding
    # (left-right correlations sweeping through the gait threshold)
    phase = (t // 6.0).astype(int) % 5
    f = 1.0 + 0.2 * rng.uniform()
    flex_l = np.where(phase == 1, 0.0, 0.6 * np.sin(2 * np.pi * f * t))
    flex_r = np.select([phase == 1, phase == 3, phase == 4], [0.0, flex_l, 0.6 * np.sin(2 * np.pi * 1.13 * f * t)],
                       -0.6 * np.sin(2 * np.pi * f * t))
    yaw = 0.1 * np.sin(2 * np.pi * f * t) + np.where(phase == 2, np.radians(40.0), 0.0) + 0.002 * t
    tilt = np.where(phase == 1, 0.02, 0.05 * np.sin(2 * np.pi * 2 * f * t))
    y_axis, z_axis = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])
    qp = rot.multiply(rot.from_axis_angle(y_axis, yaw), rot.from_axis_angle(z_axis, tilt))
    q, g = {"pelvis": qp}, {"pelvis": np.stack([0.02 * np.cos(t), 0.6 * np.cos(2 * np.pi * f * t), 0.1 * np.sin(t)], 1)}
    for p, flex, twist in (("left_thigh", flex_l, 0.05 + 0.003 * t), ("right_thigh", flex_r, -0.04 + 0.1 * np.sin(t / 7))):
        q_rel = rot.multiply(rot.from_axis_angle(z_axis, flex), rot.from_axis_angle(y_axis, twist))
        q[p] = rot.multiply(qp, q_rel)
        rate = np.gradient(flex, 1 / rate_hz)
        g[p] = np.stack([0.3 * rate * rng.uniform(0.5, 1.5), 0.05 * rng.normal(size=n), rate], 1)
    for p in q:
        g[p] = g[p] + rng.normal(0, 0.005, g[p].shape)
        g[p][phase == 1] *= 0.1  # quiet standing
    valid = {p: np.ones(n, dtype=bool) for p in THIGHS}
    for p in THIGHS:
        for _ in range(3):
            a = rng.integers(0, n)
            valid[p][a:a + rng.integers(1, int(2 * rate_hz))] = False
    return q, g, valid


def _chunks(n: int, kind: str, rng: np.random.Generator) -> list[tuple[int, int]]:
    if kind == "whole":
        return [(0, n)]
    if kind == "live":
        edges = np.arange(0, n, 10)
    else:
        edges = np.cumsum(np.concatenate([[0], rng.integers(1, 400, n)]))
        edges = edges[edges < n]
    return list(zip(edges, np.append(edges[1:], n)))


def _run(tracker, q, g, valid, chunks, k0):
    out = []
    for a, b in chunks:
        sl = slice(a, b)
        out.append(tracker.apply({p: v[sl] for p, v in q.items()}, {p: v[sl] for p, v in g.items()}, k0 + a,
                                 {p: v[sl] for p, v in valid.items()}))
    return {p: np.concatenate([o[p] for o in out]) for p in q}


CASES = [
    (100.0, HeadingConfig(), 0),
    (208.0, HeadingConfig(), 1),
    (52.0, HeadingConfig(), 2),
    (30.0, HeadingConfig(), 3),  # update blocks not a multiple of the stillness sub-blocks
    (100.0, HeadingConfig(thigh_rate=False, rest_min_s=0.25), 4),
    (100.0, HeadingConfig(rest_reset=False), 5),
    (100.0, HeadingConfig(pelvis=False, thigh=False), 6),
    (208.0, HeadingConfig(pelvis_max_travel_deg=60.0, rest_max_twist_deg=2.0), 7),
]


@pytest.mark.parametrize("rate_hz,config,seed", CASES)
def test_tracker_equals_reference(rate_hz, config, seed):
    q, g, valid = _stream(rate_hz, 50.0, seed)
    n = q["pelvis"].shape[0]
    rng = np.random.default_rng(seed)
    k0 = int(rng.integers(0, 500))  # a stream not starting on a block boundary
    ref = ReferenceTracker(config, rate_hz)
    ref.set_reference({p: v[:300] for p, v in q.items()}, {p: v[:300] for p, v in g.items()})
    want = _run(ref, q, g, valid, _chunks(n, "random", rng), k0)
    assert ref.history and any(h[3] != 0 for h in ref.history) == config.pelvis
    assert bool(ref.resets) == (config.rest_reset and config.rest_max_twist_deg > 10)  # 2 deg: all refused
    assert any(h[1] != 0 for h in ref.history) or not config.thigh
    for kind in ("whole", "live", "random"):
        new = HeadingTracker(config, rate_hz)
        new.set_reference({p: v[:300] for p, v in q.items()}, {p: v[:300] for p, v in g.items()})
        got = _run(new, q, g, valid, _chunks(n, kind, rng), k0)
        for p in q:
            np.testing.assert_array_equal(got[p], want[p], err_msg=f"{kind} {p}")
        assert new.history == ref.history, kind
        assert new.resets == ref.resets, kind
        assert new.gamma_rad == ref.gamma_rad and new.rate_rad_s == ref.rate_rad_s
        assert new.gamma_pelvis_rad == ref.gamma_pelvis_rad


def test_start_indices_that_skip_back_or_ahead():
    """A chunk whose start_index does not follow on from the last one's (a chunk fed twice, a jump
    ahead): the open block then holds more samples than it spans, as the reference's lists did;
    the same numbers, and no write past the kernel's buffers (it does not check bounds)."""
    rate_hz = 100.0
    q, g, valid = _stream(rate_hz, 12.0, 9)
    config = HeadingConfig(rest_min_s=0.25)
    trackers = ReferenceTracker(config, rate_hz), HeadingTracker(config, rate_hz)
    outs: list[list] = [[], []]
    # (start index, first sample, end sample): 80 samples fed twice at 0, a stillness sub-block and
    # the stretch after fed twice, a jump ahead
    calls = [(0, 0, 80), (0, 0, 80), (80, 80, 420), (300, 300, 700), (900, 700, 1100), (1000, 1000, 1200)]
    for k0, a, b in calls:
        sl = slice(a, b)
        for tracker, out in zip(trackers, outs):
            out.append(tracker.apply({p: v[sl] for p, v in q.items()}, {p: v[sl] for p, v in g.items()}, k0,
                                     {p: v[sl] for p, v in valid.items()}))
    ref, new = trackers
    assert ref.history and ref.resets
    for want, got in zip(*outs):
        for p in want:
            np.testing.assert_array_equal(got[p], want[p])
    assert new.history == ref.history and new.resets == ref.resets
    assert new.gamma_rad == ref.gamma_rad and new.gamma_pelvis_rad == ref.gamma_pelvis_rad
