"""The sample sessions in recordings/ (see recordings/README.md) replayed through the pipeline:
each shows what its README says an analyst should see."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hipmon.pipeline import process_session
from hipmon.recording import SessionReader
from hipmon.types import ANGLE_COLUMNS

REC = Path(__file__).resolve().parent.parent / "recordings"
OBLIQUITY = ANGLE_COLUMNS.index("pelvis_obliquity_deg")

_cache: dict[str, object] = {}


def _result(name: str):
    if name not in _cache:
        _cache[name] = process_session(REC / name)
    return _cache[name]


def _emulation(name: str) -> dict:
    with SessionReader(REC / name) as r:
        assert r.closed_cleanly and r.check_integrity() == "ok"
        for sid in r.sensors:
            assert r.decode(sid).decode_errors == 0
        assert r.gaps == []  # recorded without loss
        return r.metadata["emulation"]


def test_files_are_small_and_documented():
    names = sorted(p.name for p in REC.glob("*.hipmon"))
    assert names == ["landings_valgus.hipmon", "run_right_hip_tires.hipmon", "single_leg_stance.hipmon"]
    assert sum((REC / n).stat().st_size for n in names) < 15e6
    readme = (REC / "README.md").read_text()
    make = (REC / "make.sh").read_text()
    for n in names:
        assert n in readme and n in make
        assert not (REC / f"{n}-wal").exists()  # closed: one self-contained file


def test_run_right_hip_tires_alerts_on_the_right_only():
    emu = _emulation("run_right_hip_tires.hipmon")
    assert emu["kind"] == "run" and emu["simulate"]["preset"] == "right_hip_tires" and emu["seconds"] >= 90
    res = _result("run_right_hip_tires.hipmon")
    assert res.calibration is not None
    stances = {s: [e for e in res.events if e.kind == "stance" and e.side == s] for s in ("left", "right")}
    assert min(len(v) for v in stances.values()) > 100  # ~100 s of running
    right = [a for a in res.alerts if a.side == "right" and a.rule == "pelvic_drop"]
    assert right, res.alerts
    assert not [a for a in res.alerts if a.side == "left"]
    assert not [e for e in stances["left"] if e.alert]
    # the right hip tires after the fatigue onset (15 s into the run, after 8 s of standing)
    assert min(a.time_s for a in right) > 23.0
    drop_r = np.array([e.peak_pelvic_drop_deg for e in stances["right"]])
    t_r = np.array([e.start_s for e in stances["right"]])
    assert np.median(drop_r[t_r > 75]) - np.median(drop_r[t_r < 22]) > 4.0  # 6 deg of fatigue
    drop_l = np.array([e.peak_pelvic_drop_deg for e in stances["left"]])
    t_l = np.array([e.start_s for e in stances["left"]])
    assert abs(np.median(drop_l[t_l > 75]) - np.median(drop_l[t_l < 22])) < 1.5
    assert sum(1 for e in stances["right"] if e.alert) > 50


def test_landings_valgus_all_found_right_larger():
    from hipmon.simulate import simulate

    emu = _emulation("landings_valgus.hipmon")
    assert emu["kind"] == "jump" and emu["simulate"]["right_valgus_deg"] == 8
    res = _result("landings_valgus.hipmon")
    landings = [e for e in res.events if e.kind == "landing"]
    # truth: the simulated session the emulated sensors played (--seconds + 4 s of start-up)
    sim = simulate("jump", emu["seconds"] + 4.0, emu["seed"], **emu["simulate"])
    truth = [e for e in sim.events if e.kind == "landing"]
    assert len(truth) == 8
    assert len(landings) == len(truth)
    for side in ("left", "right"):
        got = np.array(sorted(e.start_s for e in landings if e.side == side))
        want = np.array(sorted(e.start_s for e in truth if e.side == side))
        offset = np.median(got - want)  # session clock vs simulation clock (start-up)
        assert 0.0 < offset < 6.0
        np.testing.assert_allclose(got - offset, want, atol=0.15)
    by_time: dict[float, dict[str, object]] = {}
    for e in landings:
        by_time.setdefault(round(e.start_s, 1), {})[e.side] = e
    assert len(by_time) == 4
    for pair in by_time.values():
        valgus = {s: pair[s].peak_hip_adduction_deg + pair[s].peak_hip_internal_rotation_deg for s in pair}
        assert valgus["right"] - valgus["left"] > 10.0, valgus  # truth: 8 deg more add. and 8 more IR


def test_single_leg_stance_drops_on_the_unsupported_side():
    emu = _emulation("single_leg_stance.hipmon")
    assert emu["kind"] == "stance" and emu["simulate"]["preset"] == "trendelenburg_right"
    res = _result("single_leg_stance.hipmon")
    holds = {e.side: e for e in res.events if e.kind == "hold"}
    assert sorted(holds) == ["left", "right"] and len([e for e in res.events if e.kind == "hold"]) == 2
    r, l = holds["right"], holds["left"]
    assert r.end_s - r.start_s > 5.0 and l.end_s - l.start_s > 5.0
    # standing on the right leg, the unsupported left side drops (Trendelenburg): ~10 deg in truth
    assert r.peak_pelvic_drop_deg > 7.0 and l.peak_pelvic_drop_deg < 4.0
    assert r.alert == "pelvic_drop" and not l.alert
    # the sign, from the angles: obliquity > 0 (right side higher, left dropped) in the right hold
    t = res.frames.time_s
    obl = res.frames.angles_deg[:, OBLIQUITY]
    in_r = (t > r.start_s + 1.0) & (t < r.end_s - 0.5)
    in_l = (t > l.start_s + 1.0) & (t < l.end_s - 0.5)
    assert np.median(obl[in_r]) > 4.0
    assert abs(np.median(obl[in_l])) < 3.0


@pytest.mark.parametrize("name", ["landings_valgus.hipmon"])
def test_replay_is_repeatable(name):
    """Any session can be re-decoded later: two replays give identical angles."""
    a = process_session(REC / name)
    b = _result(name)
    np.testing.assert_array_equal(a.frames.angles_deg, b.frames.angles_deg)
