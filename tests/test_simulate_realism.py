"""The default simulated walk against the real walk (issue 10): each angle's floor within a factor 1.5.

Floor = each sensor's VQF 6D orientation with the best constant alignments fitted to the reference
segments (real: Vicon, ``../shared/data/real/neura-sparse-s02-walk``; simulated: the true segments),
fit run to convergence (``hipmon.simulate.realism``). docs/simulator.md, "Realism".
"""

from __future__ import annotations

import numpy as np
import pytest

from _real import loader
from hipmon.simulate import simulate
from hipmon.simulate import realism as R
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS

SEEDS = (0, 1)


@pytest.fixture(scope="module")
def real_floor():
    L = loader("neura-sparse-s02-walk", "load_neura")
    O = loader("neura-sparse-s02-walk", "oracle_floor")
    floor = R.real_walk_floor(L, {p: O._sensor_orientation(p, "vqf") for p in PLACEMENTS})
    return R.floor_rmse(floor["time_s"], floor["angles_deg"], floor["reference_deg"], ((12.7, 21.7), (22.5, 25.0)))


@pytest.fixture(scope="module")
def sim_floor():
    rows = []
    for seed in SEEDS:
        sim = simulate("walk", 20.0, seed)
        st = sim.athlete.stand_s
        t, est, tru = R.simulated_floor(sim, (st, 20.0))
        rows.append(R.floor_rmse(t, est, tru, [(st + 2.0, 20.0)]))
    return {c: float(np.mean([r[c] for r in rows])) for c in ANGLE_COLUMNS}


def _pair(floor, name):
    """An angle's floor; for the hips the RMS over both sides (which side's strap is worse is chance)."""
    if name.startswith("pelvis"):
        return floor[f"{name}_deg"]
    return float(np.sqrt((floor[f"hip_{name}_left_deg"] ** 2 + floor[f"hip_{name}_right_deg"] ** 2) / 2))


def test_fitted_floor_converges_on_an_ideal_simulated_walk():
    # with ideal sensors and no soft tissue the floor is VQF alone: well under a degree for every angle
    sim = simulate("walk", 14.0, 3, ideal=True)
    t, est, tru = R.simulated_floor(sim, (4.0, 14.0))
    rm = R.floor_rmse(t, est, tru, [(6.0, 14.0)])
    assert max(rm.values()) < 0.6, rm


@pytest.mark.parametrize("name", ["pelvis_tilt", "pelvis_obliquity", "flexion", "adduction"])
def test_default_walk_floor_within_1_5_of_the_real_floor(real_floor, sim_floor, name):
    real, sim = _pair(real_floor, name), _pair(sim_floor, name)
    assert real / 1.5 <= sim <= 1.5 * real, (name, sim, real)


GAPS = {
    "pelvis_rotation": "the simulated floor is 1.7x the real one, not smaller: the constant-alignment fit turns part "
                       "of the sacral strap's rocking (obliquity error) into heading error because the simulated "
                       "pelvis rotation is locked to the legs (corr -0.97 with (flex_L - flex_R)/2); the real slow "
                       "walk's pelvis rotation runs a quarter stride off them (corr 0.1), so its fit cannot",
    "internal_rotation": "the real left marker IR follows knee flexion (+0.42-0.45 deg/deg, R2 0.6: the thigh frame's "
                         "knee marker cross-talk), which the sensors do not see and the simulated reference cannot have",
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=r)) for n, r in GAPS.items()])
def test_known_gaps(real_floor, sim_floor, name):
    real, sim = _pair(real_floor, name), _pair(sim_floor, name)
    assert real / 1.5 <= sim <= 1.5 * real, (name, sim, real)


def _corr(x, y):
    return float(np.corrcoef(x - x.mean(), y - y.mean())[0, 1])


def test_why_pelvis_rotation_differs_the_simulated_pelvis_turns_in_step_with_the_legs_the_real_one_does_not():
    L = loader("neura-sparse-s02-walk", "load_neura")
    vic = L.load_vicon()
    ref = L.reference_angles(vic)
    t = vic["time_s"]
    for a, b in ((11.5, 13.8), (15.8, 21.0)):  # out and back, the turn left out
        s = (t > a) & (t < b)
        rot = np.degrees(np.unwrap(np.radians(ref["pelvis_rotation_deg"][s])))
        rot = rot - np.polyval(np.polyfit(t[s], rot, 1), t[s])
        half_diff = (ref["hip_flexion_left_deg"][s] - ref["hip_flexion_right_deg"][s]) / 2
        assert abs(_corr(rot, half_diff)) < 0.5
    sim = simulate("walk", 20.0, 0, ideal=True)
    tt = np.arange(6.0, 20.0, 0.01)
    ang = sim.angles_at(tt)
    col = {c: ang[:, i] for i, c in enumerate(ANGLE_COLUMNS)}
    half_diff = (col["hip_flexion_left_deg"] - col["hip_flexion_right_deg"]) / 2
    assert _corr(col["pelvis_rotation_deg"], half_diff) < -0.9


def test_why_hip_ir_differs_the_real_left_marker_ir_follows_knee_flexion():
    L = loader("neura-sparse-s02-walk", "load_neura")
    vic = L.load_vicon()
    ref = L.reference_angles(vic)
    t = vic["time_s"]
    gains = {}
    for side, k in (("left", "L"), ("right", "R")):
        u, v = vic[f"{k}HJC"] - vic[f"{k}KJC"], vic[f"{k}AJC"] - vic[f"{k}KJC"]
        knee = 180.0 - np.degrees(np.arccos(np.sum(u * v, 1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)))
        for a, b in ((11.5, 13.8), (15.8, 21.0)):
            s = (t > a) & (t < b)
            ir = ref[f"hip_internal_rotation_{side}_deg"][s]
            g, r2 = R.angle_coupling(ir, knee[s][:, None])
            gains[side, a] = (float(g[0]), r2)
    for a in (11.5, 15.8):
        assert gains["left", a][0] > 0.3 and gains["left", a][1] > 0.5, gains
        assert gains["right", a][0] < 0.2 and gains["right", a][1] < 0.3, gains
