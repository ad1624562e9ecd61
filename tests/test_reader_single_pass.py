"""Issue 16: ``SessionReader.item_blocks`` reads each notification once (each sensor's rows in
seq windows, merged across sensors in host-time order) and gives exactly what the SQL order of
``iter_notifications`` and the two-pass reader (``_two_pass_blocks``: an index of every row, then
the payloads) give, on random files, window sizes and block sizes; a file where a sensor's
host_ns goes back along its seq is read the two-pass way."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from _recording_files import copy_in_encoding

from hipmon.recording import SessionReader, SessionWriter, reader as reader_mod
from hipmon.recording._common import RecordingError
from hipmon.types import RawNotification


def _items(blocks) -> list:
    return [x for b in blocks for x in b.items()]


def _random_file(path: Path, seed: int, n: int = 300, back_step: tuple[str, int, int] | None = None,
                 holes: bool = True) -> Path:
    """Three sensors (one not declared) at different rates, each one's host_ns non-decreasing
    along its seq, with ties within a sensor and across sensors, control messages, empty
    payloads, a sensor with control messages only, seq holes (single rows and a run longer than
    the windows), and connection events. ``back_step`` (sensor, seq, host_ns): that row
    stamped so."""
    rng = np.random.default_rng(seed)
    notes = []
    for sid, step in (("pelvis", 3), ("left_thigh", 2), ("stray", 5)):
        host = 1_000 + int(rng.integers(0, 5)) + np.cumsum(rng.integers(0, step, n))  # zeros: ties
        for k in range(n):
            ns = int(host[k])
            if back_step is not None and back_step[:2] == (sid, k):
                ns = back_step[2]
            role = "control" if rng.random() < 0.05 else "data"
            data = bytes(rng.integers(0, 256, size=int(rng.integers(0, 30)), dtype=np.uint8))
            notes.append(RawNotification(sid, ns, data, role))
    notes += [RawNotification("ctl_only", 1_100 + 7 * k, bytes([k]), "control") for k in range(4)]
    with SessionWriter(path, origin_ns=0, background=False) as w:
        w.add_sensor("pelvis", "pelvis", "movesense-gsp", 104.0)
        w.add_sensor("left_thigh", "left_thigh", "movesense-gsp", 104.0)
        w.write_many(notes)
        w.log_connection("pelvis", "connect", 990)
        w.log_connection("left_thigh", "reconnect", int(notes[40].host_ns))  # tied with a notification
        w.log_connection(None, "streaming", 1_200)
        w.log_connection("left_thigh", "disconnect", 10**9)  # after the last notification
    if holes:
        con = sqlite3.connect(path)
        for sid in ("pelvis", "left_thigh"):
            gone = [int(s) for s in rng.choice(n, size=n // 20, replace=False)]
            con.executemany("DELETE FROM notifications WHERE sensor_id = ? AND seq = ?", [(sid, s) for s in gone])
        con.execute("DELETE FROM notifications WHERE sensor_id = 'stray' AND seq BETWEEN 100 AND 180")
        con.execute("DELETE FROM notifications WHERE sensor_id = 'pelvis' AND seq < 3")
        con.commit()
        con.close()
    return path


def _two_pass(r: SessionReader, rows: int, control: bool) -> list:
    return _items(r._two_pass_blocks(r._sensor_ids(), rows, control, 0, None, ""))


@pytest.mark.parametrize("window", [1, 3, 50, 10_000])
def test_single_pass_equals_sql_order_and_two_pass(tmp_path, monkeypatch, window):
    from hipmon.pipeline import replay_items

    monkeypatch.setattr(reader_mod, "READ_WINDOW", window)
    calls = []
    monkeypatch.setattr(SessionReader, "_notification_index",
                        lambda self, c, f=SessionReader._notification_index: calls.append(c) or f(self, c))
    for seed in range(2):
        path = _random_file(tmp_path / f"r{seed}.hipmon", seed, n=100 if window < 10 else 300, holes=seed == 0)
        with SessionReader(path) as r:
            ref = list(r.iter_notifications())
            assert any(n.role == "control" for n in ref) and any(not n.data for n in ref)
            for rows in (1, 5, 1000):
                for control in (True, False):
                    got = _items(r.item_blocks(rows=rows, control=control))
                    assert got == list(r.iter_notifications(control=control))
                    if rows == 1000:
                        assert got == _two_pass(r, rows, control)
                blocks = list(r.item_blocks(rows=rows, events=True))
                assert _items(blocks) == list(replay_items(r))
                assert max(len(b) for b in blocks) <= rows + 4  # the events go in on top
                for b in blocks:
                    assert b.sensor_ids == blocks[-1].sensor_ids[:len(b.sensor_ids)]
                    assert set(b.others) == set(np.flatnonzero(~b.is_data).tolist())
                    assert all(b.data(i) == b.payload[b.start[i]:b.start[i] + b.length[i]] for i in range(len(b)))
    assert calls == [True, False] * 2  # only the oracle (_two_pass) built the index


def test_blocks_share_no_state_between_reads(tmp_path, monkeypatch):
    """Two reads interleaved (two generators on one reader) give the same items each."""
    monkeypatch.setattr(reader_mod, "READ_WINDOW", 16)
    with SessionReader(_random_file(tmp_path / "r.hipmon", 5)) as r:
        a, b = r.item_blocks(rows=20), r.item_blocks(rows=7, control=False)
        got_a, got_b = [], []
        for x, y in itertools.zip_longest(a, b):
            got_a.extend(x.items() if x is not None else [])
            got_b.extend(y.items() if y is not None else [])
        assert got_a == list(r.iter_notifications()) and got_b == list(r.iter_notifications(control=False))


def _spy_two_pass(monkeypatch) -> list[int]:
    skips: list[int] = []
    f = SessionReader._two_pass_blocks

    def spy(self, sids, rows, control, skip, horizon, why):
        skips.append(skip)
        return f(self, sids, rows, control, skip, horizon, why)

    monkeypatch.setattr(SessionReader, "_two_pass_blocks", spy)
    return skips


def test_host_ns_going_back_in_the_first_window_reads_two_pass(tmp_path, monkeypatch):
    skips = _spy_two_pass(monkeypatch)
    path = _random_file(tmp_path / "b.hipmon", 1, back_step=("left_thigh", 150, 1_005),
                        holes=False)
    with SessionReader(path) as r:
        for rows in (3, 1000):
            assert _items(r.item_blocks(rows=rows)) == list(r.iter_notifications())
    assert skips == [0, 0]


def _two_sensor_file(path: Path, bad_ns: int) -> Path:
    """Two sensors 10 ns apart, 60 notifications each; left_thigh's seq 30 stamped ``bad_ns``."""
    notes = []
    for k in range(60):
        notes.append(RawNotification("pelvis", 1_000 + 10 * k, bytes([k, 1])))
        notes.append(RawNotification("left_thigh", bad_ns if k == 30 else 1_005 + 10 * k, bytes([k, 2, 2])))
    with SessionWriter(path, origin_ns=0, background=False) as w:
        w.write_many(notes)
    return path


def test_host_ns_going_back_later_reads_the_rest_two_pass(tmp_path, monkeypatch):
    """Found after blocks were handed out: the rest comes the two-pass way when what was handed
    out is what comes first (a step back not below it); else a RecordingError says why."""
    monkeypatch.setattr(reader_mod, "READ_WINDOW", 4)
    skips = _spy_two_pass(monkeypatch)
    with SessionReader(_two_sensor_file(tmp_path / "late.hipmon", 1_005 + 10 * 29 - 1)) as r:
        assert _items(r.item_blocks(rows=3)) == list(r.iter_notifications())
    assert len(skips) == 1 and 0 < skips[0] < 120
    with SessionReader(_two_sensor_file(tmp_path / "far.hipmon", 1_003)) as r:
        with pytest.raises(RecordingError, match="host_ns goes back along seq in 28..31, further back than the"):
            list(r.item_blocks())
        assert len(list(r.iter_notifications())) == 120


@pytest.mark.parametrize("encoding", ["UTF-16le", "UTF-16be"])
def test_a_utf16_file_reads_the_same(tmp_path, monkeypatch, encoding):
    """The single pass through hex (a file in another text encoding) == the UTF-8 file's."""
    monkeypatch.setattr(reader_mod, "READ_WINDOW", 9)
    src = _random_file(tmp_path / "m.hipmon", 2)
    dst = copy_in_encoding(src, tmp_path / "u16.hipmon", encoding)
    with SessionReader(dst) as r, SessionReader(src) as r0:
        assert r._con.execute("PRAGMA encoding").fetchone()[0] == encoding
        assert _items(r.item_blocks(rows=50, events=True)) == _items(r0.item_blocks(events=True))



def test_process_session_reads_a_file_whose_host_times_go_back_far(monkeypatch):
    """A step back below what ``item_blocks`` handed out (only a hand-made file: acquisition
    stamps in order) fails no analysis: ``process_session`` feeds the file in SQL order instead,
    the same result as its unstaged replay."""
    from hipmon.pipeline import process_session

    path = Path(__file__).resolve().parents[1] / "recordings" / "single_leg_stance.hipmon"
    expected = process_session(path, staged=False)
    real = reader_mod.SessionReader.item_blocks

    def late_step_back(self, *a, **k):  # a block handed out, then the step back found
        blocks = real(self, *a, **k)
        yield next(blocks)
        raise reader_mod.NotificationOrderError(f"{self.path}: host_ns goes back along seq")

    monkeypatch.setattr(reader_mod.SessionReader, "item_blocks", late_step_back)
    got = process_session(path)
    assert len(got.events) == len(expected.events) and len(got.frames) == len(expected.frames) > 0
    np.testing.assert_array_equal(got.frames.angles_deg, expected.frames.angles_deg)
    assert [(e.kind, e.side, e.start_s) for e in got.events] == [(e.kind, e.side, e.start_s) for e in expected.events]
