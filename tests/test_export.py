"""``hipmon export``: the fixed CSV formats, the same angles from a CSV directory and an imported session, clear errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from test_calibration import synth_session

from hipmon.cli import main
from hipmon.types import ANGLE_COLUMNS, EVENT_COLUMNS, PLACEMENTS


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory):
    s = synth_session(21, kind="walk", moving_s=20.0)
    d = tmp_path_factory.mktemp("sess")
    for p in PLACEMENTS:
        a = np.column_stack([s["time_s"] + 100.0, s["acc_sensor"][p], s["gyr_sensor"][p]])
        np.savetxt(d / f"{p}.csv", a, delimiter=",", header="time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z",
                   comments="", fmt="%.7f")
    return s, d


def _read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_angles_csv_has_the_fixed_columns_and_matches_truth(session_dir, tmp_path):
    s, d = session_dir
    out = tmp_path / "angles.csv"
    ev = tmp_path / "events.csv"
    assert main(["export", str(d), "--angles", str(out), "--events", str(ev)]) == 0
    header, rows = _read(out)
    assert tuple(header) == ("time_s",) + ANGLE_COLUMNS
    a = np.array(rows, dtype=float)
    assert a.shape[0] > 1000 and np.all(np.diff(a[:, 0]) > 0)
    truth = np.stack([np.interp(a[:, 0], s["time_s"] + 100.0, s["truth_deg"][:, c]) for c in range(9)], axis=1)
    rmse = np.sqrt(np.mean((a[:, 1:] - truth) ** 2, axis=0))
    assert np.all(rmse < 2.0), rmse
    eh, erows = _read(ev)
    assert tuple(eh) == EVENT_COLUMNS
    assert all(r[0] in ("stance", "landing", "rep", "hold") and r[1] in ("left", "right", "both") for r in erows)


def test_imported_session_gives_the_same_angles(session_dir, tmp_path):
    from hipmon.recording.csvio import import_csv_session

    s, d = session_dir
    sess = tmp_path / "s.hipmon"
    import_csv_session({p: d / f"{p}.csv" for p in PLACEMENTS}, sess)
    a1, a2 = tmp_path / "a1.csv", tmp_path / "a2.csv"
    assert main(["export", str(d), "--angles", str(a1)]) == 0
    assert main(["export", str(sess), "--angles", str(a2)]) == 0
    x1 = np.array(_read(a1)[1], dtype=float)
    x2 = np.array(_read(a2)[1], dtype=float)
    assert x1.shape == x2.shape and np.max(np.abs(x1 - x2)) < 1e-3


def test_bad_csv_names_file_and_line_and_writes_nothing(session_dir, tmp_path, capsys):
    s, d = session_dir
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in PLACEMENTS:
        (bad / f"{p}.csv").write_text((d / f"{p}.csv").read_text())
    lines = (bad / "left_thigh.csv").read_text().splitlines()
    lines[5] = "1.0,2.0,abc,4,5,6,7"
    (bad / "left_thigh.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "angles.csv"
    assert main(["export", str(bad), "--angles", str(out)]) == 2
    err = capsys.readouterr().err
    assert "left_thigh.csv" in err and "line 6" in err
    assert not out.exists()


def test_nothing_to_export_and_missing_session(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope")]) == 2
    assert main(["export", str(tmp_path / "nope"), "--angles", str(tmp_path / "a.csv")]) == 2
    err = capsys.readouterr().err
    assert "nothing to export" in err and "no such session" in err
