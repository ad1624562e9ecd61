"""Firmware protocols of the emulated sensors, through bleak: Polar PMD control point,
Thingy:52 motion config, the Battery Service."""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import pytest
from _waiting import until, wait_until
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from hipmon.codecs import polar
from hipmon.emulation import EmulatedRadio, EmulatedSensor, SyntheticSource
from hipmon.emulation.backend import BumbleBleakClient, BumbleBleakScanner
from hipmon.profiles import get_profile

POLAR = get_profile("polar-verity-sense")
CP = POLAR.characteristics["control"]
DATA = POLAR.characteristics["data"]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


async def _connect(radio, sensor):
    # returns as soon as the sensor is seen: a deadline for a loaded machine, not a wait
    dev = await BleakScanner.find_device_by_address(sensor.address, timeout=20, backend=BumbleBleakScanner)
    client = BleakClient(dev, backend=BumbleBleakClient)
    await client.connect()
    return client


def _start(meas: int, rate: int, rng: int) -> bytes:
    return polar.build_start(meas, {polar.SET_SAMPLE_RATE: rate, polar.SET_RESOLUTION: 16, polar.SET_RANGE: rng})


def test_polar_control_point_protocol_through_bleak():
    """Features read, GET settings, START refused outside SDK mode / at a wrong rate, SDK mode,
    START answered with FACTOR (indications), data frames flow, STOP answered and ends the stream."""

    async def main():
        async with EmulatedRadio() as radio:
            s = await EmulatedSensor(radio, POLAR, SyntheticSource.make(6, 104), rate_hz=104, speed=2.0).start()
            client = await _connect(radio, s)
            cp: asyncio.Queue = asyncio.Queue()
            frames: list[bytes] = []
            await client.start_notify(CP, lambda c, d: cp.put_nowait(bytes(d)))
            await client.start_notify(DATA, lambda c, d: frames.append(bytes(d)))
            ch = client.services.get_characteristic(CP)
            assert "indicate" in ch.properties and "read" in ch.properties and "write" in ch.properties

            async def command(data: bytes) -> polar.CpResponse:
                await client.write_gatt_char(CP, data, response=True)
                return polar.parse_cp_response(await asyncio.wait_for(cp.get(), 20))

            features = polar.parse_features(await client.read_gatt_char(CP))
            assert {polar.MEAS_ACC, polar.MEAS_GYRO, polar.MEAS_MAG, polar.MEAS_SDK_MODE} <= features
            assert polar.MEAS_ECG not in features
            r = await command(polar.build_get(polar.MEAS_ACC))
            assert (r.op, r.meas, r.status) == (polar.OP_GET, polar.MEAS_ACC, 0)
            settings = polar.parse_settings(r.params)
            assert settings[polar.SET_SAMPLE_RATE] == [52]  # outside SDK mode
            assert settings[polar.SET_RANGE] == [2, 4, 8, 16]
            # 104 Hz ACC outside SDK mode: INVALID STATE
            assert (await command(_start(polar.MEAS_ACC, 104, 8))).status == 12
            assert (await command(bytes([polar.OP_START, polar.MEAS_SDK_MODE]))).status == 0
            r = await command(polar.build_get(polar.MEAS_GYRO))
            assert polar.parse_settings(r.params)[polar.SET_SAMPLE_RATE] == [26, 52, 104, 208, 416]
            assert (await command(_start(polar.MEAS_ACC, 208, 8))).status == 8  # the sensor samples at 104
            assert (await command(_start(polar.MEAS_ACC, 104, 3))).status == 9  # no ±3 g range
            assert (await command(bytes([0x07, 0x02]))).status == 1  # unknown op code
            assert not frames
            r = await command(_start(polar.MEAS_ACC, 104, 8))
            assert r.ok and r.factor == pytest.approx(s.firmware.encoder.p["acc_factor"], rel=1e-6)
            assert (await command(_start(polar.MEAS_ACC, 104, 8))).status == 6  # already in state
            r = await command(_start(polar.MEAS_GYRO, 104, 2000))
            assert r.ok and r.factor == pytest.approx(2000 / 32768, rel=1e-6)
            assert not s.firmware.stream_on  # MAG still missing
            r = await command(_start(polar.MEAS_MAG, 100, 50))
            assert r.ok and r.factor is not None
            assert await until(lambda: len(frames) >= 3, 30)  # frames leave as they fill the MTU
            assert {f[0] for f in frames} <= {polar.MEAS_ACC, polar.MEAS_GYRO, polar.MEAS_MAG}
            r = await command(polar.build_stop(polar.MEAS_ACC))
            assert (r.op, r.meas, r.status) == (polar.OP_STOP, polar.MEAS_ACC, 0)
            n = len(frames)
            n_sent = len(s.log.sent())
            # every frame the sensor sent arrives, in order, byte for byte (the last may still be
            # in flight when STOP is answered)
            assert await until(lambda: len(frames) == len(s.log.sent()), 20)
            await asyncio.sleep(0.3)  # and nothing follows: STOP ended the stream
            assert frames == [r.data for r in s.log.sent()]
            assert len(s.log.sent()) == n_sent and len(frames) <= n + 1  # at most one frame in flight
            await client.disconnect()
            # every command the client wrote, and every indication, is in the firmware's log
            assert [d for r, d in s.log.commands if r == "control"][0] == bytes([polar.OP_GET, polar.MEAS_ACC])

    run(main())


def test_thingy_config_written_then_streams_and_bad_configs_are_refused():
    from hipmon.codecs import thingy

    prof = get_profile("thingy52")
    cfg_uuid, data_uuid = prof.characteristics["config"], prof.characteristics["data"]

    async def main():
        async with EmulatedRadio() as radio:
            s = await EmulatedSensor(radio, prof, SyntheticSource.make(6, 50), rate_hz=50, speed=2.0).start()
            client = await _connect(radio, s)
            got: list[bytes] = []
            assert thingy.parse_config(await client.read_gatt_char(cfg_uuid))["motion_hz"] == 10  # default
            await client.start_notify(data_uuid, lambda c, d: got.append(bytes(d)))
            await asyncio.sleep(0.3)
            assert got == []  # configured for 10 Hz, this sensor samples at 50 Hz: nothing
            for bad in (b"\x00" * 8, thingy.encode_config(250), thingy.encode_config(50, pedo_ms=50)):
                with pytest.raises(BleakError):
                    await client.write_gatt_char(cfg_uuid, bad, response=True)
            assert s.firmware.configs_written == []
            # the profile's start step
            step = next(st for st in prof.start_steps(50) if st.op == "write")
            await client.write_gatt_char(cfg_uuid, step.data, response=True)
            assert thingy.parse_config(await client.read_gatt_char(cfg_uuid)) == {
                "pedo_ms": 1000, "temp_ms": 1000, "compass_ms": 1000, "motion_hz": 50, "wake_on_motion": 0}
            assert await until(lambda: len(got) > 10, 30)
            assert all(len(d) == 18 for d in got)
            assert got == [r.data for r in s.log.sent()][: len(got)]
            await client.disconnect()

    run(main())


@pytest.mark.parametrize("profile_name", ["movesense-gsp", "hipmon-open"])
def test_battery_service_read_through_bleak(profile_name):
    prof = get_profile(profile_name)
    assert "battery" in prof.characteristics

    async def main():
        async with EmulatedRadio() as radio:
            s = await EmulatedSensor(radio, prof, SyntheticSource.make(2, 104), rate_hz=104).start()
            s.firmware.battery_pct = 64
            client = await _connect(radio, s)
            services = {sv.uuid for sv in client.services}
            assert "0000180f-0000-1000-8000-00805f9b34fb" in services
            assert prof.service_uuid in services
            value = await client.read_gatt_char(prof.characteristics["battery"])
            assert bytes(value) == b"\x40"
            await client.disconnect()

    run(main())


def test_polar_stops_stream_by_itself_supervisor_restarts_gap_exact_and_factor_used():
    """Quirk 'Polar may stop a stream': the sensor indicates 01 <types>; the supervisor replays
    the start sequence with no user action; the recording holds the samples the sensor sent
    (ACC and GYRO frames both delivered) and a 'stopped' gap of exactly the samples not sent.
    The emulated sensor scales ACC with a FACTOR the profile does not know: decoding is right
    only if the START response's FACTOR reaches the decoder."""
    from hipmon.ble import AcquisitionThread
    from hipmon.types import SensorSpec

    rate = 104.0
    src = SyntheticSource.make(60, rate, seed=5, offset_s=1000.0)
    state = {}

    async def setup():
        radio = await EmulatedRadio().start()
        s = await EmulatedSensor(radio, POLAR, src, rate_hz=rate).start()
        s.firmware.encoder.p["acc_factor"] = 0.5 * s.firmware.encoder.p["acc_factor"]
        state["sensor"] = s
        spec.address = s.address

        async def teardown():
            await radio.close()

        return state, teardown

    spec = SensorSpec("pelvis", "pelvis", POLAR.name, rate)
    blocks = []
    th = AcquisitionThread([spec], setup=setup, block_sinks=[lambda sid, b: blocks.append(b)],
                           client_backend=BumbleBleakClient, scanner_backend=BumbleBleakScanner, scan_timeout_s=2.0)
    th.start()
    try:
        # stream 2 s, then the sensor stops its stream by itself (what Impairments.stop_stream_at_s
        # does at a fixed time, here once streaming: start-up takes longer on a loaded machine)
        assert wait_until(lambda: th.status()["pelvis"].samples >= 2 * rate), th.status()
        th.call(state["sensor"].firmware.stop_stream_by_itself)
        n_stop = th.status()["pelvis"].samples
        # the supervisor replays the start sequence: the 'stopped' gap, then 2 s more samples
        assert wait_until(lambda: any(g.reason == "stopped" for g in th.monitor.gaps)
                          and th.status()["pelvis"].samples >= n_stop + 2 * rate), th.status()
    finally:
        th.stop()
    s = state["sensor"]
    st = th.status()["pelvis"]
    assert any("stopped its stream" in m for m in st.messages)
    assert st.reconnects == 0 and st.connected is False  # stopped cleanly at the end
    # truth: IMU samples whose ACC and GYRO frames were both sent
    sent = {polar.MEAS_ACC: set(), polar.MEAS_GYRO: set()}
    for r in s.log.records:
        if r.status == "sent" and r.stream in sent:
            sent[r.stream].update(range(r.stream_first, r.stream_first + r.stream_count))
    delivered = np.array(sorted(sent[polar.MEAS_ACC] & sent[polar.MEAS_GYRO]))
    from hipmon.types import ImuBlock

    got = ImuBlock.concatenate(blocks)
    n = len(got)
    assert n > 0
    # not decoded at stop: only samples after the sensor's last MAG frame (they wait for a MAG
    # sample at or after their time); the count depends on where the stop fell, not a fraction
    last_mag_s = max(int.from_bytes(r.data[1:9], "little") for r in s.log.records
                     if r.status == "sent" and r.stream == polar.MEAS_MAG) * 1e-9
    assert np.all(src.time_sensor_s[delivered[n:]] > last_mag_s - 1e-3), (n, len(delivered))
    # every delivered sample, in order, none duplicated (a prefix: the tail waits in buffers)
    np.testing.assert_allclose(got.time_sensor_s, src.time_sensor_s[delivered[:n]], atol=2e-3)
    assert np.all(np.diff(got.time_sensor_s) > 0)
    # FACTOR from the START responses (the profile's default would be off by 2x)
    np.testing.assert_allclose(got.acc_sensor, src.acc_sensor[delivered[:n]], atol=0.01)
    # one 'stopped' gap: exactly the samples between that the sensor did not deliver; ACC
    # samples sent without their GYRO frame (the stop cuts the streams at different samples)
    # arrived but could not be paired: an 'unpaired' gap of exactly those
    gaps = [g for g in th.monitor.gaps if g.sensor_id == "pelvis"]
    assert [g.reason for g in gaps if g.reason != "unpaired"] == ["stopped"]
    span = delivered[(delivered >= delivered[0]) & (delivered <= delivered[n - 1])]
    missing = int(delivered[n - 1] - delivered[0] + 1 - len(span))
    acc_only = np.array(sorted(sent[polar.MEAS_ACC] - sent[polar.MEAS_GYRO]))
    unpaired = int(np.count_nonzero((acc_only > delivered[0]) & (acc_only < delivered[n - 1])))
    assert sum(g.samples_lost for g in gaps if g.reason == "unpaired") == unpaired
    assert sum(g.samples_lost for g in gaps) == missing > unpaired
    assert [g.samples_lost for g in gaps if g.reason == "stopped"] == [missing - unpaired]
