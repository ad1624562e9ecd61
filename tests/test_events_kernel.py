"""The compiled contact detector (``hipmon.event_kernels.contact_run``) and the walking detector's
stepping around it give the events of the detector they replaced (tests/events_reference.py, the
Python one at f04c4ce), bit for bit, for any chunking: running, walking, jumps, squats, holds, with
and without thighs, with invalid runs, time glitches and other settings."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from _event_streams import chunked_events, glitches, holes, then
from events_reference import EventDetector as ReferenceDetector

from hipmon.events import EventConfig, EventDetector, frames_from_simulation
from hipmon.gait_events import without_thighs
from hipmon.simulate import simulate
from hipmon.types import Frames


def _check(fr: Frames, cfg: EventConfig | None = None) -> int:
    ref = chunked_events(ReferenceDetector(cfg), fr, None)
    for chunk, seed in ((None, 0), (400, 1), (9, 2)):
        assert chunked_events(EventDetector(cfg), fr, chunk, seed) == ref, chunk
    return len(ref)


@pytest.mark.parametrize("kind", ["run", "walk", "jump", "squat", "stance"])
def test_the_events_of_the_python_detector(kind: str) -> None:
    sim = simulate(kind, 40, 7)
    fr = frames_from_simulation(sim, angle_noise_deg=1.0, seed=7, rate_hz=100.0)
    n = 0
    for variant in (fr, without_thighs(fr), holes(fr, 4, nan_times=True), glitches(fr, 5)):
        n += _check(variant)
    assert n > 0 or kind == "stance"


@functools.lru_cache(maxsize=None)
def _simulated(kind: str, seconds: float, seed: int) -> Frames:
    """A simulated session's frames at 100 Hz, made once per module (the simulation costs more than
    the checks; the detectors do not write into their input)."""
    return frames_from_simulation(simulate(kind, seconds, seed), angle_noise_deg=1.0, seed=seed, rate_hz=100.0)


@pytest.mark.parametrize("changes", [
    {"running_hold_s": 0.0},
    {"kinds": ("stance",)},
    {"kinds": ("landing", "rep")},
    {"landing_window_s": 0.0, "max_stance_s": 0.2},
    {"min_jump_flight_s": 0.05, "both_legs_flexion_deg": 30.0},
    {"edge_force": 0.3 * 9.81, "min_flight_s": 0.0},
])
def test_the_events_of_the_python_detector_with_other_settings(changes: dict) -> None:
    cfg = EventConfig().with_(**changes)
    run, jump = _simulated("run", 30, 8), _simulated("jump", 30, 9)
    for fr in (run, jump, without_thighs(jump)):
        _check(fr, cfg)


def test_running_walking_and_back_pelvis_only() -> None:
    """Running into walking and back (the walking detector muted and listening again), sacrum only."""
    run = frames_from_simulation(simulate("run", 30, 10), angle_noise_deg=1.0, seed=10, rate_hz=100.0)
    walk = frames_from_simulation(simulate("walk", 30, 11), angle_noise_deg=1.0, seed=11, rate_hz=100.0)

    mixed = then(then(run, walk), run)
    for fr in (mixed, without_thighs(mixed)):
        for hold in (1.5, 0.0):
            assert _check(fr, EventConfig(running_hold_s=hold)) > 20


def _random_hops(seed: int, thighs: bool) -> Frames:
    """Random flights and contacts (100-250 Hz): flight levels, flank steepness, flight and contact
    times from a running step's to a jump's, thigh flexions and rates from scissoring to parallel."""
    rng = np.random.default_rng(seed)
    rate = float(rng.choice([100.0, 208.0, 250.0]))
    f, fl, fr, wl, wr = [], [], [], [], []
    while len(f) < 6 * rate:
        n_air = int(rate * rng.choice([rng.uniform(0.0, 0.12), rng.uniform(0.1, 0.5)]))
        n_on = int(rate * rng.uniform(0.05, 0.9))
        air = rng.uniform(-1.0, 5.0) + rng.normal(0, rng.uniform(0.1, 2.0), n_air)
        hump = np.sin(np.pi * (np.arange(n_on) + rng.uniform(0.2, 1)) / (n_on + 1))
        on = rng.uniform(15, 35) * hump ** rng.uniform(0.3, 2)
        ramp = min(int(rng.integers(0, 12)), n_on // 2)  # flanks from steep to a few samples long
        if ramp and n_air:
            on[:ramp] = np.linspace(air[-1], on[ramp], ramp + 2)[1:-1]
        f += list(air) + list(on)
        a, b = rng.normal(20, 15, 2)
        fl += list(np.full(n_air + n_on, a))
        fr += list(np.full(n_air + n_on, b))
        w = rng.normal(0, 1.5, 2)
        wl += list(np.full(n_air + n_on, w[0]))
        wr += list(np.full(n_air + n_on, w[1]))
    n = len(f)
    t = np.arange(n) / rate + rng.uniform(0, 5)
    ang = rng.normal(0, 5, (n, 9))
    from hipmon.metrics import angle_index

    ang[:, angle_index("flexion", "left")] = np.asarray(fl) + rng.normal(0, 1, n)
    ang[:, angle_index("flexion", "right")] = np.asarray(fr) + rng.normal(0, 1, n)
    acc_p = rng.normal(0, 1, (n, 3))
    acc_p[:, 1] = f
    gyr_p = rng.normal(0, 0.5, (n, 3))
    gyr = {"pelvis": gyr_p}
    acc = {"pelvis": acc_p}
    if thighs:
        for k, w in (("left_thigh", wl), ("right_thigh", wr)):
            g = rng.normal(0, 0.3, (n, 3))
            g[:, 2] += w
            gyr[k], acc[k] = g, rng.normal(9.81, 3, (n, 3))
    else:
        ang[:, 3:] = np.nan  # the hip angles (a sacrum-only session)
    return Frames(t, ang, gyr, acc, rng.random(n) > 0.01)


@pytest.mark.parametrize("seed", range(8))
def test_the_events_of_the_python_detector_on_random_hops(seed: int) -> None:
    cfg = EventConfig(running_hold_s=float(np.random.default_rng(seed).choice([0.0, 1.5])))
    assert _check(_random_hops(seed, thighs=seed % 2 == 0), cfg) > 0


def _window_peaks_numpy(time_s, values, a, b):
    """``hipmon.metrics._window_peaks`` as it was at f04c4ce (numpy, reduceat): the oracle."""
    n_ev, n_col = a.size, values.shape[1]
    peak = np.full((n_ev, n_col), np.nan)
    when = np.full((n_ev, n_col), np.nan)
    lengths = b - a
    has = lengths > 0
    if not has.any():
        return peak, when
    a, lengths = a[has], lengths[has]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    rows = np.repeat(a - starts, lengths) + np.arange(int(lengths.sum()))
    v = values[rows]
    w = np.where(np.isnan(v), -np.inf, v)
    top = np.maximum.reduceat(w, starts, axis=0)
    found = np.logical_or.reduceat(np.isfinite(v), starts, axis=0)
    seg = np.repeat(np.arange(a.size), lengths)
    t = np.asarray(time_s, dtype=float)
    pk, wh = np.full((a.size, n_col), np.nan), np.full((a.size, n_col), np.nan)
    for c in range(n_col):
        at = np.flatnonzero(w[:, c] == top[seg, c])
        first = at[np.searchsorted(at, starts)]
        pk[:, c] = np.where(found[:, c], v[first, c], np.nan)
        wh[:, c] = np.where(found[:, c], t[rows[first]], np.nan)
    peak[has], when[has] = pk, wh
    return peak, when


def test_window_peaks_compiled_are_the_numpy_ones() -> None:
    """Random traces with NaN, +-inf, ties and signed zeros; windows empty, reversed, overlapping."""
    from hipmon.metrics import _window_peaks

    rng = np.random.default_rng(11)
    for _ in range(2000):
        n = int(rng.integers(0, 40))
        t = np.sort(rng.uniform(0, 10, n))
        v = np.round(rng.normal(0, 3, (n, 4)) * rng.choice([1, 0.2]))
        v[rng.random(v.shape) < 0.3] = np.nan
        v[rng.random(v.shape) < 0.05] = np.inf
        v[rng.random(v.shape) < 0.05] = -np.inf
        v[rng.random(v.shape) < 0.1] = -0.0
        e = int(rng.integers(0, 6))
        a = rng.integers(0, n + 1, e)
        b = a + rng.integers(-2, 15, e)
        b = np.clip(b, 0, n) if rng.random() < 0.7 else np.minimum(np.maximum(a, b), n)
        got, ref = _window_peaks(t, v, a, b), _window_peaks_numpy(t, v, a, b)
        for x, y in zip(got, ref):
            assert x.tobytes() == y.tobytes()


def test_a_copy_of_the_detector_mid_stream_goes_on_alike() -> None:
    """The detector's state is plain data (copyable): a deep copy taken mid-run gives the same events."""
    import copy

    fr = frames_from_simulation(simulate("jump", 30, 12), angle_noise_deg=1.0, seed=12, rate_hz=100.0)
    det = EventDetector()
    head = det.update(fr.slice(0, len(fr) // 2))
    twin = copy.deepcopy(det)
    tail = [det.update(fr.slice(len(fr) // 2, None)) + det.flush(),
            twin.update(fr.slice(len(fr) // 2, None)) + twin.flush()]
    assert repr(tail[0]) == repr(tail[1])
    assert [repr(e) for e in head + tail[0]] == chunked_events(ReferenceDetector(), fr, None)


def _rows_numpy(c: Frames) -> tuple[np.ndarray, np.ndarray]:
    """The detectors' History rows and moving flags as ``EventDetector.update`` took them at 3ab69c7
    (numpy columns, ``np.linalg.norm``): the oracle of ``hipmon.event_kernels.detector_rows``."""
    from hipmon.events import G
    from hipmon.metrics import angle_index

    f = c.acc_global["pelvis"][:, 1]
    nan = np.full(len(c), np.nan)
    w_l = c.gyr_segment["left_thigh"][:, 2] if "left_thigh" in c.gyr_segment else nan
    w_r = c.gyr_segment["right_thigh"][:, 2] if "right_thigh" in c.gyr_segment else nan
    p = c.gyr_segment["pelvis"]
    a_l, a_r = (np.linalg.norm(c.acc_global[k], axis=1) if k in c.acc_global else nan
                for k in ("left_thigh", "right_thigh"))
    fl, fr = c.angles_deg[:, angle_index("flexion", "left")], c.angles_deg[:, angle_index("flexion", "right")]
    moving = (np.abs(w_l) > 1.0) | (np.abs(w_r) > 1.0) | (np.abs(f - G) > 0.3 * G)
    ok = np.asarray(c.valid, dtype=bool) & np.isfinite(f) & np.isfinite(c.time_s)
    x = np.column_stack([c.time_s, f, w_l, w_r, p[:, 2], fl, fr, p[:, 0], p[:, 1], a_l, a_r, nan])
    return x[ok], moving[ok]


def test_detector_rows_are_the_numpy_columns() -> None:
    """``EventDetector._rows`` (compiled) against the numpy columns bit for bit: thighs' rates and
    forces each present or not, views, NaN/inf times, forces and rates, invalid samples, forces
    from 1e-160 to 1e150 (the norm's sum order: ``(x² + y²) + z²``)."""
    rng = np.random.default_rng(5)
    for case in range(300):
        n = int(rng.integers(0, 50))
        t = np.cumsum(rng.uniform(0.001, 0.02, n))
        t[rng.random(n) < 0.05] = rng.choice([np.nan, np.inf])

        def vec(scale=1.0):
            v = rng.normal(0, 1, (n, 5)) * scale
            if rng.random() < 0.3:
                v *= 10.0 ** rng.integers(-160, 150, (n, 5))
            v[rng.random(v.shape) < 0.05] = rng.choice([np.nan, np.inf, -np.inf])
            return v[:, 1:4]  # a view (not contiguous)

        gyr = {k: vec(2.0) for k in ("pelvis", "left_thigh", "right_thigh") if k == "pelvis" or rng.random() < 0.7}
        acc = {k: vec(10.0) for k in ("pelvis", "left_thigh", "right_thigh") if k == "pelvis" or rng.random() < 0.7}
        acc["pelvis"][:, 1] += 9.81 * (rng.random(n) < 0.5)
        angles = rng.normal(0, 20, (n, 9))
        c = Frames(t, angles, gyr, acc, rng.random(n) < 0.9)
        x, moving = EventDetector._rows(c)
        ref_x, ref_moving = _rows_numpy(c)
        assert x.tobytes() == ref_x.tobytes() and np.array_equal(moving, ref_moving), case


@pytest.mark.parametrize("damage", ["short gyr", "wide acc", "few angles", "short valid"])
def test_frames_of_the_wrong_shape_are_refused(damage: str) -> None:
    """Arrays whose shape does not match the times are a ValueError naming the array (the compiled
    pass that reads them does not check its indices)."""
    fr = frames_from_simulation(simulate("walk", 8, 2), rate_hz=100.0).slice(600, 700)
    gyr, acc = dict(fr.gyr_segment), dict(fr.acc_global)
    angles, valid = fr.angles_deg, fr.valid
    if damage == "short gyr":
        gyr["left_thigh"] = gyr["left_thigh"][:-1]
    elif damage == "wide acc":
        acc["pelvis"] = np.column_stack([acc["pelvis"], acc["pelvis"][:, :1]])
    elif damage == "few angles":
        angles = angles[:, :5]
    else:
        valid = valid[:-3]
    with pytest.raises(ValueError, match="frames: .* has shape"):
        EventDetector().update(Frames(fr.time_s, angles, gyr, acc, valid))
