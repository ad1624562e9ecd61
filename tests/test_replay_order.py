"""Issue 12: a replay feeds the pipeline the items in the order the live pipeline got them.

Live, ``ChainSource`` feeds the pipeline the acquisition queue's items in queue order; a replay
(``hipmon.pipeline.replay_items``) rebuilds that order from ``host_ns`` alone: notifications
sorted by it, each logged connection event before the first notification at or after it. That
is the queue order only if ``host_ns`` increases strictly along the queue, which
``hipmon.ble.Acquisition.put`` guarantees (a tie, or a stamp not after the previous one, gets
the previous stamp + 1 ns). These tests run the real queue, recorder, reader and replay with
such ties: without the guarantee a tied connection event lands before a notification that
arrived ahead of it, and tied notifications of two sensors come back in sensor-id order.
"""

from __future__ import annotations

from hipmon.ble.acquisition import Acquisition
from hipmon.pipeline import replay_items
from hipmon.recording import SessionReader, SessionRecorder
from hipmon.types import ConnectionEvent, RawNotification, SensorSpec

SENSORS = ("pelvis", "left_thigh", "right_thigh")


def _note(sid: str, ns: int, k: int) -> RawNotification:
    return RawNotification(sid, ns, f"{sid}-{k}".encode())


def _arrivals() -> list:
    """Items as the acquisition loop hands them over, with the stamps a coarse clock gives:
    runs of equal host_ns, a disconnect stamped at the same tick as the notifications around
    it, a reconnect marker, and one stamp behind the previous one."""
    t = 1_000_000_000
    items: list = [ConnectionEvent(s, t, "connect") for s in SENSORS]
    k = 0
    for tick in range(6):
        ns = t + 15_625_000 * (tick + 1)  # a 15.6 ms clock tick: everything in it shares the stamp
        for s in reversed(SENSORS):  # not in sensor-id order
            items.append(_note(s, ns, k))
            k += 1
        if tick == 2:
            items.append(ConnectionEvent("left_thigh", ns, "disconnect"))
            items.append(_note("pelvis", ns, k))  # arrived after the disconnect, same tick
            k += 1
            items.append(ConnectionEvent("left_thigh", ns, "reconnect"))
        if tick == 4:
            items.append(_note("right_thigh", ns - 5, k))  # stamped a little before the last item
            k += 1
    return items


def _through_queue(items: list) -> list:
    """The items through a real ``Acquisition`` queue (``put`` on the loop, drained by the monitor)."""
    acq = Acquisition([])
    for item in items:
        acq.put(item)
    out = []
    while not acq.queue.empty():
        out.append(acq.queue.get_nowait())
    return out


def test_queue_stamps_increase_strictly_in_arrival_order():
    got = _through_queue(_arrivals())
    sent = _arrivals()
    assert [type(i) for i in got] == [type(i) for i in sent]
    assert [(i.sensor_id, getattr(i, "data", getattr(i, "kind", None))) for i in got] == \
        [(i.sensor_id, getattr(i, "data", getattr(i, "kind", None))) for i in sent]
    stamps = [i.host_ns for i in got]
    assert all(b > a for a, b in zip(stamps, stamps[1:])), stamps
    # an item already later than the previous one keeps its own stamp; a tie moves by 1 ns
    assert stamps[0] == sent[0].host_ns
    assert max(g - s.host_ns for g, s in zip(stamps, sent)) < 20


def _recorded_and_replayed(live: list, path: str) -> list:
    """``live`` recorded as ``ChainSource`` records it (``SessionRecorder.item`` in queue order),
    then ``replay_items`` of the file."""
    rec = SessionRecorder(path, {}, [SensorSpec(s, s, "movesense-gsp", 208.0) for s in SENSORS], origin_ns=0)
    for item in live:
        rec.item(item)
    rec.close()
    with SessionReader(path) as r:
        return list(replay_items(r))


def test_replay_gives_the_live_order(tmp_path):
    """Recorded as ``ChainSource`` records (``SessionRecorder.item`` in queue order) and read
    back: ``replay_items`` is the queue's sequence, item for item."""
    live = _through_queue(_arrivals())
    replay = _recorded_and_replayed(live, str(tmp_path / "order.hipmon"))

    def key(i):
        if isinstance(i, RawNotification):
            return ("notification", i.sensor_id, i.host_ns, bytes(i.data))
        return ("event", i.sensor_id, i.host_ns, i.kind)

    assert [key(i) for i in replay] == [key(i) for i in live]


def test_replay_keeps_events_after_the_last_notification(tmp_path):
    """A connection event logged after the session's last notification (a drop at the very end)
    is fed live; the replay feeds it too, last (its ``disconnect`` completes what Polar's decoder
    holds)."""
    live = _through_queue(_arrivals() + [ConnectionEvent("right_thigh", 2_000_000_000, "disconnect")])
    replay = _recorded_and_replayed(live, str(tmp_path / "tail.hipmon"))
    assert len(replay) == len(live)
    assert isinstance(replay[-1], ConnectionEvent) and replay[-1].kind == "disconnect"


def test_reader_keeps_the_samples_a_connection_end_completes(tmp_path):
    """Polar holds ACC frames back until their GYRO partner comes; a drop ends the connection
    and the stream stage still completes what it holds (``Decoder.finish``). Live keeps those
    samples; ``SessionReader.samples`` (exports, the offline calibration) must keep them too:
    the reader's samples are exactly the pipeline's, and some came from connection events."""
    from hipmon.cli import main
    from hipmon.pipeline import Pipeline, _specs_from_reader
    from hipmon.stream import SensorStream

    path = str(tmp_path / "polar.hipmon")
    assert main(["record", "-o", path, "--emulate", "walk", "--seconds", "16", "--profile", "polar-verity-sense",
                 "--disconnects", "2", "--seed", "3", "--speed", "3"]) == 0
    with SessionReader(path) as r:
        specs = _specs_from_reader(r)
        pipe = Pipeline(specs, origin_ns=r.origin_ns)
        assert pipe.replay(replay_items(r)) is not None
        from_events = 0
        for s in specs:
            assert len(r.samples(s.sensor_id)) == pipe.streams[s.sensor_id].stage().samples > 0, s.sensor_id
            assert len(r.session_time(s.sensor_id)) == len(r.samples(s.sensor_id))
            stage = SensorStream.from_profile(s.sensor_id, s.profile, s.rate_hz, r.origin_ns)
            for item in replay_items(r):
                if item.sensor_id == s.sensor_id:
                    got = stage.push(item)
                    if isinstance(item, ConnectionEvent) and got.block is not None:
                        from_events += len(got.block)
        assert from_events > 0, "no sample came from a connection's end: the test would prove nothing"
