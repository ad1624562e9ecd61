"""Issue 16: a recording read in blocks of columns (``SessionReader.item_blocks``) is what it
reads one notification at a time (``iter_notifications``, ``replay_items``), and the replay of
those blocks (``Pipeline.replay_blocks``, ``SensorStream.push_block``, the movesense codec's bulk
decode from one buffer) gives what feeding the items one at a time gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _recording_files import copy_in_encoding

from hipmon.recording import SessionReader, SessionWriter
from hipmon.recording._common import DamagedFileError
from hipmon.stream import ItemBlock, SensorStream
from hipmon.types import ConnectionEvent, ImuBlock, RawNotification

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "recordings" / "landings_valgus.hipmon"


def _blocks_items(reader: SessionReader, **kw) -> list:
    return [x for b in reader.item_blocks(**kw) for x in b.items()]


def _mixed_file(path: Path, back_steps: bool = True) -> Path:
    """Three sensors (one not in the sensors table) with ties in host_ns across sensors, control
    messages, empty payloads, with ``back_steps`` a sensor whose host_ns goes back along its seq
    (read the two-pass way), and connection events: in band, tied with notifications,
    session-wide (no sensor), and after the last one."""
    rng = np.random.default_rng(3)
    notes = []
    for k in range(700):
        sid = ("pelvis", "left_thigh", "stray")[k % 3]
        ns = 1_000 + (k // 3) * 10  # the three of a round share the stamp
        if back_steps and sid == "left_thigh" and k % 50 == 1:
            ns -= 25  # stamped before earlier notifications of its own
        role = "control" if k % 97 == 5 else "data"
        data = bytes(rng.integers(0, 256, size=int(rng.integers(0, 40)), dtype=np.uint8))
        notes.append(RawNotification(sid, ns, data, role))
    with SessionWriter(path, origin_ns=0, background=False) as w:
        w.add_sensor("pelvis", "pelvis", "movesense-gsp", 104.0)
        w.add_sensor("left_thigh", "left_thigh", "movesense-gsp", 104.0)
        w.write_many(notes)
        w.log_connection("pelvis", "connect", 990)
        w.log_connection("left_thigh", "reconnect", 1_500)  # tied with a round of notifications
        w.log_connection(None, "streaming", 1_505)
        w.log_connection("pelvis", "disconnect", 1_505)
        w.log_connection("pelvis", "note", 1_600)  # not in band
        w.log_connection("left_thigh", "disconnect", 99_999)  # after the last notification
    return path


@pytest.mark.parametrize("rows,back_steps", [(1, True), (7, True), (64, True), (30000, True), (7, False),
                                             (30000, False)])
def test_blocks_hold_the_notifications_in_order(tmp_path, rows, back_steps):
    from hipmon.pipeline import replay_items

    with SessionReader(_mixed_file(tmp_path / "m.hipmon", back_steps)) as r:
        ref = list(r.iter_notifications())
        assert any(n.role == "control" for n in ref) and any(not n.data for n in ref)
        assert _blocks_items(r, rows=rows) == ref
        assert _blocks_items(r, rows=rows, control=False) == list(r.iter_notifications(control=False))
        items = list(replay_items(r))
        assert any(isinstance(x, ConnectionEvent) and x.sensor_id is None for x in items)
        assert _blocks_items(r, rows=rows, events=True) == items
        blocks = list(r.item_blocks(rows=rows, events=True))
        ids = blocks[-1].sensor_ids
        for b in blocks:  # one sensor numbering for all blocks
            assert b.sensor_ids == ids[:len(b.sensor_ids)]
            assert b.start.shape == b.length.shape == b.host_ns.shape == b.sensor.shape == b.is_data.shape
            assert set(b.others) == set(np.flatnonzero(~b.is_data).tolist())


def test_blocks_of_the_bundled_recordings_and_a_version_1_file(tmp_path):
    from hipmon.pipeline import replay_items

    for path in sorted((REPO / "recordings").glob("*.hipmon")):
        with SessionReader(path) as r:
            blocks = list(r.item_blocks(rows=1000, events=True))
            assert [x for b in blocks for x in b.items()] == list(replay_items(r))
            b = next(r.item_blocks())
            n = next(r.iter_notifications())
            assert (b.sensor_ids[b.sensor[0]], int(b.host_ns[0]), b.data(0)) == (n.sensor_id, n.host_ns, n.data)
    from test_recording_control import _v1_file

    notes = [RawNotification(("a", "b")[i % 2], 100 + i // 2, bytes([i % 256, 1, 2])) for i in range(50)]
    _v1_file(tmp_path / "v1.hipmon", notes)
    with SessionReader(tmp_path / "v1.hipmon") as r:
        assert r.schema_version == 1
        assert _blocks_items(r, rows=16) == list(r.iter_notifications()) and len(_blocks_items(r)) == len(notes)


def test_an_empty_session_and_one_with_events_only(tmp_path):
    with SessionWriter(tmp_path / "e.hipmon", background=False) as w:
        w.add_sensor("pelvis", "pelvis", "movesense-gsp", 104.0)
    with SessionReader(tmp_path / "e.hipmon") as r:
        assert list(r.item_blocks(events=True)) == []
    with SessionWriter(tmp_path / "ev.hipmon", background=False) as w:
        w.add_sensor("pelvis", "pelvis", "movesense-gsp", 104.0)
        w.log_connection("pelvis", "connect", 5)
        w.log_connection("pelvis", "disconnect", 9)
    from hipmon.pipeline import replay_items

    with SessionReader(tmp_path / "ev.hipmon") as r:
        assert _blocks_items(r, events=True) == list(replay_items(r)) and len(list(replay_items(r))) == 2
        assert list(r.item_blocks()) == []


def test_a_utf16_file_reads_the_same(tmp_path):
    """hipmon writes UTF-8 files, where SQLite concatenates the payload BLOBs byte for byte; a
    file in another text encoding goes through hex and reads the same."""
    src = _mixed_file(tmp_path / "m.hipmon")
    dst = copy_in_encoding(src, tmp_path / "u16.hipmon", "UTF-16le")
    with SessionReader(dst) as r, SessionReader(src) as r0:
        assert r._con.execute("PRAGMA encoding").fetchone()[0] == "UTF-16le"
        assert _blocks_items(r, rows=50, events=True) == _blocks_items(r0, events=True)


def test_a_damaged_file_gives_the_same_error(tmp_path):
    """A file whose notification pages are garbled: the block reader says what
    ``iter_notifications`` says (``DamagedFileError``, naming the file, with the repair hint)."""
    data = bytearray(SAMPLE.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for k in range(len(data) // page // 2, len(data) // page // 2 + 4):  # pages in the middle
        data[k * page + 8:(k + 1) * page] = b"\xff" * (page - 8)
    bad = tmp_path / "garbled.hipmon"
    bad.write_bytes(bytes(data))
    with SessionReader(bad) as r:
        with pytest.raises(DamagedFileError) as one:
            list(r.iter_notifications())
        with pytest.raises(DamagedFileError) as blocks:
            list(r.item_blocks())
    for exc in (one.value, blocks.value):
        assert str(exc).startswith(f"{bad}: damaged session file") and "hipmon repair" in str(exc)
    cut = tmp_path / "cut.hipmon"
    cut.write_bytes(SAMPLE.read_bytes()[:150_000])
    with pytest.raises(DamagedFileError, match="truncated"):
        SessionReader(cut)


def _movesense_items(n_samples: int = 4000, corrupt_at: tuple[int, ...] = (), drop: tuple[int, ...] = ()):
    from hipmon.profiles import get_profile

    enc = get_profile("movesense-gsp").make_encoder(208.0)
    t = 3.0 + np.arange(n_samples) / 208.0
    rng = np.random.default_rng(1)
    block = ImuBlock(t, rng.normal(0, 3, (n_samples, 3)), rng.normal(0, 1, (n_samples, 3)), rng.normal(0, 40, (n_samples, 3)))
    packets = enc.encode(block)
    out = []
    for i, d in enumerate(packets):
        if i in drop:
            continue
        if i in corrupt_at:  # a NaN in a message's first part: the message is corrupt
            d = d[:10] + np.array([np.nan], "<f4").tobytes() + d[14:]
        out.append(RawNotification("pelvis", 10**9 + int(t[min(8 * i, n_samples - 1)] * 1e9) + i, d))
    return out


@pytest.mark.parametrize("corrupt_at,drop", [((), ()), ((41, 300), (77, 500)), ((0,), ())])
def test_stream_stage_on_blocks_equals_item_by_item(corrupt_at, drop):
    """``SensorStream.push_block`` (bulk decode from one buffer) == ``push`` one item at a time,
    through corrupt messages (the bulk path declines, then retries) and lost parts."""
    items = _movesense_items(corrupt_at=corrupt_at, drop=drop)
    items.insert(200, ConnectionEvent("pelvis", items[199].host_ns + 1, "reconnect"))
    one = SensorStream.from_profile("pelvis", "movesense-gsp", 208.0, 10**9)
    outs = [one.push(x) for x in items]
    bulk = SensorStream.from_profile("pelvis", "movesense-gsp", 208.0, 10**9)
    run = bulk.push_block(ItemBlock.from_items(items))
    assert run.bulk_items > (0.5 if corrupt_at else 0.8) * len(items)  # after a corrupt message: 256 one by one
    assert np.array_equal(run.time_session_s, np.concatenate([o.time_session_s for o in outs if o.block is not None]))
    for name in ("acc_sensor", "gyr_sensor", "time_sensor_s", "host_ns"):
        ref = np.concatenate([getattr(o.block, name) for o in outs if o.block is not None])
        assert np.array_equal(getattr(run.block, name), ref), name
    assert list(run.counts) == [0 if o.block is None else len(o.block) for o in outs]
    assert [repr(g) for g in run.gaps] == [repr(g) for o in outs for g in o.gaps]
    assert run.messages == [m for o in outs for m in o.messages]
    assert any("corrupted" in m for m in run.messages) == bool(corrupt_at)
    for attr in ("notifications", "samples", "lost", "bad", "last_time_sensor", "last_session", "first_ns", "last_ns"):
        assert getattr(one, attr) == getattr(bulk, attr), attr
    assert one.decoder.stats == bulk.decoder.stats


def test_staged_replay_of_blocks_equals_feed_with_control_messages(tmp_path):
    """A Polar recording (control-point messages in band, no bulk codec path: row by row)
    through ``process_session``'s block replay == fed item by item."""
    from hipmon.ble.record import record_emulated
    from hipmon.pipeline import process_session

    out = tmp_path / "polar.hipmon"
    assert record_emulated(str(out), kind="walk", seconds=4, profile="polar-verity-sense", rate_hz=104.0,
                           seed=2).ok
    with SessionReader(out) as r:
        assert r.notification_count(role="control") >= 3
    staged, fed = process_session(out), process_session(out, staged=False)
    assert len(staged.frames) > 100
    assert np.array_equal(staged.frames.time_s, fed.frames.time_s)
    assert np.array_equal(staged.frames.angles_deg, fed.frames.angles_deg, equal_nan=True)
    assert repr(staged.events) == repr(fed.events) and repr(staged.gaps) == repr(fed.gaps)
