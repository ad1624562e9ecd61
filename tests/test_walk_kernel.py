"""The compiled walking detector (``hipmon.walk_kernels.walk_run`` behind
``hipmon.gait_events.PelvisStepDetector``) gives the events of the Python one it replaced
(tests/gait_events_reference.py, inside the whole detector at f04c4ce, tests/events_reference.py),
bit for bit, for any chunking: simulated walks at 52/100/208 Hz with and without thighs, with NaN
runs, invalid samples and time glitches, without the pelvis's anterior rate (the vertical-rate
side cue), walking right after running, other walking settings (windows long enough for numpy's
recursive pairwise mean), and a detector copied mid-stream."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
from events_reference import EventDetector as ReferenceDetector
from gait_events_reference import PelvisStepDetector as ReferenceWalk
from _event_streams import chunked_events, glitches, holes, then

from hipmon.events import EventConfig, EventDetector, frames_from_simulation
from hipmon.gait_events import H_S, H_T, History, PelvisStepDetector, WalkConfig, without_thighs
from hipmon.simulate import simulate
from hipmon.types import Frames


def _no_anterior_rate(fr: Frames) -> Frames:
    """The pelvis's anterior rate unknown (NaN): the side from the rate about the vertical."""
    gyr = dict(fr.gyr_segment)
    gyr["pelvis"] = gyr["pelvis"].copy()
    gyr["pelvis"][:, 0] = np.nan
    return Frames(fr.time_s, fr.angles_deg, gyr, fr.acc_global, fr.valid)



@functools.lru_cache(maxsize=None)
def _walk(seconds: float, seed: int, rate: float) -> Frames:
    """A simulated walk's frames (made once per module: the simulation costs more than the checks)."""
    return frames_from_simulation(simulate("walk", seconds, seed), angle_noise_deg=1.0, seed=seed, rate_hz=rate)


def _check(fr: Frames, cfg: EventConfig | None = None, chunks=((None, 0), (400, 1), (9, 2)),
           every: bool = False) -> int:
    """The new detector's events are the reference's in each chunking. Where times do not increase
    the reference's events depend on the chunking (a NaN or repeated time inside an event's window
    changes its metrics: events.py's frame buffer, not the detectors), so it is run in each;
    otherwise once, in chunks of up to 400 frames (its quickest), and every chunking must give
    those events. ``every``: the reference steps every sample (its skipping assumes that time goes
    forward)."""
    n = 0
    increasing = bool(np.all(np.diff(fr.time_s) > 0))
    ref = None
    for chunk, seed in chunks:
        if ref is None or not increasing:
            ref_det = ReferenceDetector(cfg)
            ref_det.step_every_sample = every
            ref = chunked_events(ref_det, fr, 400 if increasing else chunk, 1 if increasing else seed)
        assert chunked_events(EventDetector(cfg), fr, chunk, seed) == ref, chunk
        n = sum("stance" in r for r in ref)
    return n


@pytest.mark.parametrize("rate", [52.0, 100.0, 208.0])
def test_walks_give_the_python_detectors_events(rate: float) -> None:
    fr = frames_from_simulation(simulate("walk", 40, int(rate)), angle_noise_deg=1.0, seed=3, rate_hz=rate)
    n = 0
    for variant in (fr, without_thighs(fr), holes(fr, 4, nan_times=True), glitches(fr, 5), _no_anterior_rate(without_thighs(fr)),
                    holes(without_thighs(fr), 6, nan_times=True)):
        n += _check(variant)
    assert n > 6 * 40


def test_one_sample_chunks() -> None:
    fr = frames_from_simulation(simulate("walk", 15, 21), angle_noise_deg=1.0, seed=21, rate_hz=100.0)
    for variant in (fr, _no_anterior_rate(without_thighs(fr))):
        assert _check(variant, chunks=((1, 0),)) > 10


def test_walking_right_after_running() -> None:
    run = frames_from_simulation(simulate("run", 20, 12), angle_noise_deg=1.0, seed=12, rate_hz=208.0)
    walk = frames_from_simulation(simulate("walk", 20, 13), angle_noise_deg=1.0, seed=13, rate_hz=208.0)
    mixed = then(then(walk, run), walk)
    for fr in (mixed, without_thighs(mixed), holes(mixed, 14, nan_times=True)):
        for hold in (1.5, 0.0):
            assert _check(fr, EventConfig(running_hold_s=hold)) > 20


@pytest.mark.parametrize("walk", [
    WalkConfig(side_window_s=0.7),  # > 128 samples per mean at 208 Hz: numpy's recursive pairwise sum
    WalkConfig(heel_strike_min=0.0, heel_strike_before_s=0.3, heel_strike_after_s=0.2),
    WalkConfig(min_step_rise=0.2, min_step_s=0.4, max_step_s=0.7),
    WalkConfig(smooth_s=0.05, double_support_fraction=0.3),
    WalkConfig(smooth_s=0.4, min_step_rise=3.0),
])
def test_other_walking_settings(walk: WalkConfig) -> None:
    fr = _walk(30, 17, 208.0)
    cfg = EventConfig(walk=walk)
    for variant in (fr, without_thighs(fr), _no_anterior_rate(without_thighs(fr))):
        _check(variant, cfg, chunks=((None, 0), (300, 1)))


def test_a_copy_taken_mid_stream() -> None:
    fr = frames_from_simulation(simulate("walk", 30, 19), angle_noise_deg=1.0, seed=19, rate_hz=100.0)
    ref = chunked_events(ReferenceDetector(), fr, None)
    det = EventDetector()
    head = det.update(fr.slice(0, 1234))
    twin = copy.deepcopy(det)
    tails = [det.update(fr.slice(1234, len(fr))) + det.flush(), twin.update(fr.slice(1234, len(fr))) + twin.flush()]
    for tail in tails:
        assert [repr(e) for e in head + tail] == ref


@pytest.mark.parametrize("smooth_s", [0.001, 0.02, 0.15, 0.4])
def test_the_smoothed_force_is_the_python_box_means(smooth_s: float) -> None:
    """The compiled box means (``walk_run`` fills ``H_S``) against the Python detector's ``prepare``
    on random forces of many magnitudes (sums that lose bits), in random chunks, bit for bit."""
    rng = np.random.default_rng(int(smooth_s * 1000))
    n = 6000
    rows = np.full((n, 12), np.nan)
    rows[:, H_T] = np.cumsum(rng.uniform(0.004, 0.012, n))
    rows[:, 1] = rng.normal(9.81, 3.0, n) * 10.0 ** rng.integers(-3, 4, n)
    cfg = WalkConfig(smooth_s=smooth_s)
    new, ref = PelvisStepDetector(cfg), ReferenceWalk(cfg)
    h_new, h_ref = History(), History()
    i = 0
    while i < n:
        k = int(rng.integers(0, 50))
        for h in (h_new, h_ref):
            h.append(rows[i:i + k])
        new.run(h_new, i, np.zeros(len(rows[i:i + k]), bool), 1.5, 0.2)
        ref.prepare(h_ref, i)
        i += k
    assert new.n == ref.n and new.g_start == ref.g_start
    assert np.array_equal(h_new.x[:, H_S], h_ref.x[:, H_S], equal_nan=True)
    assert np.isfinite(h_new.x[:, H_S]).sum() > n - 2 * new.n - 10


def test_side_and_heel_strike_decisions_on_random_windows() -> None:
    """The compiled side and heel-strike decisions (``walk_kernels._side``, ``_heel_strike``) against
    the Python detector's on random windows: repeated and unsorted times, ties of distance and of
    force, NaN flexions and rates, means over up to 300 samples (numpy's pairwise sum)."""
    from numba import njit

    from hipmon import walk_kernels as wk

    @njit
    def side(x, ic, window, buf):  # pragma: no cover - compiled
        return wk._side(x, 0, x.shape[0], ic, window, buf)

    @njit
    def heel(x, ic, s, before, after, least):  # pragma: no cover - compiled
        return wk._heel_strike(x, 0, x.shape[0], ic, s, before, after, least)

    rng = np.random.default_rng(23)
    ref = ReferenceWalk()
    checked = {"left": 0, "right": 0}
    for _ in range(3000):
        m = int(rng.integers(0, 300))
        dt = float(rng.choice([0.005, 0.01, 0.02]))
        x = np.full((m, 12), np.nan)
        x[:, H_T] = np.round(np.cumsum(rng.uniform(0.2, 1.8, m) * dt), 3)
        if m > 3 and rng.random() < 0.2:
            x[rng.integers(1, m, 3), H_T] = x[rng.integers(0, m, 3), H_T]  # repeats, steps back
        x[:, 5:11] = np.round(rng.normal(0, 3, (m, 6)) * 10.0 ** rng.uniform(-2, 2), int(rng.integers(0, 3)))
        x[:, 9:11] += 9.81
        if rng.random() < 0.3:  # rates whose sums depend on the order of the additions
            x[:, 7:9] = rng.normal(0, 1, (m, 2)) * 10.0 ** rng.integers(-8, 9, (m, 2))
        for col, p in ((5, 0.5), (6, 0.1), (7, 0.3), (8, 0.05), (9, 0.1), (10, 0.1)):
            x[rng.random(m) < p * rng.random(), col] = np.nan
            if rng.random() < p:
                x[:, col] = np.nan
        ic = float(x[int(rng.integers(0, m)), H_T] + rng.choice([0.0, 0.5 * dt, rng.normal(0, 0.1)])) if m \
            else float(rng.normal())
        window = float(rng.choice([0.15, 0.6, 2 * dt]))
        t = x[:, H_T]
        near = np.abs(t - ic) <= window
        before, after = near & (t >= ic - window) & (t < ic), near & (t >= ic) & (t <= ic + window)
        if rng.random() < 0.3 and before.sum() == after.sum():  # the same rates after as before, reordered:
            v = rng.normal(0, 1, before.sum()) * 10.0 ** rng.integers(-8, 9, before.sum())  # the sign of
            for col in (7, 8):  # the difference of the means is the summation's rounding
                x[before, col], x[after, col] = v, rng.permutation(v)
        ref.cfg = WalkConfig(side_window_s=window, heel_strike_min=float(rng.choice([0.0, 2.0])))
        want = ref._side(x, ic)
        got = "left" if side(x, ic, window, np.empty(m)) == wk.LEFT else "right"
        assert got == want
        checked[want] += 1
        for s in ("left", "right"):
            cfg = ref.cfg
            assert heel(x, ic, wk.LEFT if s == "left" else wk.RIGHT, cfg.heel_strike_before_s, cfg.heel_strike_after_s,
                        cfg.heel_strike_min) == ref._heel_strike(x, ic, s)
    assert min(checked.values()) > 500


def test_time_stepping_back_a_minute() -> None:
    """Time jumping back by 60 s mid-walk: the same events as the Python detector stepping every
    sample (its skipping searched the times as if sorted, and missed a stance's confirmation here)."""
    fr = frames_from_simulation(simulate("walk", 90, 29), angle_noise_deg=1.0, seed=29, rate_hz=100.0)
    t = fr.time_s.copy()
    t[4000:] -= 60.0
    back = Frames(t, fr.angles_deg, fr.gyr_segment, fr.acc_global, fr.valid)
    assert _check(back, chunks=((None, 0), (500, 1)), every=True) > 100


def test_little_room_to_start_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """A state with room for one open and one waiting stance, and room for 16 confirmed ones per call:
    both grow (``walk_run`` stops before a sample it may not have room for, and resumes there)."""
    from hipmon import gait_events
    from hipmon import walk_kernels as wk

    monkeypatch.setattr(wk, "CAP", 1)
    monkeypatch.setattr(gait_events, "SAMPLES_PER_STANCE", 10**9)
    fr = frames_from_simulation(simulate("walk", 60, 31), angle_noise_deg=1.0, seed=31, rate_hz=100.0)
    assert _check(fr, chunks=((None, 0), (3000, 1), (9, 2))) > 80
    det = EventDetector()
    chunked_events(det, fr, None)
    assert len(det._walk.state) > wk.WS_HEAD + 8
