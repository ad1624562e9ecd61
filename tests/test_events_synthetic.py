"""Event detection on small hand-built signals with exactly known events (logic, side, chunking)."""

from __future__ import annotations

import numpy as np
import pytest

from hipmon.events import EventConfig, EventDetector, detect_events, match_events
from hipmon.types import ANGLE_COLUMNS, Event, Frames

FS = 200.0
G = 9.81


def _frames(t, flex_l, flex_r, f_pelvis, obl=None, add_r=None, rng=None):
    n = t.size
    ang = np.zeros((n, len(ANGLE_COLUMNS)))
    ang[:, ANGLE_COLUMNS.index("hip_flexion_left_deg")] = flex_l
    ang[:, ANGLE_COLUMNS.index("hip_flexion_right_deg")] = flex_r
    if obl is not None:
        ang[:, ANGLE_COLUMNS.index("pelvis_obliquity_deg")] = obl
    if add_r is not None:
        ang[:, ANGLE_COLUMNS.index("hip_adduction_right_deg")] = add_r
    w_l = np.gradient(np.radians(flex_l), t)
    w_r = np.gradient(np.radians(flex_r), t)
    noise = (lambda s: rng.normal(0, s, n)) if rng is not None else (lambda s: 0.0)
    z = np.zeros(n)
    gyr = {
        "pelvis": np.stack([z, z, z + noise(0.05)], 1),
        "left_thigh": np.stack([z, z, w_l + noise(0.05)], 1),
        "right_thigh": np.stack([z, z, w_r + noise(0.05)], 1),
    }
    acc = {p: np.stack([z, np.full(n, G), z], 1) for p in gyr}
    acc["pelvis"] = np.stack([z, f_pelvis + noise(0.3), z], 1)
    return Frames(t, ang, gyr, acc, np.ones(n, bool))


def synthetic_run(seconds=20.0, step_s=0.35, duty=0.36, seed=0):
    """Alternating stances with half-sine vertical force, thighs scissoring; truth events returned."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / FS)
    stride = 2 * step_s
    tc = duty * stride
    ic = np.arange(2.0, seconds - 1.0, step_s)
    f = np.zeros_like(t) + G
    f[t >= ic[0] - step_s + tc] = 0.0
    peak = G * step_s * np.pi / (2 * tc)
    truth = []
    obl = np.zeros_like(t)
    for k, t0 in enumerate(ic):
        m = (t >= t0) & (t < t0 + tc)
        f[m] = peak * np.sin(np.pi * (t[m] - t0) / tc)
        side = "right" if k % 2 == 0 else "left"
        sgn = 1.0 if side == "right" else -1.0
        obl[m] = sgn * 5.0 * np.sin(np.pi * (t[m] - t0) / tc)
        truth.append(Event("stance", side, t0, t0 + tc, 5.0))
    f[t >= ic[-1] + tc] = G
    amp = np.clip((t - 1.0) / 0.5, 0, 1)
    flex_r = 10 + amp * 30 * np.cos(2 * np.pi * (t - ic[0] + 0.05) / stride)
    flex_l = 10 + amp * 30 * np.cos(2 * np.pi * (t - ic[0] - step_s + 0.05) / stride)
    return _frames(t, flex_l, flex_r, f, obl=obl, rng=rng), truth


def test_running_stances_found_with_side_timing_and_drop():
    frames, truth = synthetic_run()
    truth = truth[:-1]  # the last stance runs straight into standing: no toe-off, not reported
    ev = [e for e in detect_events(frames) if e.kind == "stance"]
    pairs = match_events(ev, truth, tol_s=0.05)
    assert len(pairs) == len(truth) == len(ev)
    err = [ev[i].start_s - truth[j].start_s for i, j in pairs]
    assert np.median(np.abs(err)) <= 0.015
    end_err = [ev[i].end_s - truth[j].end_s for i, j in pairs]
    assert np.median(np.abs(end_err)) <= 0.015
    for i, _ in pairs:
        assert ev[i].peak_pelvic_drop_deg == pytest.approx(5.0, abs=0.1)
        lat = ev[i].extra["detected_s"] - ev[i].end_s
        assert 0 <= lat <= 0.1


def test_chunking_does_not_change_events():
    frames, _ = synthetic_run(seconds=10.0)
    whole = detect_events(frames)
    det = EventDetector()
    got = []
    rng = np.random.default_rng(5)
    a = 0
    while a < len(frames):
        b = min(len(frames), a + int(rng.integers(1, 40)))
        got += det.update(frames.slice(a, b))
        a = b
    got += det.flush()
    assert [(e.kind, e.side, e.start_s, e.end_s, e.peak_pelvic_drop_deg) for e in got] == [
        (e.kind, e.side, e.start_s, e.end_s, e.peak_pelvic_drop_deg) for e in whole
    ]


def synthetic_dvj(seed=0):
    """Stand, drop from a box (flight 0.25 s), land, jump (flight 0.45 s), land, stand."""
    t = np.arange(0, 8.0, 1 / FS)
    f = np.full_like(t, G)
    flex = np.zeros_like(t)
    truth = []
    for t_off, flight in ((3.0, 0.25), (3.0 + 0.25 + 0.45, 0.45)):
        f[(t >= t_off) & (t < t_off + flight)] = 0.0
        land = t_off + flight
        m = (t >= land) & (t < land + 0.3)
        f[m] = G + 3 * G * np.sin(np.pi * (t[m] - land) / 0.3)
        truth.append(Event("landing", "both", land, land + 0.3))
    # push-off before the second flight
    for land in (3.25,):
        m = (t >= land) & (t < 3.7)
        flex[m] = 50 * np.sin(np.pi * (t[m] - land) / 0.45)
    m = (t >= 4.15) & (t < 4.65)
    flex[m] = 50 * np.sin(np.pi * (t[m] - 4.15) / 0.5)
    add = np.where((t > 4.2) & (t < 4.3), 9.0, 2.0)
    return _frames(t, flex + 1.0, flex, f, add_r=add, rng=np.random.default_rng(seed)), truth


def test_drop_vertical_jump_landings_are_reported_per_leg_with_flight_times():
    frames, truth = synthetic_dvj()
    both = detect_events(frames)
    assert [(e.kind, e.side) for e in both] == [("landing", "left"), ("landing", "right")] * 2
    assert all(e.extra["bilateral"] == 1.0 for e in both)
    ev = [e for e in both if e.side == "right"]
    assert ev[0].start_s == pytest.approx(3.25, abs=0.01)
    assert ev[1].start_s == pytest.approx(4.15, abs=0.01)
    assert ev[0].extra["flight_time_s"] == pytest.approx(0.25, abs=0.01)
    assert ev[1].extra["flight_time_s"] == pytest.approx(0.45, abs=0.01)
    assert ev[0].extra["ends_in_take_off"] == 1.0  # the first landing ends at the jump's take-off
    assert ev[1].peak_hip_adduction_deg == pytest.approx(9.0)
    left = [e for e in both if e.side == "left"]
    assert left[1].peak_hip_adduction_deg == pytest.approx(0.0)


def synthetic_single_leg(kind="squat", side="right", seed=0):
    """Stand 3 s, lift the other leg 40 deg; squats (65 deg, 2 s) or a 10 s hold; lower the leg."""
    t = np.arange(0, 30.0, 1 / FS)
    lift = 40 * np.clip((t - 4) / 0.5, 0, 1) * np.clip((26 - t) / 0.5, 0, 1)
    stance_flex = np.zeros_like(t)
    truth = []
    if kind == "squat":
        for k in range(5):
            t0 = 6 + 3.5 * k
            m = (t >= t0) & (t < t0 + 2.0)
            stance_flex[m] = 65 * np.sin(np.pi * (t[m] - t0) / 2.0) ** 2
            truth.append(Event("rep", side, t0, t0 + 2.0))
    else:
        truth.append(Event("hold", side, 4.0, 26.0))
    f = np.full_like(t, G)
    fl, fr = (lift, stance_flex) if side == "right" else (stance_flex, lift)
    return _frames(t, fl, fr, f, rng=np.random.default_rng(seed)), truth


@pytest.mark.parametrize("side", ["left", "right"])
def test_single_leg_squat_reps(side):
    frames, truth = synthetic_single_leg("squat", side)
    ev = detect_events(frames)
    assert [e.kind for e in ev] == ["rep"] * 5
    assert all(e.side == side for e in ev)
    # edges at 8 deg of a 65 deg sin^2 rep: ~0.23 s in from each true end
    for e, tr in zip(ev, truth):
        assert 0.1 < e.start_s - tr.start_s < 0.35
        assert 0.1 < tr.end_s - e.end_s < 0.35
        assert e.extra["peak_hip_flexion_deg"] == pytest.approx(65, abs=1.0)


@pytest.mark.parametrize("side", ["left", "right"])
def test_single_leg_hold(side):
    frames, truth = synthetic_single_leg("hold", side)
    ev = detect_events(frames)
    assert [(e.kind, e.side) for e in ev] == [("hold", side)]
    # the hold is the plateau: lifted leg at >= 90 % of its median lift (36 of 40 deg)
    assert ev[0].start_s == pytest.approx(4.45, abs=0.02)
    assert ev[0].end_s == pytest.approx(25.55, abs=0.02)


def test_kinds_filter():
    frames, _ = synthetic_run(seconds=8.0)
    assert detect_events(frames, EventConfig(kinds=("landing",))) == []
