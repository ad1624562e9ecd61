"""One sensor on the sacrum (issue 11), and a session that loses a thigh part-way.

- a sacrum-only session through ``hipmon import --pelvis`` -> info / analyze / export,
  pelvis angles against the simulator's truth, stances with their sides;
- the real neura walk's pelvis sensor alone against its markers (and against the
  three-sensor run), the real mobgap lower-back sensors' forward axis against their
  documented mounting;
- a thigh lost for 5 s: the pelvis and the other hip unchanged, the lost hip NaN over the gap.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from _real import loader
from hipmon import rotations as rot
from hipmon.cli import main
from hipmon.events import match_events
from hipmon.pipeline import PipelineConfig, process_samples
from hipmon.types import SensorSpec
from hipmon.simulate import simulate


def _truth_on(sim, time_s):
    return np.array([np.interp(time_s, sim.truth_time_s, sim.truth_angles_deg[:, i]) for i in range(9)]).T


def _rms(x, axis=0):
    return np.sqrt(np.nanmean(np.asarray(x) ** 2, axis=axis))


# ---------------------------------------------------------------- simulated sacrum-only session, end to end


@pytest.fixture(scope="module")
def rigid_walk():
    # rigid sensors: the events' side cue is the pelvic obliquity rate, which the simulator's
    # default sacral soft tissue scrambles for every calibration (three sensors too: docs/calibration.md)
    return simulate("walk", 25, seed=4, ideal=True)


def test_sacrum_only_import_info_analyze_export(rigid_walk, tmp_path, capsys):
    sim = rigid_walk
    sim.write_dir(tmp_path / "sim")
    session = tmp_path / "s.hipmon"
    assert main(["import", "--pelvis", str(tmp_path / "sim" / "pelvis.csv"), "-o", str(session)]) == 0
    capsys.readouterr()

    assert main(["info", str(session), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["placements"] == ["pelvis"]
    assert "pelvis_obliquity" in info["measurable"] and "peak_pelvic_drop" in info["measurable"]
    assert "hip_adduction" in info["not_measurable"] and "thigh" in info["not_measurable"]["hip_adduction"]

    assert main(["analyze", str(session), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert "hip_internal_rotation" in summary["not_measurable"]
    sides = summary["kinds"]["stance"]["sides"]
    true_stances = [e for e in sim.events if e.kind == "stance"]
    assert sides["left"]["count"] + sides["right"]["count"] >= len(true_stances) - 2
    assert main(["analyze", str(session)]) == 0
    assert "need" in capsys.readouterr().out  # the text says the hip metrics need thigh sensors

    angles, events = tmp_path / "a.csv", tmp_path / "e.csv"
    assert main(["export", str(session), "--angles", str(angles), "--events", str(events)]) == 0
    err = capsys.readouterr().err
    assert "hip_adduction_left_deg" in err and "thigh" in err
    with open(angles) as f:
        rows = list(csv.reader(f))
    from hipmon.types import ANGLE_COLUMNS

    assert tuple(rows[0]) == ("time_s",) + ANGLE_COLUMNS
    a = np.array([[float(x) if x else np.nan for x in r] for r in rows[1:]])
    assert np.isnan(a[:, 4:]).all() and np.isfinite(a[:, 1:4]).all()
    truth = _truth_on(sim, a[:, 0])
    rmse = _rms(a[:, 1:4] - truth[:, :3])
    # measured (seed 4, rigid): tilt 0.5, obliquity 0.3, rotation 0.8 deg
    assert np.all(rmse < [1.0, 1.0, 1.5]), rmse
    assert np.corrcoef(a[:, 2], truth[:, 1])[0, 1] > 0.98  # obliquity's sign: forward found the right way

    with open(events) as f:
        ev = list(csv.DictReader(f))
    from hipmon.types import Event

    found = [Event("stance", r["side"], float(r["start_s"]), float(r["end_s"])) for r in ev if r["kind"] == "stance"]
    pairs = match_events(found, true_stances, tol_s=0.1)  # same side within 0.1 s
    assert len(pairs) >= 0.95 * len(true_stances), (len(pairs), len(true_stances))
    assert all(r["peak_hip_adduction_deg"] == "" for r in ev)


def test_sacrum_only_matches_three_sensors_on_the_soft_tissue_walk():
    # default simulator (soft tissue on): the pelvis alone is as close to the truth as with thighs
    sim = simulate("walk", 30, seed=3)
    smp = {p: (s.time_session_s, s.acc_sensor, s.gyr_sensor, None) for p, s in sim.sensors.items()}
    rate = sim.sensors["pelvis"].rate_hz
    three = process_samples(smp, [SensorSpec(p, p, None, rate) for p in smp], PipelineConfig(events=False))
    one = process_samples({"pelvis": smp["pelvis"]}, [SensorSpec("pelvis", "pelvis", None, rate)],
                          PipelineConfig(events=False))
    assert one.calibration.trusted and set(one.calibration.q_sensor_segment) == {"pelvis"}
    r = {}
    for name, res in (("three", three), ("one", one)):
        f = res.frames
        r[name] = _rms(f.angles_deg[f.valid, :3] - _truth_on(sim, f.time_s[f.valid])[:, :3])
    # measured: one (1.3, 4.1, 0.4), three (3.5, 4.5, 0.4) deg
    assert np.all(r["one"] <= r["three"] + 0.5), r


# ---------------------------------------------------------------- real sacral sensors


@pytest.fixture(scope="module")
def neura():
    L = loader("neura-sparse-s02-walk", "load_neura")
    imu = {p: L.load_imu(p) for p in ("pelvis", "left_thigh", "right_thigh")}
    return imu, L.reference_angles(L.load_vicon())


def _neura_pelvis_error(res, ref):
    f = res.frames
    cols = ("pelvis_tilt_deg", "pelvis_obliquity_deg", "pelvis_rotation_deg")
    # the reference's rotation unwrapped before it is interpolated (between +179 and -179 lies 180, not 0)
    unwrap = {"pelvis_rotation_deg": lambda x: np.degrees(np.unwrap(np.radians(x)))}
    R = np.array([np.interp(f.time_s, ref["time_s"], unwrap.get(c, lambda x: x)(ref[c])) for c in cols]).T
    m = f.valid & (f.time_s > 11.0) & (f.time_s < 22.0)  # the walk, out and back
    d = f.angles_deg[m, :3] - R[m]
    d[:, 2] = (d[:, 2] + 180.0) % 360.0 - 180.0
    return _rms(d), f


def test_neura_pelvis_alone_against_markers(neura):
    imu, ref = neura
    specs = lambda ps: [SensorSpec(p, p, None, 100.0) for p in ps]  # noqa: E731
    one = process_samples({"pelvis": (imu["pelvis"]["time_s"], imu["pelvis"]["acc"], imu["pelvis"]["gyr"], None)},
                          specs(["pelvis"]))
    three = process_samples({p: (d["time_s"], d["acc"], d["gyr"], None) for p, d in imu.items()},
                            specs(list(imu)), PipelineConfig(events=False))
    e1, f1 = _neura_pelvis_error(one, ref)
    e3, f3 = _neura_pelvis_error(three, ref)
    # measured: pelvis alone tilt 2.50, obliquity 3.28, rotation 1.67 deg; three sensors 2.53, 3.25, 1.66.
    # The floor is the sacral sensor's own motion on the pelvis (oracle_floor.py), not the calibration:
    # bounds 20 % above the measurement, and the pelvis alone within 0.3 deg of the three-sensor run.
    assert np.all(e1 < [3.0, 3.9, 2.0]), e1
    assert np.all(np.abs(e1 - e3) < 0.3), (e1, e3)
    assert one.calibration.trusted and one.calibration.metrics["pelvis_forward_evidence"] > 0.5
    assert np.isnan(f1.angles_deg[:, 3:]).all()
    stances = [e for e in one.events if e.kind == "stance"]
    assert len(stances) >= 10 and {e.side for e in stances} == {"left", "right"}


def test_neura_pelvis_alone_rotated_and_resampled(neura):
    # the same sensor strapped on another way, or sampled at 60 Hz: the same pelvis angles
    imu, ref = neura
    d = imu["pelvis"]
    q = rot.from_axis_angle(np.array([0.3, -0.8, 0.5]) / np.linalg.norm([0.3, -0.8, 0.5]), 2.0)
    rotated = process_samples({"pelvis": (d["time_s"], rot.rotate(q, d["acc"]), rot.rotate(q, d["gyr"]), None)},
                              [SensorSpec("pelvis", "pelvis", None, 100.0)], PipelineConfig(events=False))
    t60 = np.arange(d["time_s"][0], d["time_s"][-1], 1 / 60)
    rs = lambda x: np.array([np.interp(t60, d["time_s"], x[:, i]) for i in range(3)]).T  # noqa: E731
    resampled = process_samples({"pelvis": (t60, rs(d["acc"]), rs(d["gyr"]), None)},
                                [SensorSpec("pelvis", "pelvis", None, 60.0)], PipelineConfig(events=False))
    e, _ = _neura_pelvis_error(rotated, ref)
    assert np.all(e < [3.0, 3.9, 2.0]), e  # measured: rotated 2.49/3.28/1.67
    e, _ = _neura_pelvis_error(resampled, ref)
    # measured at 60 Hz: 2.51/3.28/1.67 (rotation once read 6.88 here: the reference was interpolated
    # across its ±180 wrap onto the 60 Hz grid, an artefact of the comparison, not of hipmon)
    assert np.all(e < [3.0, 3.9, 2.0]), e


def test_neura_gait_is_the_calibration(neura):
    # the recording cut at 10.6 s: no standing, the walk itself calibrates
    imu, ref = neura
    d = imu["pelvis"]
    k = d["time_s"] >= 10.6
    res = process_samples({"pelvis": (d["time_s"][k], d["acc"][k], d["gyr"][k], None)},
                          [SensorSpec("pelvis", "pelvis", None, 100.0)], PipelineConfig(events=False))
    assert res.calibration.metrics["standing_s"] == 0.0
    assert any("no quiet standing" in r for r in res.calibration.reasons)
    e, _ = _neura_pelvis_error(res, ref)
    # measured 3.25 / 3.63 / 5.45 deg: zero is the mean walking pose and the first stride's heading
    assert np.all(e < [4.0, 4.4, 6.5]), e


def test_mobgap_forward_axis_matches_the_documented_mounting():
    # McRoberts MM+ worn as documented: sensor z forward, y right. Every trial's forward sign
    # must come out right; a trusted calibration's axis within 25 deg (the lower back's own
    # inclination tilts the sensor's z from the horizontal forward by up to ~20 deg).
    M = loader("mobgap-lab-lowerback", "load_mobgap")
    trusted = 0
    for pid in M.PARTICIPANTS:
        for key, r in M.load_participant(pid).items():
            res = process_samples({"pelvis": (r["time_s"], r["acc"], r["gyr"], None)},
                                  [SensorSpec("pelvis", "pelvis", None, r["fs_hz"])], PipelineConfig(events=False))
            c = res.calibration
            assert c is not None, (pid, key)
            fwd_s = rot.rotate(rot.conjugate(c.q_sensor_segment["pelvis"]), np.array([1.0, 0.0, 0.0]))
            assert fwd_s[2] > 0.0, (pid, key, fwd_s)  # measured: +0.05 .. +0.96
            if c.trusted:
                trusted += 1
                assert fwd_s[2] > np.cos(np.radians(25.0)), (pid, key, fwd_s, c.reasons)
    assert trusted >= 4  # measured 4 of 9; the others say why (short standing, weak pattern, walk start off axis)


# ---------------------------------------------------------------- a thigh lost part-way


@pytest.fixture(scope="module")
def lost_thigh():
    sim = simulate("walk", 40, seed=2)
    smp = {p: (s.time_session_s, s.acc_sensor, s.gyr_sensor, None) for p, s in sim.sensors.items()}
    specs = [SensorSpec(p, p, None, s.rate_hz) for p, s in sim.sensors.items()]
    full = process_samples(smp, specs)
    t, a, g, m = smp["right_thigh"]
    keep = (t < 15.0) | (t > 20.0)
    cut = process_samples(dict(smp, right_thigh=(t[keep], a[keep], g[keep], None)), specs)
    t_before, t_after = t[keep][t[keep] < 15.0][-1], t[keep][t[keep] > 20.0][0]
    return full, cut, (t_before, t_after)


def test_a_lost_thigh_is_a_gap_of_its_hip_only(lost_thigh):
    full, cut, (t_before, t_after) = lost_thigh
    ff, fc = full.frames, cut.frames
    assert np.array_equal(ff.time_s, fc.time_s)
    inside = (fc.time_s > t_before) & (fc.time_s < t_after)
    # the lost hip: NaN over the gap and while its filter settles after it (PipelineConfig.resettle_s,
    # 10 s: a filter blind for 5 s is wrong at first; shown at once it read 100 deg off), angles elsewhere
    right = fc.angles_deg[:, 6:9]
    hidden = (fc.time_s > t_before) & (fc.time_s < t_after + 10.0 - 0.02)
    shown = (fc.time_s < t_before) | (fc.time_s > t_after + 10.0 + 0.02)
    assert np.isnan(right[hidden]).all()
    assert np.isfinite(right[shown]).all()
    assert not fc.valid[inside].any() and fc.valid_sensor["pelvis"][inside].all()
    # the pelvis and the left hip flow on; tilt and obliquity are untouched (the lost sensor's
    # fusion is its own); rotation and the left hip within the heading tracker's effect (below)
    assert np.isfinite(fc.angles_deg[:, :6]).all()
    assert np.max(np.abs(fc.angles_deg[:, :2] - ff.angles_deg[:, :2])) < 1e-9
    assert np.max(np.abs(fc.angles_deg[:, 2:6] - ff.angles_deg[:, 2:6])) < 1.5  # (bit-identical: below)
    # the events carry on through the gap (pelvis-only methods there)
    n_full = sum(1 for e in full.events if e.kind == "stance" and 15.5 < e.start_s < 19.5)
    n_cut = sum(1 for e in cut.events if e.kind == "stance" and 15.5 < e.start_s < 19.5)
    assert n_full > 0 and n_cut >= n_full - 1


def test_a_returning_thigh_is_shown_again_once_settled(lost_thigh):
    # measured after the settling: flexion within 2.8 deg and adduction within 12.3 deg of the run
    # that never lost it (both shrinking); internal rotation is the heading the filter could not
    # follow while blind (24.9 deg at worst), brought back slowly by the heading tracker: the known
    # limit of a 6D thigh sensor that was off the air (docs/calibration.md)
    full, cut, (_, t_after) = lost_thigh
    after = cut.frames.time_s > t_after + 10.0 + 0.02
    d = np.abs(cut.frames.angles_deg[after, 6:9] - full.frames.angles_deg[after, 6:9])
    assert d[:, 0].max() < 4.0 and d[:, 1].max() < 15.0 and d[:, 2].max() < 30.0, d.max(axis=0)


def test_a_lost_thigh_leaves_pelvis_rotation_and_other_hip_bit_identical(lost_thigh):
    # the heading tracker keeps its last gait decision while a thigh has no data and updates the
    # pelvis and the other thigh from their own data (hipmon.heading), as the full run did
    full, cut, _ = lost_thigh
    assert np.max(np.abs(cut.frames.angles_deg[:, :6] - full.frames.angles_deg[:, :6])) < 1e-9
