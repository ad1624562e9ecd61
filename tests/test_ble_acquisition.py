"""Acquisition under faults: 3 emulated sensors through bleak + bumble, ground truth from the firmware log."""

from __future__ import annotations

import time

import numpy as np
from _waiting import wait_until

from hipmon.ble import AcquisitionThread
from hipmon.emulation import EmulatedRadio
from hipmon.emulation.backend import BumbleBleakClient, BumbleBleakScanner
from hipmon.emulation.session import EmulationPlan, start_session_sensors
from hipmon.profiles import get_profile
from hipmon.types import PLACEMENTS, SensorSpec


def _run(plan: EmulationPlan, until, extra_specs=(), mutate=None):
    """Stream until ``until(thread, sensors, got)`` holds (not for a fixed time: CI is slower)."""
    specs = [SensorSpec(p, p, plan.profile, plan.rate_hz) for p in PLACEMENTS] + list(extra_specs)
    state = {}
    got: dict[str, list] = {}

    async def setup():
        radio = await EmulatedRadio().start()
        sensors, _ = await start_session_sensors(radio, plan)
        if mutate is not None:
            await mutate(radio, sensors, specs)
        for spec in specs:
            if spec.placement in sensors and spec.sensor_id == spec.placement:
                spec.address = sensors[spec.placement].address
        state["sensors"] = sensors

        async def teardown():
            await radio.close()

        return state, teardown

    th = AcquisitionThread(specs, setup=setup, sinks=[lambda n: got.setdefault(n.sensor_id, []).append(n)],
                           client_backend=BumbleBleakClient, scanner_backend=BumbleBleakScanner, scan_timeout_s=2.0)
    th.start()
    try:
        reached = wait_until(lambda: until(th, state["sensors"], got))
    finally:
        th.stop()
    assert reached, {sid: (s.state, s.samples, s.error) for sid, s in th.status().items()}
    return th, state["sensors"], got


def _all_sent_received(th, sensors, got) -> bool:
    """Every emulated sensor has sent its whole source, and every sample notification it sent arrived."""
    return all(
        sensor.finished and sum(len(n.data) for n in got.get(p, []) if n.data[0] != 1)
        == sum(len(r.data) for r in sensor.log.sent())
        for p, sensor in sensors.items()
    )


def _truth_window(log):
    recs = log.records
    sent = [i for i, r in enumerate(recs) if r.status == "sent"]
    first, last = sent[0], sent[-1]
    lost = sum(r.n_samples for r in recs[first:last + 1] if r.status != "sent")
    return recs, first, last, lost


def test_loss_and_disconnects_every_sample_in_order_gaps_exact_and_fast_reconnect():
    plan = EmulationPlan(kind="walk", seconds=9.0, seed=1, profile="movesense-gsp", rate_hz=208.0,
                         loss=0.02, disconnects=3)
    th, sensors, got = _run(plan, _all_sent_received)
    prof = get_profile(plan.profile)
    for placement, sensor in sensors.items():
        notes = got[placement]
        # raw notifications, as received, in order: the sample messages are exactly what was sent
        data = [n.data for n in notes if n.data[0] != 1]  # 01 = GSP command results
        sent = sensor.log.sent()
        assert b"".join(data) == b"".join(r.data for r in sent), placement
        # decoded: every sample sent, in order, none duplicated
        dec = prof.make_decoder(plan.rate_hz)
        t = np.concatenate([b.time_sensor_s for b in (dec.feed(d) for d in data) if b is not None])
        idx = sensor.log.samples_sent()
        assert len(t) == len(idx)
        assert np.all(np.diff(t) > 0)
        np.testing.assert_allclose(t, sensor.source.time_sensor_s[idx], atol=1.5e-3)
        # gaps: exactly the samples lost (loss injection + outages), split by reason
        st = th.status()[placement]
        _, _, _, lost = _truth_window(sensor.log)
        assert lost > 0
        assert st.samples_lost == lost, placement
        gaps = [g for g in th.monitor.gaps if g.sensor_id == placement]
        assert sum(g.samples_lost for g in gaps) == lost
        assert sum(1 for g in gaps if g.reason == "disconnect") == len(sensor.log.disconnects)
        # reconnect with no user action, streaming again within 3 s of every drop
        assert st.reconnects == len(sensor.log.disconnects) == 3
        sup = th.acquisition.supervisors[placement]
        for drop_ns in sup.drop_times_ns:
            after = [t for t in sup.stream_times_ns if t > drop_ns]
            assert after and (after[0] - drop_ns) / 1e9 < 3.0


def test_garbage_sensor_and_non_sensor_are_named_and_the_rest_carries_on():
    """One sensor sends garbage between good packets; a fourth 'sensor' lacks the profile's
    characteristics. Messages name them; the other sensors stream on; good data is kept."""
    from hipmon.emulation import EmulatedSensor, SyntheticSource

    plan = EmulationPlan(kind="walk", seconds=30.0, seed=2, profile="hipmon-open", rate_hz=104.0)

    async def mutate(radio, sensors, specs):
        fw = sensors["right_thigh"].firmware
        real = fw.encoder.encode
        calls = {"n": 0}

        def garbage_every_third(block):
            calls["n"] += 1
            out = real(block)
            return [b"\xde\xad\xbe\xef" if calls["n"] % 3 == 0 else d for d in out]

        fw.encoder.encode = garbage_every_third
        # a device that is not a sensor of the profile it is configured with
        other = await EmulatedSensor(radio, get_profile("movesense-gsp"), SyntheticSource.make(4, 104),
                                     rate_hz=104).start()
        specs.append(SensorSpec("stranger", "pelvis", "hipmon-open", 104.0, address=other.address))

    def failed_and_the_rest_carries_on(th, sensors, got):
        st = th.status()
        return (st["stranger"].state == "failed" and st["right_thigh"].bad_packets > 0
                and all(st[p].samples >= 2 * 104 for p in ("pelvis", "left_thigh")))

    th, sensors, got = _run(plan, failed_and_the_rest_carries_on, mutate=mutate)
    st = th.status()
    msgs = th.monitor.messages + st["stranger"].messages
    assert any("right_thigh" in m and "bad notification" in m for m in msgs)
    assert st["stranger"].state == "failed" and "stranger" in st["stranger"].messages[0]
    assert "missing" in st["stranger"].error
    for p in ("pelvis", "left_thigh"):
        assert st[p].samples == len(sensors[p].log.samples_sent()) > 0
        assert st[p].bad_packets == 0
        assert st[p].battery_pct == sensors[p].firmware.battery_pct == 87  # Battery Service, read at connect
    # one scan found all four devices at start-up
    assert th.acquisition.finder.scans_started == 1
    # nothing received is lost: garbage and good packets are all in the raw stream
    rt = [n.data for n in got["right_thigh"]]
    assert rt == [r.data for r in sensors["right_thigh"].log.sent()]
    assert st["right_thigh"].bad_packets == sum(1 for d in rt if d == b"\xde\xad\xbe\xef") > 0


def test_name_globs_matching_several_sensors_each_get_their_own():
    """Two sensors configured by the same name glob: one scan, two different devices, both stream."""
    from hipmon.emulation import EmulatedSensor, SyntheticSource

    prof = get_profile("hipmon-open")
    specs = [SensorSpec("left_thigh", "left_thigh", prof.name, 104.0, name="hipmon-*"),
             SensorSpec("right_thigh", "right_thigh", prof.name, 104.0, name="hipmon-*")]
    state = {}

    async def setup():
        radio = await EmulatedRadio().start()
        state["sensors"] = [await EmulatedSensor(radio, prof, SyntheticSource.make(60, 104, seed=i), rate_hz=104).start()
                            for i in range(2)]

        async def teardown():
            await radio.close()

        return state, teardown

    th = AcquisitionThread(specs, setup=setup, client_backend=BumbleBleakClient,
                           scanner_backend=BumbleBleakScanner, scan_timeout_s=2.0)
    th.start()
    try:
        both = wait_until(lambda: all(s.samples > 0 for s in th.status().values()))
    finally:
        th.stop()
    st = th.status()
    assert both, st
    assert {st["left_thigh"].address, st["right_thigh"].address} == {s.address for s in state["sensors"]}
    for sid in ("left_thigh", "right_thigh"):
        assert st[sid].samples > 0 and st[sid].reconnects == 0 and not st[sid].error
    assert th.acquisition.finder.scans_started == 1


def test_live_bounds_the_latency_list_and_the_emulation_log():
    """keep_latencies=N keeps the newest N latencies (a live session runs for hours); True keeps all
    (benchmarks); SensorLog.limit bounds the emulated sensor's ground-truth log the same way."""
    import queue

    import numpy as np

    from hipmon.ble.acquisition import StreamMonitor
    from hipmon.emulation.sensor import NotificationRecord, SensorLog
    from hipmon.profiles import get_profile
    from hipmon.types import ImuBlock, RawNotification

    prof = get_profile("hipmon-open")
    n = 2000
    t = 10.0 + np.arange(n) / 104.0
    block = ImuBlock(t, np.tile([0.0, 0.0, 9.81], (n, 1)), np.zeros((n, 3)))
    packets = prof.make_encoder(104.0).encode(block)
    assert len(packets) > 40
    for keep, expected in ((25, 25), (True, len(packets))):
        mon = StreamMonitor(queue.SimpleQueue(), {"s": (prof, 104.0)}, keep_latencies=keep)
        for i, data in enumerate(packets):
            mon.process(RawNotification("s", time.monotonic_ns() - 1000 * i, data))
        assert len(mon.streams["s"].latencies_ns) == expected
        assert all(v > 0 for v in mon.streams["s"].latencies_ns)
    log = SensorLog()
    log.records.extend(NotificationRecord(i, i, 1, b"", "sent", float(i)) for i in range(50))
    log.limit(10)
    for i in range(50, 60):
        log.records.append(NotificationRecord(i, i, 1, b"", "sent", float(i)))
    assert [r.first_sample for r in log.records] == list(range(50, 60))
