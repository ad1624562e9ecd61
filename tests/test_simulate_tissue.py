"""The soft-tissue artefact option of the simulator: off changes nothing; on moves the sensor on its segment.

With ``soft_tissue=True`` the sensor's mounting and lever arm vary with time (wobble
after impacts, slide with the hip angles); the IMU signals must still be the exact
physics of that moving sensor (docs/simulator.md, "Soft-tissue artefact").
"""

import json

import numpy as np
import pytest
from test_simulate_physics import _integrate

from hipmon import rotations as rot
from hipmon.simulate import GRAVITY_MPS2, simulate
from hipmon.simulate.imu import IDEAL_OFF
from hipmon.simulate.tissue import wobble_template

G = np.array([0.0, GRAVITY_MPS2, 0.0])


def _arrays(sim):
    return [a for s in sim.sensors.values()
            for a in (s.time_session_s, s.time_sensor_s, s.acc_sensor, s.gyr_sensor, s.mag_sensor)]


def test_on_by_default():
    sim = simulate("run", 8.0, seed=4)
    assert sim.imu.soft_tissue
    for s in sim.sensors.values():
        assert s.q_sensor_segment_t is not None


def test_off_ignores_the_amplitudes(tmp_path):
    base = simulate("run", 8.0, seed=4, soft_tissue=False)
    off = simulate("run", 8.0, seed=4, soft_tissue=False, soft_tissue_mm=25.0, soft_tissue_deg=9.0)
    for a, b in zip(_arrays(base), _arrays(off)):
        assert np.array_equal(a, b)
    for s in off.sensors.values():
        assert s.q_sensor_segment_t is None and s.position_segment_t_m is None
    base.write_dir(tmp_path / "a")
    off.write_dir(tmp_path / "b")
    for f in ("pelvis.csv", "right_thigh.csv", "simulation.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert "soft_tissue" not in (tmp_path / "a" / "simulation.json").read_text()


def test_ideal_switches_it_off_unless_asked():
    assert "soft_tissue" in IDEAL_OFF
    a = simulate("run", 8.0, seed=4, ideal=True)
    b = simulate("run", 8.0, seed=4, ideal=True, soft_tissue_mm=25.0)
    for x, y in zip(_arrays(a), _arrays(b)):
        assert np.array_equal(x, y)
    c = simulate("run", 8.0, seed=4, ideal=True, soft_tissue=True)
    assert c.sensors["right_thigh"].q_sensor_segment_t is not None


@pytest.fixture(scope="module")
def sta_run():
    """A run with the artefact on and ideal sensors, sampled at 1040 Hz (second differences stay exact)."""
    return simulate("run", 12.0, seed=3, ideal=True, soft_tissue=True, soft_tissue_mm=12.0, soft_tissue_deg=4.0,
                    soft_tissue_wobble=1.0, rate_hz=1040.0)


def test_wobble_moves_the_sensor_by_the_requested_amplitude():
    # wobble alone at its full amplitude (default: 0.4 of it; the rest of the amplitude is the slide)
    sim = simulate("run", 12.0, seed=5, ideal=True, soft_tissue=True, soft_tissue_mm=12.0, soft_tissue_deg=4.0,
                   soft_tissue_wobble=1.0, soft_tissue_slide=0.0, soft_tissue_creep_deg=0.0)
    for p in ("left_thigh", "right_thigh"):
        s = sim.sensors[p]
        t = s.time_session_s
        d = 1e3 * np.linalg.norm(s.position_segment_t_m - s.position_segment_m, axis=1)
        a = rot.angle_between_deg(s.q_sensor_segment_t, s.q_sensor_segment[None])
        assert d[t < 4.0].max() == 0.0 and a[t < 4.0].max() == 0.0  # quiet standing: nominal mounting
        # per-stride peaks (one impact per stride on each leg, 0.7 s apart) in steady running
        stride = 0.69
        peaks_d, peaks_a = [], []
        for t0 in np.arange(7.0, 11.3, stride):
            k = (t >= t0) & (t < t0 + stride)
            peaks_d.append(d[k].max())
            peaks_a.append(a[k].max())
        assert np.median(peaks_d) == pytest.approx(12.0, rel=0.25)
        assert np.median(peaks_a) == pytest.approx(4.0, rel=0.25)
        assert s.params["soft_tissue_impacts"] >= 8 and s.params["soft_tissue_mean_severity"] > 0.7
    # the sacral sensor moves by a third of that
    dp = 1e3 * np.linalg.norm(sim.sensors["pelvis"].position_segment_t_m - sim.sensors["pelvis"].position_segment_m,
                              axis=1)
    assert 1.5 < dp.max() < 8.0


def test_slide_follows_the_hip_angles():
    """Without wobble and creep the sensor's offset is linear in the hip angles: translation A at 60° of
    flexion (A/2 for adduction, IR); rotation about the femur's long axis ±(β_f flex + β_a add − κ IR),
    and γ flex about an axis in the segment's X–Z plane (issue 10's gains, docs/simulator.md)."""
    sim = simulate("run", 12.0, seed=5, ideal=True, soft_tissue=True, soft_tissue_mm=12.0, soft_tissue_deg=4.0,
                   soft_tissue_wobble=0.0, soft_tissue_creep_deg=0.0, soft_tissue_axial_flex=0.3,
                   soft_tissue_axial_add=0.5, soft_tissue_axial_ir=0.7, soft_tissue_transverse_flex=0.1)
    for p, cols, sg in (("left_thigh", [3, 4, 5], -1.0), ("right_thigh", [6, 7, 8], 1.0)):
        s = sim.sensors[p]
        ang = np.radians(sim.angles_at(s.time_session_s)[:, cols])
        d = 1e3 * (s.position_segment_t_m - s.position_segment_m)
        m, *_ = np.linalg.lstsq(ang, d, rcond=None)
        assert np.abs(ang @ m - d).max() < 1e-3 * 12.0  # linear in the angles
        assert np.linalg.norm(m[0]) * np.radians(60) == pytest.approx(12.0, rel=1e-3)
        theta = rot.to_rotvec(rot.multiply(s.q_sensor_segment_t, rot.conjugate(s.q_sensor_segment)[None]))
        g, *_ = np.linalg.lstsq(ang, theta, rcond=None)  # g[k] = rotation vector per rad of angle k
        assert np.abs(ang @ g - theta).max() < 1e-6
        assert g[:, 1] == pytest.approx(sg * np.array([0.3, 0.5, -0.7]), abs=1e-6)  # long axis
        assert np.hypot(g[0, 0], g[0, 2]) == pytest.approx(0.1, abs=1e-6)  # transverse, flexion only
        assert np.abs(g[1:, [0, 2]]).max() < 1e-9


def test_sacral_sensor_rocks_with_the_legs_and_creep_holds_still():
    sim = simulate("walk", 20.0, seed=2, ideal=True, soft_tissue=True, soft_tissue_wobble=0.0)
    s = sim.sensors["pelvis"]
    t = s.time_session_s
    ang = np.radians(sim.angles_at(t))
    theta = rot.to_rotvec(rot.multiply(s.q_sensor_segment_t, rot.conjugate(s.q_sensor_segment)[None]))
    rock = 0.5 * (ang[:, 3] - ang[:, 6])
    k = t > 6.0
    gain = np.polyfit(rock[k], theta[k, 0], 1)[0]
    # rock 0.22 rad/rad about −X (the real walk's sign and size); the rest of θ_X is creep (SD 2° × 0.3)
    assert gain == pytest.approx(-0.22, abs=0.05)
    assert np.abs(theta[t < 3.5]).max() < np.radians(0.05)  # standing before the walk: nominal mounting
    th = sim.sensors["right_thigh"]
    creep = rot.to_rotvec(rot.multiply(th.q_sensor_segment_t, rot.conjugate(th.q_sensor_segment)[None]))
    assert np.degrees(np.abs(creep[th.time_session_s > 8]).max()) > 1.0  # the thigh strap has moved


@pytest.mark.parametrize("placement", ["pelvis", "left_thigh", "right_thigh"])
def test_gyro_integrates_to_the_wobbling_orientation(sta_run, placement):
    s = sta_run.sensors[placement]
    q_seg, _ = sta_run.pose_at(s.time_session_s)
    q_true = rot.multiply(q_seg[placement], s.q_sensor_segment_t)
    q_est = _integrate(q_true[0], s.gyr_sensor, s.time_session_s)
    assert rot.angle_between_deg(q_est, q_true).max() < 0.1
    # the artefact is real: the rigidly mounted orientation is degrees away
    q_rigid = rot.multiply(q_seg[placement], s.q_sensor_segment[None])
    assert rot.angle_between_deg(q_est, q_rigid).max() > (1.0 if placement == "pelvis" else 3.0)


@pytest.mark.parametrize("placement", ["pelvis", "right_thigh"])
def test_accelerometer_is_the_moving_sensors_specific_force(sta_run, placement):
    s = sta_run.sensors[placement]
    t = s.time_session_s
    q_seg, p_seg = sta_run.pose_at(t)
    p_sensor = p_seg[placement] + rot.rotate(q_seg[placement], s.position_segment_t_m)
    dt = t[1] - t[0]
    acc_global = (p_sensor[2:] - 2 * p_sensor[1:-1] + p_sensor[:-2]) / dt**2
    q_sg = rot.multiply(q_seg[placement], s.q_sensor_segment_t)
    f = rot.rotate(rot.conjugate(q_sg[1:-1]), acc_global + G)
    err = np.linalg.norm(s.acc_sensor[1:-1] - f, axis=1)
    assert np.sqrt(np.mean(err**2)) < 0.1
    # the artefact shows in the signal: the rigid sensor's specific force differs by many m/s²
    p_rigid = p_seg[placement] + rot.rotate(q_seg[placement], np.broadcast_to(s.position_segment_m, p_sensor.shape))
    acc_rigid = (p_rigid[2:] - 2 * p_rigid[1:-1] + p_rigid[:-2]) / dt**2
    f_rigid = rot.rotate(rot.conjugate(q_sg[1:-1]), acc_rigid + G)
    assert np.linalg.norm(s.acc_sensor[1:-1] - f_rigid, axis=1).max() > 10.0


def test_rest_reads_gravity_after_the_landings():
    sim = simulate("jump", 60.0, seed=2, ideal=True, sway=0.0, soft_tissue=True, soft_tissue_mm=20.0,
                   soft_tissue_deg=6.0)
    last_landing = max(e.start_s for e in sim.events if e.kind == "landing")
    for p, s in sim.sensors.items():
        t = s.time_session_s
        still = t > sim.seconds - 1.5  # the final standing, long after the last landing
        assert t[still].min() > last_landing + 2.0
        assert np.allclose(np.linalg.norm(s.acc_sensor[still], axis=1), GRAVITY_MPS2, atol=1e-6)
        assert np.allclose(s.gyr_sensor[still], 0.0, atol=1e-9)
        assert np.allclose(s.position_segment_t_m[still], s.position_segment_m, atol=1e-12)
        # and the landings did shake it
        assert s.params["soft_tissue_max_translation_mm"] > (2.0 if p == "pelvis" else 8.0)


def test_deterministic_per_seed_and_leaves_other_draws_alone(tmp_path):
    a = simulate("run", 8.0, seed=7, soft_tissue=True)
    b = simulate("run", 8.0, seed=7, soft_tissue=True)
    c = simulate("run", 8.0, seed=8, soft_tissue=True)
    off = simulate("run", 8.0, seed=7)
    for x, y in zip(_arrays(a), _arrays(b)):
        assert np.array_equal(x, y)
    assert not np.array_equal(a.sensors["right_thigh"].acc_sensor, c.sensors["right_thigh"].acc_sensor)
    for p in a.sensors:
        assert np.array_equal(a.sensors[p].time_session_s, off.sensors[p].time_session_s)
        for k in ("gyr_bias_rps", "acc_bias_mps2", "clock_offset_s"):
            assert a.sensors[p].params[k] == off.sensors[p].params[k]
    params = json.loads(a.write_dir(tmp_path).joinpath("simulation.json").read_text())
    assert params["imu"]["soft_tissue"] is True and params["imu"]["soft_tissue_mm"] == 10.0
    assert params["sensors"]["right_thigh"]["soft_tissue_impacts"] > 0


def test_wobble_template_is_a_damped_oscillation():
    x, t_end = wobble_template(15.0, 0.3)
    t = np.linspace(0.0, t_end, 20001)
    y = x(t)
    assert np.abs(y).max() == pytest.approx(1.0, abs=1e-3)
    assert abs(y[0]) < 1e-9 and abs(y[-1]) < 1e-9
    # successive peaks of the free oscillation fall by exp(−2πζ/√(1−ζ²)) per period (ζ = 0.3: ×0.14)
    peaks = np.flatnonzero((y[1:-1] > y[:-2]) & (y[1:-1] > y[2:]) & (y[1:-1] > 1e-3)) + 1
    assert len(peaks) >= 2
    period = t[peaks[1]] - t[peaks[0]]
    assert period == pytest.approx(1.0 / (15.0 * np.sqrt(1 - 0.09)), rel=0.03)
    assert y[peaks[1]] / y[peaks[0]] == pytest.approx(np.exp(-2 * np.pi * 0.3 / np.sqrt(1 - 0.09)), rel=0.1)


def test_cli_switch(tmp_path):
    from hipmon.cli import main

    args = ["simulate", "run", "--seconds", "8", "--seed", "2"]
    assert main(args + ["--soft-tissue", "on", "--soft-tissue-mm", "15", "-o", str(tmp_path / "on")]) == 0
    assert main(args + ["--soft-tissue", "off", "--soft-tissue-mm", "15", "-o", str(tmp_path / "off")]) == 0
    assert main(args + ["-o", str(tmp_path / "plain")]) == 0  # on by default (issue 10)
    assert main(args + ["--soft-tissue", "on", "-o", str(tmp_path / "on10")]) == 0
    on = json.loads((tmp_path / "on" / "simulation.json").read_text())
    assert on["imu"]["soft_tissue"] is True and on["imu"]["soft_tissue_mm"] == 15.0
    off = json.loads((tmp_path / "off" / "simulation.json").read_text())
    assert "soft_tissue" not in off["imu"]
    for f in ("right_thigh.csv", "simulation.json"):
        assert (tmp_path / "on10" / f).read_bytes() == (tmp_path / "plain" / f).read_bytes()
    for d in ("on", "off"):
        assert (tmp_path / d / "right_thigh.csv").read_bytes() != (tmp_path / "plain" / "right_thigh.csv").read_bytes()
