"""`hipmon record --emulate`: a SQLite session with raw notifications, sensors, gaps and metadata."""

from __future__ import annotations

import sqlite3

from hipmon.cli import main


def test_record_emulate_writes_session_with_exact_gaps(tmp_path, capsys):
    out = tmp_path / "s.hipmon"
    rc = main(["record", "--emulate", "walk", "--seconds", "10", "-o", str(out), "--profile", "hipmon-open",
               "--loss", "0.02", "--disconnects", "1", "--seed", "3"])
    assert rc == 0
    text = capsys.readouterr().out
    for p in ("pelvis", "left_thigh", "right_thigh"):
        assert p in text
    con = sqlite3.connect(out)
    sensors = {r[0]: r[1:] for r in con.execute("SELECT sensor_id, placement, profile, rate_hz FROM sensors")}
    assert sensors["pelvis"] == ("pelvis", "hipmon-open", 208.0)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "gaps" in tables
    n_gaps = con.execute("SELECT COUNT(*), SUM(samples_lost) FROM gaps").fetchone()
    assert n_gaps[0] >= 3 and n_gaps[1] > 0, (n_gaps, text)  # >= one disconnect gap per sensor
    reasons = {r[0] for r in con.execute("SELECT DISTINCT reason FROM gaps")}
    assert "disconnect" in reasons


def test_record_bad_arguments_are_clear(tmp_path, capsys):
    assert main(["record", "--emulate", "walk", "--seconds", "2", "-o", str(tmp_path / "x"), "--loss", "2"]) == 1
    assert "--loss" in capsys.readouterr().err
    assert main(["record", "--seconds", "2", "-o", str(tmp_path / "y")]) == 1
    assert "--config" in capsys.readouterr().err
