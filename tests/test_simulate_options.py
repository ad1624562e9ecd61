"""Every simulator option changes what it says it changes (and nothing it should not)."""

import numpy as np
import pytest

from hipmon import rotations as rot
from hipmon.cli import main
from hipmon.simulate import GRAVITY_MPS2, simulate

DEG = np.pi / 180


def _stance_means(sim, side, t_from=0.0, t_to=np.inf):
    ev = [e for e in sim.events if e.kind == "stance" and e.side == side and e.extra["amplitude"] > 0.999
          and t_from <= e.start_s < t_to]
    return {k: float(np.mean([getattr(e, f"peak_{k}_deg") for e in ev]))
            for k in ("pelvic_drop", "hip_adduction", "hip_internal_rotation")}


@pytest.fixture(scope="module")
def base_run():
    return simulate("run", 30.0, seed=21)


def test_right_drop_raises_right_stance_drop_only(base_run):
    sim = simulate("run", 30.0, seed=21, right_drop_deg=9.0)
    r0, r1 = _stance_means(base_run, "right"), _stance_means(sim, "right")
    l0, l1 = _stance_means(base_run, "left"), _stance_means(sim, "left")
    assert r1["pelvic_drop"] == pytest.approx(9.0, abs=0.6)
    assert r1["pelvic_drop"] - r0["pelvic_drop"] == pytest.approx(4.0, abs=0.3)
    # the thigh keeps its frontal angle: the hip adducts by the extra drop
    assert r1["hip_adduction"] - r0["hip_adduction"] == pytest.approx(4.0, abs=0.5)
    assert l1["pelvic_drop"] == pytest.approx(l0["pelvic_drop"], abs=0.3)


def test_right_valgus_adds_adduction_and_internal_rotation(base_run):
    sim = simulate("run", 30.0, seed=21, right_valgus_deg=6.0)
    r0, r1 = _stance_means(base_run, "right"), _stance_means(sim, "right")
    assert r1["hip_adduction"] - r0["hip_adduction"] == pytest.approx(6.0, abs=0.4)
    assert r1["hip_internal_rotation"] - r0["hip_internal_rotation"] == pytest.approx(6.0, abs=0.4)
    assert r1["pelvic_drop"] == pytest.approx(r0["pelvic_drop"], abs=0.2)
    l0, l1 = _stance_means(base_run, "left"), _stance_means(sim, "left")
    assert l1["hip_adduction"] == pytest.approx(l0["hip_adduction"], abs=0.3)


def test_right_hip_tires_over_the_run():
    sim = simulate("run", 70.0, seed=5, preset="right_hip_tires")  # 6° over 40 s from 15 s into the run
    start = sim.athlete.stand_s
    early_r = _stance_means(sim, "right", start + 3, start + 15)
    late_r = _stance_means(sim, "right", start + 55.5, 70)
    early_l = _stance_means(sim, "left", start + 3, start + 15)
    late_l = _stance_means(sim, "left", start + 55.5, 70)
    assert late_r["pelvic_drop"] - early_r["pelvic_drop"] == pytest.approx(6.0, abs=1.0)
    assert late_r["hip_adduction"] - early_r["hip_adduction"] == pytest.approx(9.0, abs=1.2)
    assert abs(late_l["pelvic_drop"] - early_l["pelvic_drop"]) < 1.0


def test_cadence_speed_and_treadmill():
    tread = simulate("run", 20.0, seed=1, cadence_spm=180.0)
    st = sorted([e.start_s for e in tread.events if e.extra["amplitude"] > 0.999])
    assert 60.0 / np.mean(np.diff(st)) == pytest.approx(180.0, abs=2.0)
    x = tread.pos_segment_global["pelvis"][:, 0]
    assert np.ptp(x) < 0.05  # treadmill: the pelvis stays put
    over = simulate("run", 20.0, seed=1, treadmill=False, speed_mps=4.0)
    x = over.pos_segment_global["pelvis"][:, 0]
    t = over.truth_time_s
    late = t > 10
    v = np.polyfit(t[late], x[late], 1)[0]
    assert v == pytest.approx(4.0, abs=0.02)


@pytest.fixture(scope="module")
def still():
    """Quiet standing without sway: what the sensor reads is its error model."""
    return simulate("stand", 20.0, seed=8, sway=0.0)


def test_noise_option_scales_white_noise(still):
    quiet = simulate("stand", 20.0, seed=8, sway=0.0, noise=0.0)
    loud = simulate("stand", 20.0, seed=8, sway=0.0, noise=10.0)
    for name in ("pelvis", "left_thigh"):
        sd1 = np.std(still.sensors[name].acc_sensor, axis=0)
        sd0 = np.std(quiet.sensors[name].acc_sensor, axis=0)
        sd10 = np.std(loud.sensors[name].acc_sensor, axis=0)
        expected = 90e-6 * GRAVITY_MPS2 * np.sqrt(104.0)
        assert np.allclose(sd0, 0.0, atol=1e-9)
        assert np.allclose(sd1, expected, rtol=0.1)
        assert np.allclose(sd10, 10 * expected, rtol=0.1)


def test_gyro_bias_constant_and_drift(still):
    s = still.sensors["pelvis"]
    bias = np.array(s.params["gyr_bias_rps"])
    assert np.all(np.abs(bias) > 0)
    assert np.allclose(s.gyr_sensor[:200].mean(axis=0), bias, atol=2e-3)
    no_bias = simulate("stand", 20.0, seed=8, sway=0.0, gyro_bias=False, gyro_bias_drift=False, noise=0.0)
    assert np.allclose(no_bias.sensors["pelvis"].gyr_sensor, 0.0, atol=1e-9)
    drift_only = simulate("stand", 20.0, seed=8, sway=0.0, gyro_bias=False, noise=0.0, gyro_scale=False)
    g = drift_only.sensors["pelvis"].gyr_sensor
    assert np.allclose(g[0], 0.0, atol=1e-4)
    assert np.allclose(g[-1], drift_only.sensors["pelvis"].params["gyr_bias_drift_final_rps"], atol=1e-12)
    assert np.linalg.norm(g[-1]) > 1e-4  # a random walk has moved


def test_accelerometer_bias_and_scale_error():
    ideal = simulate("stand", 10.0, seed=3, sway=0.0, ideal=True)
    biased = simulate("stand", 10.0, seed=3, sway=0.0, ideal=True, acc_bias=True, acc_scale=True)
    s0, s1 = ideal.sensors["right_thigh"], biased.sensors["right_thigh"]
    k = np.array(s1.params["acc_scale"])
    b = np.array(s1.params["acc_bias_mps2"])
    assert np.allclose(s1.acc_sensor, s0.acc_sensor * (1 + k) + b, atol=1e-9)
    assert np.all(np.abs(b) > 1e-4) and np.all(np.abs(k) > 1e-5)


def test_saturation_clips_at_the_range():
    sim = simulate("run", 15.0, seed=2, ideal=True, saturation=True, acc_range_g=2.0, gyr_range_dps=250.0)
    s = sim.sensors["right_thigh"]
    assert np.abs(s.acc_sensor).max() == pytest.approx(2.0 * GRAVITY_MPS2)
    assert np.abs(s.gyr_sensor).max() == pytest.approx(250.0 * DEG)
    free = simulate("run", 15.0, seed=2, ideal=True)
    assert np.abs(free.sensors["right_thigh"].acc_sensor).max() > 2.5 * GRAVITY_MPS2


def test_magnetometer_earth_field_and_disturbance():
    clean = simulate("stand", 5.0, seed=1, sway=0.0, ideal=True)
    s = clean.sensors["pelvis"]
    assert np.allclose(np.linalg.norm(s.mag_sensor, axis=1), 49.0, atol=1e-9)
    # dip: the field points 64° below horizontal, i.e. 154° from the accelerometer's "up"
    cosang = np.sum(s.mag_sensor * s.acc_sensor, axis=1) / (49.0 * GRAVITY_MPS2)
    assert np.degrees(np.arccos(cosang)).mean() == pytest.approx(90.0 + 64.0, abs=1e-6)
    dist = simulate("stand", 5.0, seed=1, sway=0.0, ideal=True, mag_disturbance=True).sensors
    # the floor dipole disturbs the low thigh sensors more than the pelvis
    d_thigh = np.abs(np.linalg.norm(dist["left_thigh"].mag_sensor, axis=1) - 49.0).mean()
    d_pelvis = np.abs(np.linalg.norm(dist["pelvis"].mag_sensor, axis=1) - 49.0).mean()
    assert d_thigh > 1.0 and d_thigh > d_pelvis


def test_mounting_options():
    aligned = simulate("stand", 5.0, seed=1, mounting="aligned")
    default = simulate("stand", 5.0, seed=1)
    r1 = simulate("stand", 5.0, seed=1, mounting="random")
    r2 = simulate("stand", 5.0, seed=2, mounting="random")
    for name in ("pelvis", "left_thigh", "right_thigh"):
        assert np.allclose(aligned.sensors[name].q_sensor_segment, [1, 0, 0, 0])
        # the default strap-on orientation is far from the segment axes
        assert rot.angle_between_deg(default.sensors[name].q_sensor_segment, [1, 0, 0, 0]) > 60.0
        assert rot.angle_between_deg(r1.sensors[name].q_sensor_segment, r2.sensors[name].q_sensor_segment) > 1.0
    # aligned sensor on a still segment: gravity on the sensor's Y axis
    assert np.allclose(simulate("stand", 5.0, seed=1, mounting="aligned", ideal=True, sway=0.0)
                       .sensors["pelvis"].acc_sensor, [0.0, GRAVITY_MPS2, 0.0], atol=1e-9)
    q = rot.from_axis_angle([0, 0, 1], np.pi / 2)
    custom = simulate("stand", 5.0, seed=1, mounting={"pelvis": q, "left_thigh": q, "right_thigh": q})
    assert np.allclose(custom.sensors["pelvis"].q_sensor_segment, q)


def test_lever_arm_option():
    on = simulate("stand", 5.0, seed=1)
    off = simulate("stand", 5.0, seed=1, lever_arm=False)
    assert np.linalg.norm(on.sensors["right_thigh"].position_segment_m) > 0.1
    assert np.allclose(off.sensors["right_thigh"].position_segment_m, 0.0)


def test_clock_and_timing_options():
    sim = simulate("stand", 60.0, seed=6)
    rates = []
    for s in sim.sensors.values():
        drift = s.params["clock_drift_ppm"]
        assert abs(drift) <= 50.0
        slope = np.polyfit(s.time_session_s, s.time_sensor_s, 1)[0]
        assert (slope - 1) * 1e6 == pytest.approx(drift, abs=0.01)
        assert s.time_sensor_s[0] - s.time_session_s[0] == pytest.approx(s.params["clock_offset_s"], abs=1e-6)
        dt = np.diff(s.time_session_s)
        assert np.all(dt > 0)
        assert np.std(dt) > 5e-6  # per-sample jitter
        rates.append(1.0 / np.mean(dt))
    assert np.ptp(rates) > 0.01  # each sensor's oscillator differs
    assert all(abs(r / 208.0 - 1) < 0.0031 for r in rates)
    firsts = [s.time_session_s[0] for s in sim.sensors.values()]
    assert len(set(firsts)) == 3
    plain = simulate("stand", 10.0, seed=6, clock=False, timing=False)
    for s in plain.sensors.values():
        assert np.allclose(s.time_sensor_s, s.time_session_s)
        assert np.allclose(s.time_session_s, np.arange(len(s.time_session_s)) / 208.0)


def test_unknown_option_and_kind_are_errors():
    with pytest.raises(ValueError, match="unknown simulate option"):
        simulate("run", 10.0, seed=1, right_dorp_deg=3.0)
    with pytest.raises(ValueError, match="unknown kind"):
        simulate("sprint", 10.0, seed=1)
    with pytest.raises(ValueError, match="give at least"):
        simulate("squat", 15.0, seed=1)


def test_cli_writes_identical_sessions(tmp_path, capsys):
    args = ["simulate", "run", "--seconds", "10", "--seed", "3", "--right-drop", "8"]
    assert main(args + ["-o", str(tmp_path / "a")]) == 0
    assert main(args + ["-o", str(tmp_path / "b")]) == 0
    for f in ("pelvis.csv", "left_thigh.csv", "right_thigh.csv", "truth.csv", "events.csv", "simulation.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    import json
    params = json.loads((tmp_path / "a" / "simulation.json").read_text())
    assert params["athlete"]["right_drop_deg"] == 8.0
    assert main(["simulate", "squat", "--seconds", "10", "-o", str(tmp_path / "c")]) == 2
    assert "give at least" in capsys.readouterr().err


def test_every_on_off_switch_of_the_imu_model_has_a_cli_flag():
    # the CLI keeps its own list (importing the simulator at start-up would load scipy for
    # every command); this keeps the list and ImuModel's bool fields the same
    from dataclasses import fields

    from hipmon.commands.simulate import _SWITCHES
    from hipmon.simulate.imu import ImuModel

    assert set(_SWITCHES) == {f.name for f in fields(ImuModel) if f.type in ("bool", bool)}
