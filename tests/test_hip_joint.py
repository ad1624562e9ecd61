"""The hip joint centre shared by pelvis and thigh: relative orientation and lever arms against the simulator.

The simulator places each thigh's origin at its hip joint centre, fixed in the
pelvis (``hip_half_width_m`` along the pelvis's Z), and each sensor at a lever arm
on its segment, so the truth of every quantity ``hipmon.hip_joint`` estimates is known.
"""

from __future__ import annotations

import numpy as np
import pytest

from hipmon import rotations as rot
from hipmon.hip_joint import (
    fit_relative_orientation,
    lever_arm_matrices,
    strapdown_from_start,
)
from hipmon.simulate import simulate
from hipmon.sync import resample
from hipmon.types import PLACEMENTS

RATE = 100.0


def _grid(sim):
    streams = {p: (sim.sensors[p].time_session_s, np.hstack([sim.sensors[p].acc_sensor, sim.sensors[p].gyr_sensor]))
               for p in PLACEMENTS}
    t0 = max(float(v[0][0]) for v in streams.values())
    t1 = min(float(v[0][-1]) for v in streams.values())
    grid, arrays, _ = resample(streams, RATE, start_s=t0, end_s=t1, max_step_s=1.0)
    return grid, {p: arrays[p][:, :3] for p in PLACEMENTS}, {p: arrays[p][:, 3:] for p in PLACEMENTS}


def _truth(sim, t0, thigh):
    q_seg, _ = sim.pose_at(np.array([t0]))
    q_sg = {p: rot.multiply(q_seg[p][0], sim.sensors[p].q_sensor_segment) for p in ("pelvis", thigh)}
    q_tp = rot.multiply(rot.conjugate(q_sg["pelvis"]), q_sg[thigh])
    side = 1.0 if thigh == "right_thigh" else -1.0
    hjc_pelvis_seg = np.array([0.0, 0.0, side * sim.athlete.hip_half_width_m])
    r_p = rot.rotate(rot.conjugate(sim.sensors["pelvis"].q_sensor_segment),
                     hjc_pelvis_seg - sim.sensors["pelvis"].position_segment_m)
    r_t = rot.rotate(rot.conjugate(sim.sensors[thigh].q_sensor_segment), -sim.sensors[thigh].position_segment_m)
    return q_tp, r_p, r_t


@pytest.fixture(scope="module")
def walk():
    sim = simulate("walk", 16.0, 4, mounting="random", ideal=True)
    return sim, *_grid(sim)


@pytest.mark.parametrize("thigh", ["left_thigh", "right_thigh"])
def test_fit_recovers_the_true_rotation_and_lever_arms_from_a_wrong_guess(walk, thigh):
    sim, grid, acc, gyr = walk
    i0, i_move = int(np.searchsorted(grid, 2.0)), int(np.searchsorted(grid, 4.5))
    q_tp, r_p, r_t = _truth(sim, grid[i0], thigh)
    guess = rot.multiply(rot.from_axis_angle(np.array([0.3, 1.0, -0.2]), np.radians(25.0)), q_tp)
    fit = fit_relative_orientation(acc["pelvis"][i0:], gyr["pelvis"][i0:], acc[thigh][i0:], gyr[thigh][i0:], RATE,
                                   guess, fit_from=i_move - i0)
    assert rot.angle_between_deg(fit.q_thigh_pelvis, q_tp) < 0.3
    assert np.linalg.norm(fit.lever_arm_pelvis_m - r_p) < 0.01, (fit.lever_arm_pelvis_m, r_p)
    assert np.linalg.norm(fit.lever_arm_thigh_m - r_t) < 0.01, (fit.lever_arm_thigh_m, r_t)
    assert fit.residual_rms_m_s2 < 0.1 * fit.signal_rms_m_s2


def test_a_thigh_that_does_not_share_the_joint_leaves_a_large_residual(walk):
    # the right thigh's data shifted by 0.3 s: no rotation and no lever arms make the two agree
    sim, grid, acc, gyr = walk
    i0, i_move, lag = int(np.searchsorted(grid, 2.0)), int(np.searchsorted(grid, 4.5)), 30
    q_tp, _, _ = _truth(sim, grid[i0], "right_thigh")
    good = fit_relative_orientation(acc["pelvis"][i0:-lag], gyr["pelvis"][i0:-lag], acc["right_thigh"][i0:-lag],
                                    gyr["right_thigh"][i0:-lag], RATE, q_tp, fit_from=i_move - i0)
    bad = fit_relative_orientation(acc["pelvis"][i0:-lag], gyr["pelvis"][i0:-lag], acc["right_thigh"][i0 + lag:],
                                   gyr["right_thigh"][i0 + lag:], RATE, q_tp, fit_from=i_move - i0)
    assert bad.residual_rms_m_s2 / bad.signal_rms_m_s2 > 0.5 > 10 * good.residual_rms_m_s2 / good.signal_rms_m_s2


def test_too_little_movement_is_a_clear_error(walk):
    _, _, acc, gyr = walk
    with pytest.raises(ValueError, match="at least 1 s of movement"):
        fit_relative_orientation(acc["pelvis"][:150], gyr["pelvis"][:150], acc["left_thigh"][:150],
                                 gyr["left_thigh"][:150], RATE, np.array([1.0, 0, 0, 0]), fit_from=100)


def test_strapdown_and_lever_arm_terms_match_closed_forms():
    # a constant rate about z: rotation by w t; K r = w x (w x r) (no angular acceleration)
    w = np.tile([0.0, 0.0, 2.0], (101, 1))
    a = strapdown_from_start(w, RATE)
    ang = 2.0 * 1.0  # rad after 1 s
    assert np.allclose(a[-1], [[np.cos(ang), -np.sin(ang), 0], [np.sin(ang), np.cos(ang), 0], [0, 0, 1]], atol=1e-9)
    k = lever_arm_matrices(w, RATE)
    assert np.allclose(k[50] @ np.array([0.2, 0.0, 0.0]), [-0.8, 0.0, 0.0])  # centripetal: -w² r


def test_samples_that_are_not_finite_are_a_clear_error(walk):
    _, grid, acc, gyr = walk
    i0 = int(np.searchsorted(grid, 2.0))
    bad = acc["left_thigh"][i0:].copy()
    bad[400] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fit_relative_orientation(acc["pelvis"][i0:], gyr["pelvis"][i0:], bad, gyr["left_thigh"][i0:], RATE,
                                 np.array([1.0, 0, 0, 0]), fit_from=250)


def test_calibration_falls_back_to_the_flexion_axis_with_a_reason_when_the_fit_cannot_run(walk):
    # a thigh whose data are not finite in the calibration walk: the calibration still completes,
    # takes that thigh's heading from its flexion axis, and says so
    from hipmon.calibration import (
        CalibrationConfig,
        calibrate,
        find_calibration_windows,
    )
    from hipmon.fusion import make_filter

    _, grid, acc, gyr = walk
    q = {p: make_filter("vqf", RATE).update(acc[p], gyr[p]) for p in PLACEMENTS}
    win = find_calibration_windows(acc, gyr, RATE)
    acc_bad = dict(acc)
    acc_bad["right_thigh"] = acc["right_thigh"].copy()
    acc_bad["right_thigh"][win[1][0] + 100] = np.nan
    cal = calibrate(grid, q, acc_bad, gyr, RATE, CalibrationConfig(thigh_heading="hip_joint"), windows=win)
    assert any("right_thigh" in r and "flexion axis" in r and "finite" in r for r in cal.reasons), cal.reasons
    assert "left_thigh_hip_joint_residual_ratio" in cal.metrics
    assert "right_thigh_hip_joint_residual_ratio" not in cal.metrics
    assert cal.metrics["thigh_heading_from_hip_joint"] == 0.5


@pytest.mark.parametrize("seed", range(6))
def test_the_fits_design_matrix_is_the_einsum_it_replaced_bit_for_bit(seed):
    """``_fill_design`` (compiled, one allocation per fit) = the numpy expression it replaced."""
    from hipmon.hip_joint import _fill_design

    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 1500))
    m_p, m_t = (rng.normal(0, 10.0 ** rng.uniform(-3, 3), (m, 3, 3)) for _ in range(2))
    r = rot.matrix(rot.normalize(rng.normal(size=4)))
    design = np.empty((3 * m, 6))
    _fill_design(m_p, m_t, r, design)
    expected = np.concatenate([m_p, -np.einsum("ij,njk->nik", r, m_t)], axis=2).reshape(3 * m, 6)
    assert np.array_equal(design.view(np.int64), expected.view(np.int64))
