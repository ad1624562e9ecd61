"""The simulator checked on its own: IMU signals are the physics of the true segment motion."""

import numpy as np
import pytest

from hipmon import rotations as rot
from hipmon.simulate import GRAVITY_MPS2, simulate

G = np.array([0.0, GRAVITY_MPS2, 0.0])


def _integrate(q0, gyr, t):
    """Strapdown integration with the two-sample (trapezoid + coning) rule; (M, 4)."""
    dt = np.diff(t)
    w0, w1 = gyr[:-1], gyr[1:]
    rv = 0.5 * (w0 + w1) * dt[:, None] + np.cross(w0, w1) * (dt**2)[:, None] / 12.0
    steps = rot.from_rotvec(rv)
    out = np.empty((len(t), 4))
    out[0] = q0
    q = q0
    for i in range(len(dt)):
        q = rot.multiply(q, steps[i])
        out[i + 1] = q
    return rot.normalize(out)


@pytest.fixture(scope="module")
def ideal_run():
    # ideal sensors, truth at 5x the sensor rate: sensor sample k is truth sample 5k
    return simulate("run", 40.0, seed=11, ideal=True, truth_rate_hz=1040.0, rate_hz=208.0)


@pytest.mark.parametrize("placement", ["pelvis", "left_thigh", "right_thigh"])
def test_gyro_integration_reproduces_true_orientation(ideal_run, placement):
    sim = ideal_run
    s = sim.sensors[placement]
    assert np.allclose(s.time_session_s, np.arange(len(s.time_session_s)) / 208.0)
    q_seg = sim.q_segment_global[placement][::5][: len(s.time_session_s)]
    q_true = rot.multiply(q_seg, s.q_sensor_segment[None])
    q_est = _integrate(q_true[0], s.gyr_sensor, s.time_session_s)
    err = rot.angle_between_deg(q_est, q_true)
    assert err.max() < 0.5
    # and the motion is not trivial: the segment turns through tens of degrees
    assert rot.angle_between_deg(q_true, q_true[:1]).max() > 5.0


@pytest.mark.parametrize("placement", ["pelvis", "right_thigh"])
def test_accelerometer_is_true_specific_force(ideal_run, placement):
    """f_sensor = R_sensor_globalᵀ (p̈_sensor + g), p_sensor from the truth with the lever arm."""
    sim = ideal_run
    s = sim.sensors[placement]
    dt = 1.0 / sim.truth_rate_hz
    q_seg = sim.q_segment_global[placement]
    p_sensor = sim.pos_segment_global[placement] + rot.rotate(q_seg, np.broadcast_to(s.position_segment_m, (len(q_seg), 3)))
    acc_global = (p_sensor[2:] - 2 * p_sensor[1:-1] + p_sensor[:-2]) / dt**2
    idx = np.arange(len(s.time_session_s)) * 5
    ok = (idx >= 1) & (idx < len(q_seg) - 1)
    q_sg = rot.multiply(q_seg[idx[ok]], s.q_sensor_segment[None])
    f_expected = rot.rotate(rot.conjugate(q_sg), acc_global[idx[ok] - 1] + G)
    err = np.abs(s.acc_sensor[ok] - f_expected)
    assert np.sqrt(np.mean(err**2)) < 0.02
    assert err.max() < 0.3
    # running is not gentle: the signal spans several g
    assert np.ptp(np.linalg.norm(s.acc_sensor, axis=1)) > 15.0


def test_accelerometer_reads_gravity_at_rest():
    sim = simulate("stand", 10.0, seed=2, ideal=True, sway=0.0)
    for placement, s in sim.sensors.items():
        q_sg = rot.multiply(sim.pose_at(s.time_session_s)[0][placement], s.q_sensor_segment[None])
        expected = rot.rotate(rot.conjugate(q_sg), np.broadcast_to(G, (len(q_sg), 3)))
        assert np.allclose(s.acc_sensor, expected, atol=1e-6)
        assert np.allclose(np.linalg.norm(s.acc_sensor, axis=1), GRAVITY_MPS2, atol=1e-6)
        assert np.allclose(s.gyr_sensor, 0.0, atol=1e-9)


def test_pelvis_reads_near_zero_in_flight():
    # sensor at the pelvis origin (no lever arm): the flight phase is ballistic
    sim = simulate("run", 20.0, seed=5, ideal=True, lever_arm=False)
    s = sim.sensors["pelvis"]
    t = s.time_session_s
    flight = np.zeros(len(t), bool)
    stances = [e for e in sim.events if e.kind == "stance" and e.extra["amplitude"] > 0.999]
    stances.sort(key=lambda e: e.start_s)
    for a, b in zip(stances[:-1], stances[1:]):
        if b.start_s > a.end_s + 0.04:
            flight |= (t > a.end_s + 0.01) & (t < b.start_s - 0.01)
    assert flight.sum() > 300
    norm = np.linalg.norm(s.acc_sensor[flight], axis=1)
    assert np.median(norm) < 0.1
    assert norm.max() < 0.5
    stance = np.zeros(len(t), bool)
    for e in stances:
        stance |= (t > e.start_s + 0.3 * (e.end_s - e.start_s)) & (t < e.end_s - 0.3 * (e.end_s - e.start_s))
    assert np.median(np.linalg.norm(s.acc_sensor[stance], axis=1)) > 1.5 * GRAVITY_MPS2
