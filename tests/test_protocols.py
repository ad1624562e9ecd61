"""``hipmon.protocols``: each protocol's result through the real pipeline against the simulator's truth.

Each session is simulated with per-side offsets, written as CSV, imported and processed
(``hipmon.pipeline.process_session``: fusion, calibration, kinematics, events); the protocol's
result is compared with the same function applied to the simulator's true angles and true
events (``truth``), and with what the simulated athlete was asked to do.

Straps are rigid (``soft_tissue=False``), as in tests/test_compare.py: the tests check the
protocols, not the soft-tissue artefact (with it, a standing hold's pelvic drop reads ~4° high:
docs/protocols.md). Tolerances: a session mean of peaks 1.0° (drop) / 1.5° (hip angles), which is
the rigid-strap per-stance error of docs/accuracy.md averaged over a handful of events plus the
calibration offset; a hold's mean drop 0.7°, and the true drift inside the measured 95 % CI (±0.1°: the
detected hold window is not the true one to the sample, and a 16 s hold's slope from 16 one-second
means with ~0.3° of balance sway is uncertain by ~0.5°/10 s); hold time 1.0 s (the detector takes the lift
plateau, the truth the set's key frames).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hipmon.pipeline import process_session
from hipmon.protocols import (ADD, DROP, FLEXION, IR, PROTOCOLS, ProtocolError, check_side, get_protocol, infer_protocol,
                              linear_drift, protocol_result)
from hipmon.recording import import_csv_session
from hipmon.simulate import simulate


def _run(tmp_path, kind, seconds, seed=5, **opts):
    """(sim, result through the pipeline, result on the true angles over the *detected* events' windows,
    result on the true angles and true events)."""
    sim = simulate(kind, seconds, seed, soft_tissue=False, **opts)
    d = sim.write_dir(tmp_path / kind)
    out = tmp_path / f"{kind}.hipmon"
    import_csv_session({p: str(d / f"{p}.csv") for p in ("pelvis", "left_thigh", "right_thigh")}, str(out),
                       metadata={"protocol": kind})
    r = process_session(str(out))
    f = r.frames
    res = protocol_result(kind, r.events, f.time_s, f.angles_deg, f.valid)
    same = protocol_result(kind, r.events, sim.truth_time_s, sim.truth_angles_deg, None)
    truth = protocol_result(kind, sim.events, sim.truth_time_s, sim.truth_angles_deg, None)
    return sim, res, same, truth


def _true_mean(sim, kind, side, metric):
    return float(np.mean([getattr(e, metric) for e in sim.events if e.kind == kind and e.side == side]))


# ---------------------------------------------------------------- the table


def test_table_is_declarative_and_uses_the_registry():
    from hipmon import metric_registry as reg
    from hipmon.simulate import KINDS

    assert list(PROTOCOLS) == ["stance", "squat", "jump", "run", "walk"]
    for p in PROTOCOLS.values():
        assert all(m in reg.METRICS for m in p.metrics) and p.key_metric in p.metrics
        assert p.sim_kind in KINDS
        assert p.prompt("task", "left") and "{" not in p.prompt("task", "left")
        assert "{" not in p.prompt("stand") and "{" not in p.prompt("walk")
    assert "RIGHT" in PROTOCOLS["stance"].prompt("task", "right") and "30 s" in PROTOCOLS["stance"].prompt("task")
    assert get_protocol("DVJ").name == "jump" and get_protocol("single_leg_squat").name == "squat"
    with pytest.raises(ProtocolError, match="choose from"):
        get_protocol("plank")
    assert check_side(PROTOCOLS["stance"], "Right") == "right"
    with pytest.raises(ProtocolError, match="both sides"):
        check_side(PROTOCOLS["run"], "left")
    assert infer_protocol({"protocol": "dvj"}) == "jump"
    assert infer_protocol({"emulation": {"kind": "squat"}}) == "squat"


def test_linear_drift_recovers_a_known_slope():
    rng = np.random.default_rng(0)
    t = np.arange(0, 30, 0.01)
    v = 2.0 + 0.05 * t + 0.3 * rng.standard_normal(t.size)  # 0.5 °/10 s
    d = linear_drift(t, v)
    assert d["per_10s"] == pytest.approx(0.5, abs=0.05)
    assert d["ci95"][0] < 0.5 < d["ci95"][1] and d["ci95"][0] > 0
    assert d["change"] == pytest.approx(0.05 * 30, abs=0.2)
    flat = linear_drift(t, 2.0 + 0.3 * rng.standard_normal(t.size))
    assert flat["ci95"][0] < 0 < flat["ci95"][1]


# ---------------------------------------------------------------- against the simulator's truth


def test_stance_hold_time_level_drift_and_fatigue(tmp_path):
    # right gluteus medius weak and tiring over the hold (drop 5° growing by 3°), left healthy
    sim, res, same, truth = _run(tmp_path, "stance", 60, right_drop_deg=5.0, left_drop_deg=1.0, fatigue_side="right",
                           fatigue_deg=3.0)
    got = {i["side"]: i for i in res.items}
    want = {i["side"]: i for i in truth.items}
    assert set(got) == set(want) == {"left", "right"}
    for s in ("left", "right"):
        assert abs(got[s]["hold_s"] - want[s]["hold_s"]) <= 1.0, (s, got[s]["hold_s"], want[s]["hold_s"])
    want = {i["side"]: i for i in same.items}  # the level and drift: same hold, true angles
    for s in ("left", "right"):
        g, w = got[s], want[s]
        assert abs(g["mean_drop_deg"] - w["mean_drop_deg"]) <= 0.7, (s, g, w)
    # a level hold: the true drift inside the measured 95 % CI
    lo, hi = got["left"]["drift_ci95"]
    assert lo - 0.1 <= want["left"]["drift_deg_per_10s"] <= hi + 0.1, (got["left"], want["left"])
    # a sagging hold: the pipeline reads ~2/3 of the true growth (1.6 vs 2.4 °/10 s with this seed; a
    # slow obliquity ramp is partly lost in the angles, not in the protocol: docs/protocols.md)
    ratio = got["right"]["drift_deg_per_10s"] / want["right"]["drift_deg_per_10s"]
    assert 0.5 <= ratio <= 1.2, (got["right"]["drift_deg_per_10s"], want["right"]["drift_deg_per_10s"])
    # what the athlete was asked: the right drop grows by ~3° over the hold, the left stays level
    # (a least-squares line through the simulator's smooth 0 -> 3° ramp rises by ~4° over the hold)
    assert truth.sides["right"]["drift_deg_per_10s"] * truth.sides["right"]["longest_hold_s"] / 10 == \
        pytest.approx(4.0, abs=0.8)
    assert abs(truth.sides["left"]["drift_deg_per_10s"]) < 0.5
    assert got["right"]["drop_change_deg"] >= 1.5
    assert got["right"]["fatigue"] and want["right"]["fatigue"]
    assert not got["left"]["fatigue"] and not want["left"]["fatigue"]
    assert all(i["fatigue"] == (i["side"] == "right") for i in truth.items)
    assert got["right"]["mean_drop_deg"] > got["left"]["mean_drop_deg"] + 3.0
    assert any("fatigue" in n for n in res.notes)
    # one side chosen: only that side's hold
    only = protocol_result("stance", [e for e in sim.events], sim.truth_time_s, sim.truth_angles_deg, None,
                           side="left")
    assert [i["side"] for i in only.items] == ["left"] and set(only.sides) == {"left"}


def test_single_leg_squat_per_rep_per_side():
    # the rep logic against the truth: true angles with a calibration-like offset and fusion-like noise
    # (hipmon.events.frames_from_simulation). Through the whole pipeline the right hip's adduction in these
    # squats reads ~5° low with this seed (docs/protocols.md, a pipeline finding), so the full path is
    # not the check of the protocol here.
    from hipmon.events import detect_events, frames_from_simulation

    sim = simulate("squat", 60, 5, soft_tissue=False, reps=4, right_adduction_deg=15.0, left_adduction_deg=9.0)
    fr = frames_from_simulation(sim, angle_noise_deg=0.5, seed=1)
    res = protocol_result("squat", detect_events(fr), fr.time_s, fr.angles_deg, fr.valid)
    for s in ("left", "right"):
        assert res.sides[s]["n"] == 4
        for m, tol in ((DROP, 1.0), (ADD, 1.0), (IR, 1.0)):
            assert abs(res.sides[s][m]["mean"] - _true_mean(sim, "rep", s, m)) <= tol, (s, m, res.sides[s][m])
        assert res.sides[s][FLEXION]["mean"] == pytest.approx(65.0, abs=3.0)  # squat_depth_deg
    assert [i["rep"] for i in res.items if i["side"] == "right"] == [1, 2, 3, 4]
    diff = res.sides["right"][ADD]["mean"] - res.sides["left"][ADD]["mean"]
    assert diff == pytest.approx(6.0, abs=1.5)


def test_drop_vertical_jump_per_landing_both_sides(tmp_path):
    sim, res, _same, truth = _run(tmp_path, "jump", 40, right_valgus_deg=6.0)
    assert len(res.items) == len(truth.items) >= 4
    assert all(i["legs"] == ["left", "right"] for i in res.items)
    for s in ("left", "right"):
        for m in (ADD, IR):
            assert abs(res.sides[s][m]["mean"] - _true_mean(sim, "landing", s, m)) <= 1.5, (s, m)
    # valgus 6° on the right: added to adduction and IR, so the composite differs by ~12°; the L − R of a
    # composite carries both hips' adduction and IR errors (each within 1.5° above): 3°
    assert res.key["valgus L-R"] == pytest.approx(-12.0, abs=3.0)


def test_run_per_stance_summary(tmp_path):
    sim, res, _same, truth = _run(tmp_path, "run", 30, right_drop_deg=8.0)
    for s in ("left", "right"):
        assert abs(res.sides[s]["n"] - truth.sides[s]["n"]) <= 2
        assert abs(res.sides[s][DROP]["mean"] - truth.sides[s][DROP]["mean"]) <= 1.0
        assert abs(res.sides[s]["contact_time_s"]["mean"] - truth.sides[s]["contact_time_s"]["mean"]) <= 0.03
    assert res.key["cadence spm"] == pytest.approx(truth.key["cadence spm"], abs=3.0)
    assert res.key["right drop"] - res.key["left drop"] == pytest.approx(3.0, abs=1.0)
    assert not math.isnan(res.key["left drop"])
