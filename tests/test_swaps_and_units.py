"""Issue 13: swapped and mirrored thigh sensors at calibration, wrong units and clocks at import.

Every check is asserted both ways: the fault is found, and healthy data (simulated walks and
runs, the real walk ``neura-sparse-s02-walk``) raises nothing. docs/calibration.md,
"Swapped and mirrored sensors"; ``hipmon.plausibility``.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from _real import loader

from hipmon import plausibility as pl
from hipmon.pipeline import PipelineConfig, process_samples
from hipmon.recording import SessionReader, import_csv_session
from hipmon.simulate import simulate
from hipmon.types import ImuBlock, SensorSpec

P = ("pelvis", "left_thigh", "right_thigh")


def _sim(kind, seed, seconds=30.0):
    sim = simulate(kind, seconds, seed)
    return {p: (s.session_time_from_sensor_time(s.time_sensor_s), s.acc_sensor, s.gyr_sensor)
            for p, s in sim.sensors.items()}


@pytest.fixture(scope="module")
def real_walk():
    L = loader("neura-sparse-s02-walk", "load_neura")
    return {p: (d["time_s"], d["acc"], d["gyr"]) for p in P for d in [L.load_imu(p)]}


def _calibration(data):
    rate = float(np.round(1.0 / np.median(np.diff(data["pelvis"][0]))))
    r = process_samples({p: (*data[p], None) for p in P}, [SensorSpec(p, p, None, rate) for p in P],
                        PipelineConfig(events=False))
    return r.calibration


def _swap(d):
    return {"pelvis": d["pelvis"], "left_thigh": d["right_thigh"], "right_thigh": d["left_thigh"]}


def _mirror(d, p, axis=1):
    t, a, g = d[p]
    s = np.ones(3)
    s[axis] = -1.0
    return {**d, p: (t, a * s, g * s)}


def _side_reasons(c):
    return [r for r in c.reasons if "swapped" in r or "left-handed" in r]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_swapped_and_mirrored_thighs_found_in_simulated_walks_and_healthy_ones_pass(seed):
    d = _sim("walk", seed)
    ok = _calibration(d)
    assert _side_reasons(ok) == [] and ok.metrics["thighs_swapped"] == 0.0 and ok.metrics["mirrored_sensors"] == 0
    sw = _calibration(_swap(d))
    assert sw.metrics["thighs_swapped"] == 1.0 and not sw.trusted
    assert any("thigh sensors are swapped" in r for r in sw.reasons)
    for p, axis in (("right_thigh", 1), ("left_thigh", 0)):
        mi = _calibration(_mirror(d, p, axis))
        assert not mi.trusted and any(r.startswith(f"{p}: the sensor frame is left-handed") for r in mi.reasons)


def test_running_claims_nothing_either_way():
    # measured: in running the thighs' linear acceleration swamps gravity; the checks stand aside
    d = _sim("run", 0)
    for data in (d, _swap(d)):
        c = _calibration(data)
        assert _side_reasons(c) == [] and c.metrics["side_checks_skipped_running"] == 1.0


def test_real_walk_swapped_is_found_and_as_recorded_is_not(real_walk):
    ok = _calibration(real_walk)
    assert _side_reasons(ok) == []
    sw = _calibration(_swap(real_walk))
    assert sw.metrics["thighs_swapped"] == 1.0 and not sw.trusted


def test_real_walk_mirrored_thigh_is_found(real_walk):
    mi = _calibration(_mirror(real_walk, "left_thigh", 0))
    assert any(r.startswith("left_thigh: the sensor frame is left-handed") for r in mi.reasons)


# ---------------------------------------------------------------- plausibility at import


def _blocks(d):
    return {p: ImuBlock(t.copy(), a.copy(), g.copy()) for p, (t, a, g) in d.items()}


def _paths():
    return {p: f"{p}.csv" for p in P}


@pytest.fixture(scope="module")
def walk():
    return _sim("walk", 4)


def test_healthy_simulated_and_real_sessions_raise_nothing(walk, real_walk):
    for d in (walk, _sim("run", 1), real_walk):
        fixed, findings = pl.check_session(_blocks(d), _paths())
        assert findings == []
        assert all(np.array_equal(fixed[p].acc_sensor, d[p][1]) for p in P)


@pytest.mark.parametrize("kind", ["acc_in_g", "gyr_in_deg_s", "time_in_ms"])
def test_wrong_units_are_found_converted_and_said(walk, kind):
    b = _blocks(walk)
    x = b["left_thigh"]
    scale = {"acc_in_g": ("acc_sensor", 1 / pl.G_M_S2), "gyr_in_deg_s": ("gyr_sensor", 180 / np.pi),
             "time_in_ms": ("time_sensor_s", 1000.0)}[kind]
    b["left_thigh"] = replace(x, **{scale[0]: getattr(x, scale[0]) * scale[1]})
    fixed, findings = pl.check_session(b, _paths())
    assert [(f.placement, f.kind, f.converted) for f in findings] == [("left_thigh", kind, True)]
    assert findings[0].line().startswith("left_thigh.csv: ")
    np.testing.assert_allclose(getattr(fixed["left_thigh"], scale[0]), getattr(x, scale[0]), rtol=1e-9)


def test_clocks_that_do_not_overlap_are_an_error(walk):
    b = _blocks(walk)
    b["right_thigh"] = replace(b["right_thigh"], time_sensor_s=b["right_thigh"].time_sensor_s + 1000.0)
    _, findings = pl.check_session(b, _paths())
    assert [(f.kind, f.error, f.placement) for f in findings] == [("no_overlap", True, "right_thigh")]


def test_clipped_gyroscope_and_dead_sensor_are_warned(walk):
    b = _blocks(walk)
    b["left_thigh"] = replace(b["left_thigh"], gyr_sensor=np.clip(b["left_thigh"].gyr_sensor, -2.0, 2.0))
    b["pelvis"] = replace(b["pelvis"], gyr_sensor=np.zeros_like(b["pelvis"].gyr_sensor) + 0.001)
    _, findings = pl.check_session(b, _paths())
    kinds = {(f.placement, f.kind) for f in findings}
    assert ("left_thigh", "saturation") in kinds and ("pelvis", "not_moving") in kinds
    assert all(f.placement in ("left_thigh", "pelvis") for f in findings)


def _write(d, folder):
    folder.mkdir(exist_ok=True)
    for p, (t, a, g) in d.items():
        np.savetxt(folder / f"{p}.csv", np.column_stack([t, a, g]), delimiter=",", fmt="%.6f", comments="",
                   header="time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z")
    return {p: folder / f"{p}.csv" for p in P}


def test_import_exchanges_swapped_thigh_files_and_records_it(walk, tmp_path):
    files = _write(walk, tmp_path / "in")
    parsed = import_csv_session({"pelvis": files["pelvis"], "left_thigh": files["right_thigh"],
                                 "right_thigh": files["left_thigh"]}, tmp_path / "s.hipmon")
    assert parsed["left_thigh"].path == files["left_thigh"]
    with SessionReader(tmp_path / "s.hipmon") as r:
        meta = r.metadata
    assert any("given as the right thigh" in w for w in meta["import_warnings"])
    ok = import_csv_session(files, tmp_path / "ok.hipmon")
    assert all(c.findings == [] for c in ok.values())
    mirrored = _write(_mirror(walk, "right_thigh", 2), tmp_path / "mir")
    parsed = import_csv_session(mirrored, tmp_path / "m.hipmon")
    assert [f.kind for f in parsed["right_thigh"].findings] == ["mirrored"]
    assert "left-handed" in parsed["right_thigh"].findings[0].line()
    assert all(parsed[p].findings == [] for p in ("pelvis", "left_thigh"))


def test_import_command_converts_g_and_refuses_disjoint_clocks(walk, tmp_path):
    d = dict(walk)
    t, a, g = d["pelvis"]
    d["pelvis"] = (t, a / pl.G_M_S2, g)
    files = _write(d, tmp_path / "in")
    cmd = [sys.executable, "-m", "hipmon", "import", "--pelvis", str(files["pelvis"]), "--left-thigh",
           str(files["left_thigh"]), "--right-thigh", str(files["right_thigh"])]
    r = subprocess.run(cmd + ["-o", str(tmp_path / "a.hipmon")], capture_output=True, text=True)
    assert r.returncode == 0 and "pelvis.csv: acceleration's median norm is 0.99, gravity is 9.81 m/s²: g units" in r.stderr
    info = subprocess.run([sys.executable, "-m", "hipmon", "info", str(tmp_path / "a.hipmon")],
                          capture_output=True, text=True)
    assert "warning     " in info.stdout and "g units" in info.stdout
    d["right_thigh"] = (d["right_thigh"][0] + 1000.0, *d["right_thigh"][1:])
    files = _write(d, tmp_path / "in2")
    cmd = [sys.executable, "-m", "hipmon", "import", "--pelvis", str(files["pelvis"]), "--left-thigh",
           str(files["left_thigh"]), "--right-thigh", str(files["right_thigh"])]
    r = subprocess.run(cmd + ["-o", str(tmp_path / "b.hipmon")], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "right_thigh.csv" in r.stderr and "clock" in r.stderr and not (tmp_path / "b.hipmon").exists()
