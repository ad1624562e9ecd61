"""Issue 13, data safety: one error path (a line naming the file, exit 2, no traceback, nothing
half-written, no temporary file left), reading never modifies a file, ``--overwrite`` replaces the
old file only once the new one holds data, and ``hipmon repair`` keeps everything intact from a
damaged or truncated session file."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hipmon.cli import main
from hipmon.recording import RecordingError, SessionReader, SessionWriter
from hipmon.recording._common import DamagedFileError
from hipmon.recording.salvage import repair, salvage
from hipmon.recording.synthetic import synthetic_stream
from hipmon.types import RawNotification

SAMPLE = Path(__file__).resolve().parent.parent / "recordings" / "landings_valgus.hipmon"


def _state(*paths: Path) -> dict[str, tuple[str, int] | None]:
    """sha256 and mtime (ns) of each file (None: absent)."""
    out = {}
    for p in paths:
        out[p.name] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) if p.exists() else None
    return out


def _names(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _one_line_error(err: str, name: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert name in lines[0], err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- bad inputs
def _bad_files(d: Path) -> dict[str, Path]:
    d.mkdir()
    files = {}
    files["directory"] = d / "adir.hipmon"
    files["directory"].mkdir()
    files["empty"] = d / "empty.hipmon"
    files["empty"].write_bytes(b"")
    files["text"] = d / "notes.hipmon"
    files["text"].write_text("time_s,acc_x\n0,1\n")
    other = d / "other.hipmon"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(a)")
    con.commit()
    con.close()
    files["other_sqlite"] = other
    cut = d / "cut.hipmon"
    cut.write_bytes(SAMPLE.read_bytes()[: 150_000])
    files["truncated"] = cut
    garbled = d / "garbled.hipmon"
    data = bytearray(SAMPLE.read_bytes())
    data[4096 : 4096 * 8] = bytes(4096 * 7)  # the schema's table roots wiped
    garbled.write_bytes(bytes(data))
    files["corrupt"] = garbled
    return files


@pytest.mark.parametrize("command", ["info", "analyze", "export", "replay"])
def test_bad_session_files_one_line_exit_2(tmp_path, capsys, command):
    files = _bad_files(tmp_path / "in")
    before = {k: _state(p) if p.is_file() else None for k, p in files.items()}
    listing = _names(tmp_path / "in")
    out_csv = tmp_path / "angles.csv"
    for kind, path in files.items():
        extra = ["--angles", out_csv] if command == "export" else []
        rc, _out, err = _run(capsys, command, path, *extra)
        assert rc == 2, (kind, err)
        _one_line_error(err, path.name)
    assert not out_csv.exists()
    assert _names(tmp_path / "in") == listing  # no -wal, -shm or temporary file appeared
    assert {k: _state(p) if p.is_file() else None for k, p in files.items()} == before


def test_record_and_import_bad_outputs_checked_before_any_work(tmp_path, capsys):
    d = tmp_path / "out"
    d.mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    existing = tmp_path / "old.hipmon"
    existing.write_bytes(b"precious")
    csv = tmp_path / "pelvis.csv"
    csv.write_text("time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n" + "".join(
        f"{i / 100:.2f},0,9.81,0,0,0,0\n" for i in range(300)))
    cases = [
        (["record", "--emulate", "run", "--seconds", "1", "-o", d, "--overwrite"], d.name, "is a directory"),
        (["record", "--emulate", "run", "--seconds", "1", "-o", blocker / "x.hipmon"], "x.hipmon", "not a directory"),
        (["record", "--emulate", "run", "--seconds", "1", "-o", existing], existing.name, "--overwrite"),
        (["import", "--pelvis", csv, "-o", d, "--force"], d.name, "is a directory"),
        (["import", "--pelvis", csv, "-o", blocker / "x.hipmon"], "x.hipmon", "not a directory"),
        (["import", "--pelvis", csv, "-o", tmp_path / "missing" / "x.hipmon"], "x.hipmon", "does not exist"),
        (["import", "--pelvis", csv, "-o", existing], existing.name, "--force"),
        (["repair", SAMPLE, "-o", d], d.name, "is a directory"),
    ]
    listing = _names(tmp_path)
    for argv, name, words in cases:
        rc, _out, err = _run(capsys, *argv)
        assert rc == 2, (argv, err)
        _one_line_error(err, name)
        assert words in err, err
        assert _names(tmp_path) == listing and _names(d) == []  # nothing written, no temporary file
    assert existing.read_bytes() == b"precious"


# ----------------------------------------------------------------------------- --overwrite
def _precious(path: Path) -> tuple[str, int]:
    shutil.copyfile(SAMPLE, path)
    return _state(path)[path.name]


def test_overwrite_replaces_only_once_the_new_session_holds_data(tmp_path):
    path = tmp_path / "s.hipmon"
    old = _precious(path)
    w = SessionWriter(path, {"athlete": "new"}, overwrite=True, background=False)
    w.add_sensor("p", "pelvis", "synthetic-test", 208)
    w.log_connection("p", "connect")
    w.flush()
    assert _state(path)[path.name] == old  # no data yet: the old session is all there
    assert len(_names(tmp_path)) > 1  # the new one grows beside it
    stream = synthetic_stream("p", seconds=1)
    w.write_many(stream.notifications[:5])
    w.flush()
    assert w.replaced and _state(path)[path.name] != old
    w.write_many(stream.notifications[5:])
    w.close()
    assert _names(tmp_path) == ["s.hipmon"]
    with SessionReader(path) as r:
        assert r.metadata == {"athlete": "new"} and r.closed_cleanly
        assert r.notification_count("p") == len(stream.notifications)
        assert [e.kind for e in r.connection_log] == ["connect"]


def test_overwrite_without_data_or_interrupted_keeps_the_old_file(tmp_path):
    path = tmp_path / "s.hipmon"
    old = _precious(path)
    w = SessionWriter(path, {}, overwrite=True, background=False)  # e.g. Ctrl-C before the sensors stream
    w.add_sensor("p", "pelvis", "synthetic-test", 208)
    w.close()
    assert _state(path)[path.name] == old and _names(tmp_path) == ["s.hipmon"]
    with pytest.raises(KeyboardInterrupt):
        with SessionWriter(path, {}, overwrite=True, background=False) as w:
            w.add_sensor("p", "pelvis", "synthetic-test", 208)
            raise KeyboardInterrupt
    assert _state(path)[path.name] == old and _names(tmp_path) == ["s.hipmon"]
    w = SessionWriter(path, {}, overwrite=True, background=False)  # the recording could not start
    w.discard()
    assert _state(path)[path.name] == old and _names(tmp_path) == ["s.hipmon"]


def test_import_force_is_atomic_and_record_overwrite_failure_keeps_old(tmp_path, capsys):
    path = tmp_path / "s.hipmon"
    old = _precious(path)
    bad = tmp_path / "pelvis.csv"
    bad.write_text("time_s,acc_x\n0,nope\n")
    rc, _out, err = _run(capsys, "import", "--pelvis", bad, "-o", path, "--force")
    assert rc == 2 and "Traceback" not in err
    assert _state(path)[path.name] == old and _names(tmp_path) == ["pelvis.csv", "s.hipmon"]
    # the recording fails before any data (the simulation refuses): the old file stays
    rc, _out, err = _run(capsys, "record", "--emulate", "stance", "--seconds", "2", "-o", path, "--overwrite")
    assert rc == 2 and "Traceback" not in err
    assert _state(path)[path.name] == old and _names(tmp_path) == ["pelvis.csv", "s.hipmon"]


def test_record_overwrite_replaces_with_the_new_recording(tmp_path, capsys):
    path = tmp_path / "s.hipmon"
    _precious(path)
    rc, out, err = _run(capsys, "record", "--emulate", "run", "--seconds", "1.5", "--speed", "4", "-o", path,
                        "--overwrite")
    assert rc == 0, err
    assert _names(tmp_path) == ["s.hipmon"]
    with SessionReader(path) as r:
        assert r.closed_cleanly and r.metadata["emulation"]["kind"] == "run"
        assert r.notification_count() > 0
    # --speed 4: sensor clocks 4x the host's, which the clock sync cannot follow: said when
    # recording and whenever the file is read, never silently analysed as if it were real
    assert "warning:" in err and "--speed 4" in err
    rc, out, err = _run(capsys, "analyze", path, "--accept-untrusted")
    assert f"warning: {path}: recorded from emulated sensors at --speed 4" in out
    rc, out, err = _run(capsys, "analyze", SAMPLE)
    assert rc == 0 and "--speed" not in out and "warning" not in out


# ----------------------------------------------------------------------------- killed recordings
KILLED = textwrap.dedent(
    """
    import os, sys
    from hipmon.recording import SessionReader, SessionWriter
    src, dst = sys.argv[1], sys.argv[2]
    with SessionReader(src) as r:
        sensors = r.sensors
        log = r.connection_log
        msgs = sorted((m for sid in sensors for m in r.messages(sid)), key=lambda m: m.host_ns)
        origin = r.origin_ns
    w = SessionWriter(dst, {"athlete": "killed"}, origin_ns=origin, background=False)
    for s in sensors.values():
        w.add_sensor(s.sensor_id, s.placement, s.profile, s.rate_hz)
    for e in log:
        if e.kind in ("connect", "reconnect"):
            w.log_connection(e.sensor_id, e.kind, e.host_ns, e.detail)
    half = len(msgs) * 3 // 4
    w.write_many(msgs[:half])
    w.flush()
    w._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the first part reaches the file itself
    w.write_many(msgs[half:])
    w.flush()  # the last quarter only in the -wal
    print(len(msgs), half, flush=True)
    os._exit(0)  # killed: never closed
    """
)


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    d = tmp_path_factory.mktemp("killed")
    path = d / "killed.hipmon"
    out = subprocess.run([sys.executable, "-c", KILLED, str(SAMPLE), str(path)], capture_output=True, text=True,
                         check=True)
    total, half = map(int, out.stdout.split())
    return path, total, half


def test_reading_a_killed_recording_modifies_nothing_and_reads_the_wal(killed, tmp_path, capsys):
    path, total, half = killed
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    files = [path, wal, Path(f"{path}-shm")]
    before = _state(*files)
    listing = _names(path.parent)
    with SessionReader(path) as r:
        assert r.notification_count(role=None) == total  # including the quarter only in the -wal
        assert not r.closed_cleanly and "not closed cleanly" in r.warnings[0]
    rc, out, err = _run(capsys, "info", path)
    assert rc == 0 and "NOT closed cleanly" in out, err
    rc, out, err = _run(capsys, "analyze", path)
    assert rc == 0 and "events" in out, err
    rc, out, err = _run(capsys, "export", path, "--angles", tmp_path / "a.csv")
    assert rc == 0, err
    assert _state(*files) == before  # not merged, not touched
    assert _names(path.parent) == listing


def test_a_copy_without_its_wal_says_it_may_lack_its_end(killed, tmp_path, capsys):
    path, total, half = killed
    copy = tmp_path / "copy.hipmon"
    shutil.copyfile(path, copy)  # the -wal left behind
    with SessionReader(copy) as r:
        n = r.notification_count(role=None)
        assert half <= n < total
    rc, out, err = _run(capsys, "info", copy)
    assert rc == 0, err
    assert "not closed cleanly and no copy.hipmon-wal" in out and "last seconds may be missing" in out
    rc, out, _err = _run(capsys, "info", "--json", copy)
    assert any("last seconds may be missing" in w for w in __import__("json").loads(out)["warnings"])


# ----------------------------------------------------------------------------- repair
def _where(data: bytes, payloads: dict[tuple[str, int], bytes]) -> dict[tuple[str, int], int]:
    """Byte offset of each notification's payload in the file (its page holds it)."""
    return {k: data.find(p) for k, p in payloads.items()}


@pytest.fixture(scope="module")
def sample_payloads():
    with SessionReader(SAMPLE) as r:
        payloads = {}
        for sid in r.sensors:
            for seq, m in enumerate(r.messages(sid)):
                payloads[(sid, seq)] = m.data
    data = SAMPLE.read_bytes()
    counts: dict[bytes, int] = {}
    for v in payloads.values():
        counts[v] = counts.get(v, 0) + 1
    # located by their bytes: the data notifications (unique); the few 4-byte control replies are not
    unique = {k: v for k, v in payloads.items() if counts[v] == 1 and len(v) > 32}
    assert len(unique) > 0.99 * len(payloads)
    where = _where(data, unique)
    assert all(o > 0 for o in where.values())
    return data, unique, where


@pytest.mark.parametrize("frac", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_repair_of_a_truncated_copy_keeps_every_surviving_page(tmp_path, capsys, sample_payloads, frac):
    data, payloads, where = sample_payloads
    ps = 4096
    cut = int(len(data) * frac)
    damaged = tmp_path / "cut.hipmon"
    damaged.write_bytes(data[:cut])
    before = _state(damaged)
    with pytest.raises(DamagedFileError):
        SessionReader(damaged)
    rc, out, err = _run(capsys, "info", damaged)
    assert rc == 2 and "hipmon repair" in err and "would recover" in out
    _one_line_error(err, damaged.name)
    fixed = tmp_path / "fixed.hipmon"
    rc, out, err = _run(capsys, "repair", damaged, "-o", fixed)
    assert rc == 0, err
    assert _state(damaged) == before and _names(tmp_path) == ["cut.hipmon", "fixed.hipmon"]
    with SessionReader(fixed) as r:
        got = {(sid, seq): m.data for sid in r.sensors for seq, m in
               zip(_seqs(fixed, sid), r.messages(sid))}
        assert r.check_integrity() == "ok"
        assert r.meta["repaired"]["summary"]
    on_whole_pages = {k for k, o in where.items() if o + len(payloads[k]) <= cut // ps * ps}
    before_cut = {k for k, o in where.items() if o < cut}
    assert on_whole_pages <= set(got), len(on_whole_pages - set(got))
    assert all(got[k] == payloads[k] for k in got if k in payloads)  # nothing invented
    kept = len(before_cut & set(got)) / len(before_cut)
    print(f"cut at {frac:.0%}: {len(got)} of {len(payloads)} notifications, {kept:.1%} of those before the cut")
    assert kept >= 0.8
    if frac in (0.3, 0.9):
        rc, out, err = _run(capsys, "analyze", fixed, "--accept-untrusted")
        assert rc == 0 and "Traceback" not in err, err


def _seqs(path: Path, sid: str) -> list[int]:
    con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return [r[0] for r in con.execute("SELECT seq FROM notifications WHERE sensor_id=? ORDER BY seq", (sid,))]
    finally:
        con.close()


def test_repair_applies_the_committed_wal_and_reads_only(killed, tmp_path, capsys):
    path, total, _half = killed
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    before = _state(*files)
    salv = salvage(path)
    assert salv.report.rows["notifications"] == total
    assert "committed frame(s) applied" in salv.report.wal
    out = tmp_path / "r.hipmon"
    report = repair(path, out)
    assert sum(v["recovered"] + v["control"] for v in report.notifications.values()) == total
    assert _state(*files) == before


def test_repair_of_nothing_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "notes.hipmon"
    bad.write_text("hello\n" * 1000)
    rc, _out, err = _run(capsys, "repair", bad, "-o", tmp_path / "new.hipmon")
    assert rc == 2
    _one_line_error(err, bad.name)
    assert _names(tmp_path) == ["notes.hipmon"]


def test_random_byte_flips_never_a_traceback(tmp_path, capsys):
    data = SAMPLE.read_bytes()
    rng = random.Random(13)
    for k in range(6):
        flipped = bytearray(data)
        start = rng.randrange(len(data) // 4, 3 * len(data) // 4)
        for _ in range(40):
            i = start + rng.randrange(0, 8192)
            flipped[i] ^= 1 << rng.randrange(8)
        p = tmp_path / f"flip{k}.hipmon"
        p.write_bytes(bytes(flipped))
        rc, out, err = _run(capsys, "info", p)
        assert "Traceback" not in err and rc in (0, 2), err
        if rc == 2:
            _one_line_error(err, p.name)
        fixed = tmp_path / f"fixed{k}.hipmon"
        rc, out, err = _run(capsys, "repair", p, "-o", fixed)
        assert rc == 0 and "Traceback" not in err, err
        with SessionReader(fixed) as r:
            assert r.notification_count() > 0.8 * 2742
        assert _state(p)[p.name][0] == hashlib.sha256(bytes(flipped)).hexdigest()
