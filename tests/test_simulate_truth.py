"""Simulator truth: angle conventions from known poses, events, calibration sequence, determinism."""

import filecmp

import numpy as np
import pytest

from hipmon import kinematics as kin
from hipmon import rotations as rot
from hipmon.simulate import simulate
from hipmon.simulate.athlete import Athlete
from hipmon.simulate.motion import KeyframePhase, Motion, _angles
from hipmon.types import ANGLE_COLUMNS

COL = {c: i for i, c in enumerate(ANGLE_COLUMNS)}
X, Y, Z = np.eye(3)


def _pose(angles_deg):
    """Motion holding ``angles_deg`` (9,) at t = 1 s; returns (truth angles (9,), q, pos) there."""
    ph = KeyframePhase(0.0, 0.0, 0.92)
    ph.angles_at(1.0, angles_deg)
    ph.pos_at(1.0, [0.0, 0.92, 0.0])
    ph.angles_at(2.0, angles_deg)
    ph.finish()
    m = Motion([ph], 2.0, Athlete())
    q, pos = m.pose(np.array([1.0]))
    ang = kin.all_angles_deg(q["pelvis"], q["left_thigh"], q["right_thigh"])[0]
    return ang, q, pos


def test_pure_right_hip_adduction_reads_10_and_moves_the_knee_medially():
    ang, q, pos = _pose(_angles(add=(0.0, 10.0)))
    assert ang[COL["hip_adduction_right_deg"]] == pytest.approx(10.0, abs=1e-9)
    others = np.delete(ang, COL["hip_adduction_right_deg"])
    assert np.allclose(others, 0.0, atol=1e-9)
    knee = pos["right_thigh"][0] + rot.rotate(q["right_thigh"][0], -0.4 * Y)
    # medial for the right leg is −Z: the knee moves in by 0.4 sin 10°
    assert knee[2] - pos["right_thigh"][0, 2] == pytest.approx(-0.4 * np.sin(np.radians(10.0)), abs=1e-9)


def test_left_hip_adduction_is_mirrored():
    ang, q, pos = _pose(_angles(add=(10.0, 0.0), ir=(5.0, 0.0)))
    assert ang[COL["hip_adduction_left_deg"]] == pytest.approx(10.0, abs=1e-9)
    assert ang[COL["hip_internal_rotation_left_deg"]] == pytest.approx(5.0, abs=1e-9)
    knee = pos["left_thigh"][0] + rot.rotate(q["left_thigh"][0], -0.4 * Y)
    assert knee[2] - pos["left_thigh"][0, 2] > 0.06  # medial for the left leg is +Z
    # internal rotation turns the thigh's anterior axis medially (+Z for the left)
    assert rot.rotate(q["left_thigh"][0], X)[2] > 0


def test_right_side_up_pelvis_is_positive_obliquity():
    ang, q, pos = _pose(_angles(obl=6.0))
    assert ang[COL["pelvis_obliquity_deg"]] == pytest.approx(6.0, abs=1e-9)
    dy = pos["right_thigh"][0, 1] - pos["left_thigh"][0, 1]
    assert dy == pytest.approx(2 * 0.085 * np.sin(np.radians(6.0)), abs=1e-12)
    # a vertical thigh under a pelvis whose left side dropped: both hips read ∓6° (right add, left abd)
    assert ang[COL["hip_adduction_right_deg"]] == pytest.approx(0.0, abs=1e-9)


@pytest.fixture(scope="module")
def run_sim():
    return simulate("run", 40.0, seed=4, truth_rate_hz=200.0)


def test_input_angles_round_trip_through_orientations(run_sim):
    """The simulator's own quaternion composition agrees with hipmon.kinematics."""
    t = run_sim.truth_time_s[::7]
    ang_in, _ = run_sim.motion.angles_and_pelvis(t)
    assert np.allclose(run_sim.truth_angles_deg[::7], ang_in, atol=1e-6)


def test_running_contralateral_drop_is_geometric_pelvis_drop(run_sim):
    sim = run_sim
    dy = sim.pos_segment_global["right_thigh"][:, 1] - sim.pos_segment_global["left_thigh"][:, 1]
    obl = np.degrees(np.arcsin(dy / (2 * 0.085)))
    assert np.allclose(obl, sim.truth_angles_deg[:, COL["pelvis_obliquity_deg"]], atol=1e-6)
    right = [e for e in sim.events if e.side == "right" and e.extra["amplitude"] > 0.999]
    left = [e for e in sim.events if e.side == "left" and e.extra["amplitude"] > 0.999]
    assert len(right) > 40 and len(left) > 40
    # in right stance the left pelvis drops (right side higher): healthy ≈ 5°
    assert np.mean([e.peak_pelvic_drop_deg for e in right]) == pytest.approx(5.0, abs=0.6)
    assert np.mean([e.peak_pelvic_drop_deg for e in left]) == pytest.approx(5.0, abs=0.6)
    assert np.mean([e.peak_hip_adduction_deg for e in right]) == pytest.approx(12.0, abs=0.8)
    assert np.mean([e.peak_hip_internal_rotation_deg for e in right]) == pytest.approx(3.0, abs=0.8)
    # stride-to-stride variability exists but is modest
    assert 0.3 < np.std([e.peak_pelvic_drop_deg for e in right]) < 1.5


def test_event_peaks_agree_with_truth_grid(run_sim):
    sim = run_sim
    t = sim.truth_time_s
    for e in sim.events[10:30]:
        m = (t >= e.start_s) & (t <= e.end_s)
        drop = kin.contralateral_pelvic_drop_deg(sim.truth_angles_deg[m, COL["pelvis_obliquity_deg"]], e.side)
        add = sim.truth_angles_deg[m, COL[f"hip_adduction_{e.side}_deg"]]
        assert e.peak_pelvic_drop_deg == pytest.approx(drop.max(), abs=0.05)
        assert e.peak_hip_adduction_deg == pytest.approx(add.max(), abs=0.05)
        assert e.start_s == e.extra["initial_contact_s"] and e.end_s == e.extra["toe_off_s"]


def test_running_stance_and_flight_timing(run_sim):
    st = sorted([e for e in run_sim.events if e.extra["amplitude"] > 0.999], key=lambda e: e.start_s)
    contact = np.array([e.end_s - e.start_s for e in st])
    step = np.diff([e.start_s for e in st])
    assert np.all(np.diff([0 if e.side == "left" else 1 for e in st]) != 0)  # sides alternate
    assert 0.20 < contact.mean() < 0.30  # contact time at 3.3 m/s
    assert 60.0 / step.mean() == pytest.approx(150 + 6 * 3.3, abs=2.0)  # cadence, steps/min
    assert np.all(contact[:-1] < step)  # a flight phase between steps


def test_session_starts_with_quiet_standing_in_the_neutral_pose():
    sim = simulate("squat", 45.0, seed=1, sway=0.0)
    still = sim.truth_time_s < sim.athlete.stand_s
    assert still.sum() >= 3 * sim.truth_rate_hz
    assert np.allclose(sim.truth_angles_deg[still], 0.0, atol=1e-9)
    # facing +X: the pelvis anterior axis is global X
    q = sim.q_segment_global["pelvis"][still]
    assert np.allclose(rot.rotate(q, np.broadcast_to(X, (len(q), 3))), X, atol=1e-9)
    # then at least 10 walking steps before the first repetition
    first_rep = min(e.start_s for e in sim.events if e.kind == "rep")
    steps = [e for e in sim.events if e.kind == "stance" and e.end_s < first_rep]
    assert len(steps) >= 10


@pytest.mark.parametrize("kind,event_kind", [("jump", "landing"), ("squat", "rep"), ("stance", "hold"),
                                             ("walk", "stance")])
def test_each_task_has_its_events(kind, event_kind):
    sim = simulate(kind, 60.0, seed=3)
    ev = [e for e in sim.events if e.kind == event_kind]
    assert ev, kind
    for e in ev:
        assert e.end_s > e.start_s
        assert np.isfinite(e.peak_hip_adduction_deg)
    if kind == "stance":
        assert {e.side for e in ev} == {"left", "right"}
        assert all(e.end_s - e.start_s > 10.0 for e in ev)
    if kind == "squat":
        flex = sim.truth_angles_deg[:, COL["hip_flexion_right_deg"]]
        assert flex.max() == pytest.approx(65.0, abs=8.0)


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = simulate("run", 12.0, seed=9).write_dir(tmp_path / "a")
    b = simulate("run", 12.0, seed=9).write_dir(tmp_path / "b")
    c = simulate("run", 12.0, seed=10).write_dir(tmp_path / "c")
    names = ["pelvis.csv", "left_thigh.csv", "right_thigh.csv", "truth.csv", "events.csv", "simulation.json"]
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert match == names and not errors
    assert (a / "pelvis.csv").read_bytes() != (c / "pelvis.csv").read_bytes()
    assert (a / "truth.csv").read_bytes() != (c / "truth.csv").read_bytes()


def test_write_dir_formats(tmp_path):
    sim = simulate("run", 12.0, seed=2)
    out = sim.write_dir(tmp_path)
    header = (out / "pelvis.csv").read_text().splitlines()[0]
    assert header == "time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z,mag_x,mag_y,mag_z"
    data = np.loadtxt(out / "right_thigh.csv", delimiter=",", skiprows=1)
    s = sim.sensors["right_thigh"]
    assert data.shape == (len(s.time_session_s), 10)
    assert np.allclose(data[:, 0], s.time_session_s, atol=2e-6)  # session time, not the sensor clock
    assert np.allclose(data[:, 1:4], s.acc_sensor, atol=1e-4)
    truth = (out / "truth.csv").read_text().splitlines()
    assert truth[0] == "time_s," + ",".join(ANGLE_COLUMNS)
    ev = (out / "events.csv").read_text().splitlines()
    assert ev[0].startswith("kind,side,start_s,end_s,peak_pelvic_drop_deg,peak_hip_adduction_deg,"
                            "peak_hip_internal_rotation_deg,alert")
    assert len(ev) == len(sim.events) + 1
    import json
    params = json.loads((out / "simulation.json").read_text())
    assert params["sensors"]["pelvis"]["q_sensor_segment"] == pytest.approx(list(sim.sensors["pelvis"].q_sensor_segment))
