"""``hipmon import`` / ``hipmon info``: CSV validation with file+line errors, atomic output, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hipmon.cli import main
from hipmon.recording import CSV_IMPORT_PROFILE, SCHEMA_VERSION, SessionReader

HEADER = "time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"


def write_csv(path: Path, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, mag: np.ndarray | None = None) -> None:
    cols = [t[:, None], acc, gyr] + ([mag] if mag is not None else [])
    data = np.hstack(cols)
    header = HEADER + (",mag_x,mag_y,mag_z" if mag is not None else "")
    lines = [header] + [",".join(repr(float(v)) for v in row) for row in data]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture()
def three_csvs(tmp_path: Path):
    rng = np.random.default_rng(0)
    out = {}
    for k, name in enumerate(("pelvis", "left_thigh", "right_thigh")):
        n = 1000 + k
        t = 50.0 + np.arange(n) / 100.0
        if k == 1:
            t = np.delete(t, [300, 301, 302])  # 3 samples missing: a gap
        acc, gyr = rng.normal(size=(len(t), 3)), rng.normal(size=(len(t), 3))
        mag = rng.normal(size=(len(t), 3)) if k == 2 else None
        p = tmp_path / f"{name}.csv"
        write_csv(p, t, acc, gyr, mag)
        out[name] = (p, t, acc, gyr, mag)
    return out


def run_import(csvs: dict, out: Path, *extra: str) -> int:
    return main(
        ["import", "--pelvis", str(csvs["pelvis"]), "--left-thigh", str(csvs["left_thigh"]),
         "--right-thigh", str(csvs["right_thigh"]), "-o", str(out), *extra]
    )


def test_import_round_trip_and_info(three_csvs, tmp_path: Path, capsys) -> None:
    out = tmp_path / "session.hipmon"
    assert run_import({k: v[0] for k, v in three_csvs.items()}, out, "--athlete", "A1") == 0
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".csv")) == ["session.hipmon"]
    with SessionReader(out) as r:
        assert r.metadata["athlete"] == "A1"
        for name, (_, t, acc, gyr, mag) in three_csvs.items():
            info = r.sensors[name]
            assert (info.placement, info.profile) == (name, CSV_IMPORT_PROFILE)
            assert info.rate_hz == pytest.approx(100.0)
            b = r.samples(name)
            assert np.array_equal(b.time_sensor_s, t)  # repr() round-trips float64 exactly
            assert np.array_equal(b.acc_sensor, acc) and np.array_equal(b.gyr_sensor, gyr)
            assert (b.mag_sensor is None) == (mag is None)
            if mag is not None:
                assert np.array_equal(b.mag_sensor, mag)
            assert np.array_equal(r.session_time(name), t)  # imported: CSV time is session time
        gaps = r.gaps
        assert [(g.sensor_id, g.samples_lost, g.start_s, g.end_s) for g in gaps] == [("left_thigh", 3, 52.99, 53.03)]
        assert r.duration_s == pytest.approx(60.01 - 50.0)
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["schema_version"] == SCHEMA_VERSION and info["source"] == "csv-import"
    assert info["duration_s"] == pytest.approx(10.01)
    by = {s["placement"]: s for s in info["sensors"]}
    assert by["pelvis"]["samples"] == 1000 and by["right_thigh"]["samples"] == 1002
    assert by["left_thigh"]["gaps"] == {"count": 1, "samples_lost": 3}
    assert by["pelvis"]["profile"] == "csv-import" and by["pelvis"]["rate_hz"] == pytest.approx(100.0)
    assert info["gaps"] == {"count": 1, "samples_lost": 3}
    assert (info["markers"], info["alerts"], info["calibrated"]) == (0, 0, False)
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "duration    10.010 s" in text and "left_thigh" in text


BAD = [
    ("time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y\n0,1,2,3,4,5\n", 1, "missing column(s) gyr_z"),
    ("0,1,2,3,4,5,6\n0.01,1,2,3,4,5,6\n", 1, "missing header row"),
    (HEADER + "\n0,1,2,3,4,5,6\n0.01,1,2,x,4,5,6\n", 3, "acc_z is 'x', not a number"),
    (HEADER + "\n0,1,2,3,4,5,6\n0.01,1,2,3,4,5,nan\n", 3, "gyr_z is 'nan', not a finite number"),
    (HEADER + "\n0,1,2,3,4,5,6\n0.02,1,2,3,4,5,6\n0.01,1,2,3,4,5,6\n", 4, "time_s 0.01 does not increase (line 3 has 0.02)"),
    (HEADER + "\n0,1,2,3,4,5,6\n0.01,1,2,3,4,5\n", 3, "6 fields, the header has 7"),
    (HEADER + ",mag_x\n0,1,2,3,4,5,6,7\n0.01,1,2,3,4,5,6,7\n", 1, "mag columns must be all"),
    ("", None, "empty file"),
]


@pytest.mark.parametrize("content, line, problem", BAD)
def test_bad_csv_names_file_and_line_and_writes_nothing(three_csvs, tmp_path: Path, capsys, content, line, problem) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    files = {k: v[0] for k, v in three_csvs.items()}
    files["left_thigh"] = bad
    out = tmp_path / "session.hipmon"
    assert run_import(files, out) == 2
    err = capsys.readouterr().err
    where = f"{bad}, line {line}" if line else f"{bad}"
    assert f"hipmon import: {where}: {problem}" in err
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".csv")) == []


def test_missing_file_and_existing_output(three_csvs, tmp_path: Path, capsys) -> None:
    files = {k: v[0] for k, v in three_csvs.items()}
    files["pelvis"] = tmp_path / "nope.csv"
    assert run_import(files, tmp_path / "s.hipmon") == 2
    assert "nope.csv: cannot open" in capsys.readouterr().err
    out = tmp_path / "s.hipmon"
    out.write_bytes(b"keep me")
    assert run_import({k: v[0] for k, v in three_csvs.items()}, out) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert run_import({k: v[0] for k, v in three_csvs.items()}, out, "--force") == 0
    with SessionReader(out) as r:
        assert len(r.sensors) == 3


def test_info_on_non_recording_is_a_clear_error(tmp_path: Path, capsys) -> None:
    p = tmp_path / "pelvis.csv"
    p.write_text(HEADER + "\n0,1,2,3,4,5,6\n")
    assert main(["info", str(p)]) == 2
    assert f"hipmon info: {p}: not a hipmon recording" in capsys.readouterr().err
