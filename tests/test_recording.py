"""Session files: round trip, crash safety (kill -9), loss accounting, completeness, bad files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from _waiting import wait_until

from hipmon.recording import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    RecordingError,
    SessionReader,
    SessionWriter,
    summarize,
)
from hipmon.recording.synthetic import SYNTHETIC_PROFILE, SyntheticDecoder, synthetic_stream
from hipmon.types import Gap, ImuBlock, RawNotification


def synth_reader(path: Path) -> SessionReader:
    return SessionReader(path, decoder_factory=lambda info: SyntheticDecoder(info.rate_hz))


def test_round_trip_everything(tmp_path: Path) -> None:
    path = tmp_path / "s.hipmon"
    origin = 10_000_000_000
    notes = [RawNotification("p", origin + 1_000_000 * i, bytes([i % 256]) * (i % 7)) for i in range(1000)]
    with SessionWriter(path, {"athlete": "A. Runner", "mass_kg": 61.5}, origin_ns=origin) as w:
        w.add_sensor("p", "pelvis", "movesense", 208.0, address="AA:BB", extra={"serial": "123"})
        w.add_sensor("l", "left_thigh", "polar-verity", 52.0)
        w.write_many(notes)
        w.add_gap(Gap("p", 1.5, 1.6, 20, "disconnect"))
        w.add_marker(2.25, "hop")
        w.add_alert(3.0, "pelvic_drop", "left", {"peak_deg": 9.5})
        w.set_calibration({"q_sensor_segment": np.array([1.0, 0, 0, 0]), "score": 0.9})
        w.set_calibration({"score": 0.95})
        w.log_connection("l", "reconnect", host_ns=origin + 5)
    with SessionReader(path) as r:
        assert r.schema_version == SCHEMA_VERSION
        assert r.closed_cleanly
        assert r.origin_ns == origin
        assert r.metadata == {"athlete": "A. Runner", "mass_kg": 61.5}
        assert r.meta["software_version"]
        assert list(r.sensors) == ["p", "l"]
        p = r.sensors["p"]
        assert (p.placement, p.profile, p.rate_hz, p.address, p.extra) == ("pelvis", "movesense", 208.0, "AA:BB", {"serial": "123"})
        assert r.sensor_for("left_thigh").sensor_id == "l"
        host_ns, payloads = r.notifications("p")
        assert host_ns.tolist() == [n.host_ns for n in notes]
        assert payloads == [n.data for n in notes]
        assert r.notifications("l")[0].size == 0
        assert r.gaps == [Gap("p", 1.5, 1.6, 20, "disconnect")]
        assert [(m.time_s, m.label) for m in r.markers] == [(2.25, "hop")]
        assert [(a.time_s, a.rule, a.side, a.values) for a in r.alerts] == [(3.0, "pelvic_drop", "left", {"peak_deg": 9.5})]
        assert r.calibration == {"score": 0.95}
        assert r.reset_times_ns("l") == [origin + 5]
        assert r.duration_s == pytest.approx(0.999)  # first to last arrival
        assert r.check_integrity() == "ok"
    # plain sqlite3 reads it too
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert json.loads(con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]) == SCHEMA_VERSION
    assert con.execute("SELECT COUNT(*), MIN(seq), MAX(seq) FROM notifications").fetchone() == (1000, 0, 999)
    con.close()


def test_unknown_sensor_is_kept_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "s.hipmon"
    with SessionWriter(path, background=False) as w:
        w.write(RawNotification("mystery", 5, b"\x01\x02"))
    with SessionReader(path) as r:
        assert r.sensors["mystery"].placement is None
        assert r.notifications("mystery")[1] == [b"\x01\x02"]


def test_refuses_to_overwrite_and_bad_placement(tmp_path: Path) -> None:
    path = tmp_path / "s.hipmon"
    path.write_bytes(b"precious")
    with pytest.raises(RecordingError, match="already exists"):
        SessionWriter(path)
    assert path.read_bytes() == b"precious"
    with SessionWriter(tmp_path / "t.hipmon") as w:
        with pytest.raises(ValueError, match="placement"):
            w.add_sensor("x", "left_knee", "p", 100)


def test_time_based_flush_commits_without_close(tmp_path: Path) -> None:
    """A second connection sees notifications within the flush interval, writer still open."""
    path = tmp_path / "s.hipmon"
    w = SessionWriter(path, flush_interval_s=0.1)
    w.add_sensor("p", "pelvis", "x", 100)
    for i in range(50):
        w.write(RawNotification("p", i, b"abc"))
    deadline = time.monotonic() + 5.0
    seen = 0
    while time.monotonic() < deadline:
        con = sqlite3.connect(path)
        seen = con.execute("SELECT COUNT(*) FROM notifications").fetchone()[0]
        con.close()
        if seen == 50:
            break
        time.sleep(0.02)
    assert seen == 50
    with SessionReader(path) as r:
        assert not r.closed_cleanly
    w.close()


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "not an SQLite database"),
        (b"time_s,acc_x\n0,1\n", "not an SQLite database"),
        (b"SQLite format 3\x00" + b"\x00" * 200, "not a readable session file|not a hipmon"),
    ],
)
def test_not_a_recording(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad.hipmon"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=match) as info:
        SessionReader(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content  # untouched


def test_other_sqlite_and_newer_schema_and_missing(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    with pytest.raises(RecordingError, match="not a hipmon recording"):
        SessionReader(other)
    newer = tmp_path / "newer.hipmon"
    SessionWriter(newer).close()
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(RecordingError, match=f"schema version {SCHEMA_VERSION + 1}.*upgrade"):
        SessionReader(newer)
    with pytest.raises(RecordingError, match="no such file"):
        SessionReader(tmp_path / "nothing.hipmon")
    assert not (tmp_path / "nothing.hipmon").exists()


def test_atomic_writer_leaves_nothing_on_error(tmp_path: Path) -> None:
    path = tmp_path / "imp.hipmon"
    with pytest.raises(RuntimeError):
        with SessionWriter(path, atomic=True, background=False) as w:
            w.add_sensor("p", "pelvis", "csv-import", 100)
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_imported_samples_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 10_000  # > one chunk
    t = 100.0 + np.cumsum(rng.uniform(0.004, 0.006, n))
    block = ImuBlock(t, rng.normal(size=(n, 3)), rng.normal(size=(n, 3)), rng.normal(size=(n, 3)))
    path = tmp_path / "s.hipmon"
    with SessionWriter(path, atomic=True) as w:
        w.add_sensor("pelvis", "pelvis", "csv-import", 200)
        w.add_samples("pelvis", ImuBlock(t[:3000], block.acc_sensor[:3000], block.gyr_sensor[:3000], block.mag_sensor[:3000]))
        w.add_samples("pelvis", ImuBlock(t[3000:], block.acc_sensor[3000:], block.gyr_sensor[3000:], block.mag_sensor[3000:]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.hipmon"]
    with SessionReader(path) as r:
        b = r.samples("pelvis")
        for name in ("time_sensor_s", "acc_sensor", "gyr_sensor", "mag_sensor"):
            assert np.array_equal(getattr(b, name), getattr(block, name))  # bit-exact float64
        assert np.array_equal(r.session_time("pelvis"), t)
        assert r.duration_s == pytest.approx(t[-1] - t[0])


def test_loss_2_percent_reported_exactly(tmp_path: Path) -> None:
    """2 % of notifications dropped: the gaps count exactly the samples in them, at the right places."""
    path = tmp_path / "s.hipmon"
    stream = synthetic_stream("p", seconds=120, loss=0.02, seed=7)
    lost_packets = int(stream.lost.sum())
    assert 0.01 < lost_packets / len(stream.lost) < 0.03
    with SessionWriter(path, origin_ns=0) as w:
        w.add_sensor("p", "pelvis", SYNTHETIC_PROFILE, 208)
        w.write_many(stream.received)
    with synth_reader(path) as r:
        gaps = r.detected_gaps("p")
        assert sum(g.samples_lost for g in gaps) == stream.samples_lost
        # each gap sits exactly around a run of lost packets (session times of the
        # neighbouring received samples, within the sync error of 2 ms)
        lost_samples = np.flatnonzero(stream.lost[stream.packet_of_sample])
        runs = np.split(lost_samples, np.flatnonzero(np.diff(lost_samples) > 1) + 1)
        assert len(gaps) == len(runs)
        for g, run in zip(gaps, runs):
            assert g.samples_lost == len(run)
            assert g.start_s == pytest.approx(stream.time_session_s[run[0] - 1] + 0.010, abs=2e-3)
            assert g.end_s == pytest.approx(stream.time_session_s[run[-1] + 1] + 0.010, abs=2e-3)
        s = summarize(r)
        assert s["gaps"] == {"count": len(runs), "samples_lost": stream.samples_lost}


def test_three_sensors_208hz_5min_complete_in_order(tmp_path: Path) -> None:
    """3 sensors × 208 Hz × 5 min from 3 producer threads, background flusher:
    every sample sent is in the file, in order, none duplicated, values exact."""
    path = tmp_path / "s.hipmon"
    streams = {
        sid: synthetic_stream(sid, seconds=300, samples_per_packet=4, drift_ppm=d, seed=k)
        for k, (sid, d) in enumerate([("p", 40), ("l", -30), ("r", 10)])
    }
    w = SessionWriter(path, origin_ns=0, flush_interval_s=0.05)
    for sid, pl in zip(streams, ("pelvis", "left_thigh", "right_thigh")):
        w.add_sensor(sid, pl, SYNTHETIC_PROFILE, 208)

    def produce(sid: str) -> None:
        for i, n in enumerate(streams[sid].notifications):
            w.write(n)
            if i % 500 == 0:
                time.sleep(0.001)  # interleave with the flusher and the other producers

    threads = [threading.Thread(target=produce, args=(sid,)) for sid in streams]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    with synth_reader(path) as r:
        for sid, s in streams.items():
            b = r.samples(sid)
            assert len(b) == 208 * 300
            assert np.array_equal(b.sample_index, np.arange(208 * 300))
            np.testing.assert_allclose(b.time_sensor_s, s.time_sensor_s, rtol=0, atol=1e-8)  # ns packing
            assert np.array_equal(b.acc_sensor, s.acc_sensor)
            assert np.array_equal(b.gyr_sensor, s.gyr_sensor)
            assert r.decode(sid).decode_errors == 0
            assert r.detected_gaps(sid) == []
        assert r.notification_count() == sum(len(s.notifications) for s in streams.values())


def test_decode_errors_counted_and_decoding_continues(tmp_path: Path) -> None:
    path = tmp_path / "s.hipmon"
    s = synthetic_stream("p", seconds=2, seed=1)
    notes = list(s.notifications)
    notes.insert(10, RawNotification("p", notes[9].host_ns, b"\x00\x01"))
    with SessionWriter(path, origin_ns=0) as w:
        w.add_sensor("p", "pelvis", SYNTHETIC_PROFILE, 208)
        w.write_many(notes)
    with synth_reader(path) as r:
        d = r.decode("p")
        assert d.decode_errors == 1 and d.notifications == len(notes)
        assert "notification 10" in d.first_errors[0]
        assert len(d.block) == len(s.time_sensor_s)


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from hipmon.recording import SessionWriter
    from hipmon.types import RawNotification
    w = SessionWriter(sys.argv[1], {"athlete": "kill"}, origin_ns=0)
    for sid, pl in (("p", "pelvis"), ("l", "left_thigh"), ("r", "right_thigh")):
        w.add_sensor(sid, pl, "synthetic-test", 208)
    print("ready", flush=True)
    i = 0
    while True:
        for sid in ("p", "l", "r"):
            t = time.monotonic_ns()
            w.write(RawNotification(sid, t, i.to_bytes(4, "little") * 5))
            print(sid, i, t, flush=True)
        i += 1
        time.sleep(0.002)
    """
)


def test_kill_9_keeps_everything_up_to_1s_before(tmp_path: Path) -> None:
    path = tmp_path / "killed.hipmon"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    reported: list[tuple[str, int, int]] = []

    def reader() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            sid, i, t = line.split()
            reported.append((sid, int(i), int(t)))

    th = threading.Thread(target=reader)
    th.start()
    # write for 2 s (by the writer's own stamps, however slow this machine is), then kill
    wrote = wait_until(lambda: len(reported) > 300 and reported[-1][2] - reported[0][2] > 2e9)
    kill_ns = time.monotonic_ns()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    th.join()
    assert wrote and proc.returncode == -signal.SIGKILL
    assert len(reported) > 300
    with SessionReader(path) as r:
        assert r.check_integrity() == "ok"
        assert not r.closed_cleanly
        assert r.metadata == {"athlete": "kill"}
        newest = 0
        for sid in ("p", "l", "r"):
            host_ns, payloads = r.notifications(sid)
            sent = [(i, t) for s, i, t in reported if s == sid]
            # what is there is exactly a prefix of what was written: in order, no duplicates
            assert host_ns.tolist() == [t for _, t in sent[: len(host_ns)]]
            assert payloads == [i.to_bytes(4, "little") * 5 for i, _ in sent[: len(host_ns)]]
            must_have = [t for _, t in sent if t <= kill_ns - 1_000_000_000]
            assert len(host_ns) >= len(must_have) > 0
            newest = max(newest, int(host_ns[-1]))
        lag_s = (kill_ns - newest) / 1e9
        print(f"kill -9: newest stored notification {lag_s * 1e3:.0f} ms before the kill")
        assert lag_s <= 1.0


def test_real_profile_codec_round_trip(tmp_path: Path) -> None:
    """Notifications from a real profile's encoder decode back through the default (profile) decoder."""
    from hipmon import profiles

    profile = profiles.get_profile("hipmon-open")
    rate = profile.default_rate_hz
    n = 400
    t = np.arange(n) / rate
    block = ImuBlock(t, np.tile([0.0, 9.81, 0.0], (n, 1)), np.tile([0.1, -0.2, 0.3], (n, 1)))
    packets = profile.make_encoder(rate).encode(block)
    path = tmp_path / "s.hipmon"
    with SessionWriter(path, origin_ns=0) as w:
        w.add_sensor("p", "pelvis", "hipmon-open", rate)
        w.write_many(RawNotification("p", 1_000_000 * (k + 1), d) for k, d in enumerate(packets))
    with SessionReader(path) as r:
        d = r.decode("p")
        assert d.decode_errors == 0 and d.notifications == len(packets)
        assert len(d.block) == n
        np.testing.assert_allclose(d.block.acc_sensor, block.acc_sensor, atol=0.01)
        np.testing.assert_allclose(d.block.gyr_sensor, block.gyr_sensor, atol=0.01)
