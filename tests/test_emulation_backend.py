"""The bumble backend through bleak's own BleakScanner/BleakClient: real ATT on a LocalLink."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from _waiting import until
from bleak import BleakClient, BleakScanner

from hipmon.ble.scan import match_profile
from hipmon.emulation import EmulatedRadio, EmulatedSensor, SyntheticSource
from hipmon.emulation.backend import BumbleBleakClient, BumbleBleakScanner
from hipmon.profiles import get_profile, load_profiles

OPEN = "hipmon-open"
FIND_S = 20.0  # find_device_by_address returns as soon as the sensor is seen: a deadline, not a wait


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_scan_connect_mtu_services_and_serialised_concurrent_connects():
    async def main():
        prof = get_profile(OPEN)
        async with EmulatedRadio() as radio:
            sensors = [
                await EmulatedSensor(radio, prof, SyntheticSource.make(3, 104, seed=i), rate_hz=104).start()
                for i in range(3)
            ]
            # scan until every sensor advertised (a fixed scan window is too short on a loaded machine)
            seen = {}
            scanner = BleakScanner(lambda d, adv: seen.setdefault(d.address, (d, adv)), backend=BumbleBleakScanner,
                                   service_uuids=[prof.service_uuid])
            await scanner.start()
            await until(lambda: len(seen) >= len(sensors), 20.0)
            await scanner.stop()
            assert sorted(seen) == sorted(s.address for s in sensors)
            profiles = load_profiles()
            for device, adv in seen.values():
                assert adv.local_name.startswith("hipmon-")
                assert match_profile(adv.local_name, adv.service_uuids, profiles) == OPEN
            clients = [BleakClient(d, backend=BumbleBleakClient) for d, _ in seen.values()]
            # three connects at once: the radio's connect lock serialises them
            await asyncio.gather(*(c.connect() for c in clients))
            for c in clients:
                assert c.is_connected and c.mtu_size == 247
                uuids = {ch.uuid for ch in c.services.characteristics.values()}
                assert set(prof.characteristics.values()) <= uuids
            await asyncio.gather(*(c.disconnect() for c in clients))
            assert not any(c.is_connected for c in clients)

    run(main())


def test_sensor_side_drop_reaches_disconnected_callback_and_readvertises():
    async def main():
        prof = get_profile(OPEN)
        async with EmulatedRadio() as radio:
            s = await EmulatedSensor(radio, prof, SyntheticSource.make(3, 104), rate_hz=104).start()
            dropped = asyncio.Event()
            dev = await BleakScanner.find_device_by_address(s.address, timeout=FIND_S, backend=BumbleBleakScanner)
            client = BleakClient(dev, disconnected_callback=lambda c: dropped.set(), backend=BumbleBleakClient)
            await client.connect()
            # the drop the impairment clock would make (Impairments.disconnect_at_s), made once the link
            # is up: a drop scheduled at a fixed time races with a connect that is slow on a loaded machine
            await s.force_disconnect()
            await asyncio.wait_for(dropped.wait(), 20)
            assert not client.is_connected
            # the sensor advertises again and accepts a new connection
            dev = await BleakScanner.find_device_by_address(s.address, timeout=FIND_S, backend=BumbleBleakScanner)
            assert dev is not None
            async with BleakClient(dev, backend=BumbleBleakClient) as c2:
                assert c2.is_connected
            assert s.log.connects == 2

    run(main())


@pytest.mark.parametrize("profile_name", sorted(load_profiles()))
def test_every_profile_streams_bytes_exact_through_bleak(profile_name):
    """The firmware's notifications arrive through bleak byte for byte; decoded samples match the source."""

    async def main():
        prof = get_profile(profile_name)
        rate = prof.default_rate_hz
        src = SyntheticSource.make(8.0, rate, seed=3)
        async with EmulatedRadio() as radio:
            s = await EmulatedSensor(radio, prof, src, rate_hz=rate, speed=2.0).start()
            dev = await BleakScanner.find_device_by_address(s.address, timeout=FIND_S, backend=BumbleBleakScanner)
            received: dict[str, list[bytes]] = {}
            async with BleakClient(dev, backend=BumbleBleakClient) as client:
                for step in prof.start_steps(rate):
                    uuid = prof.characteristics.get(step.char_role)
                    if step.op == "notify":
                        role = step.char_role
                        await client.start_notify(uuid, lambda c, d, role=role: received.setdefault(role, []).append(bytes(d)))
                    elif step.op == "write":
                        await client.write_gatt_char(uuid, step.data, response=step.response)
                    elif step.op == "read":
                        await client.read_gatt_char(uuid)
                    elif step.op == "wait":
                        await asyncio.sleep(step.seconds)
                # stream until a few notifications arrived (Polar frames leave when they fill the MTU,
                # ~1 s of samples at 52 Hz), however long that takes on this machine
                def enough() -> bool:
                    data = received.get("data", [])
                    if prof.codec == "polar_pmd":  # two frames of each measurement (they pair into samples)
                        return all(sum(d[0] == m for d in data) >= 2 for m in s.firmware.wanted_types)
                    return len(s.log.sent()) >= 3

                assert await until(enough, 30.0)
                for step in prof.stop_steps():
                    await client.write_gatt_char(prof.characteristics[step.char_role], step.data, response=step.response)
                if not prof.stop_steps():  # WitMotion, Thingy: no stop command; the sensor stops sending
                    s.firmware.stream_on = False
                # what the firmware sent before it stopped is delivered (the last notification may
                # still be in flight when it stops): wait for it, then leave (disconnect)
                def sample_bytes() -> int:
                    return sum(len(d) for d in received.get("data", [])
                               if not (prof.codec == "movesense_gsp" and d[0] == 1))

                tail = 40 if prof.codec == "witmotion" else 1  # the BLE-UART bridge keeps < 40 bytes
                await until(lambda: sum(len(r.data) for r in s.log.sent()) - sample_bytes() < tail, 20.0)
            sent = s.log.sent()
            assert len(sent) >= 3
            data = received.get("data", [])
            stream = b"".join(data)
            truth = b"".join(r.data for r in sent)
            # command responses (Movesense results) share the data characteristic: the
            # sample bytes are exactly the concatenation of what the firmware sent
            if prof.codec == "witmotion":
                # the BLE-UART bridge splits/merges packets: the byte stream is what
                # was sent, minus the tail still waiting in the bridge (< 40 bytes)
                assert truth.startswith(stream) and len(truth) - len(stream) < 40
                assert max(len(d) for d in data) != min(len(d) for d in data)  # really re-chunked
                return
            # command responses (Movesense results) share the data characteristic; once the
            # sensor stopped, everything it sent has arrived, byte for byte
            samples_stream = b"".join(d for d in data if not (prof.codec == "movesense_gsp" and d[0] == 1))
            assert samples_stream == truth
            dec = prof.make_decoder(rate)
            blocks = []
            for d in data:
                try:
                    b = dec.feed(d)
                except Exception:
                    continue
                if b is not None and len(b):
                    blocks.append(b)
            from hipmon.types import ImuBlock

            got = ImuBlock.concatenate(blocks)
            idx = s.log.samples_sent()
            idx = idx[: len(got)] if len(got) < len(idx) else idx
            if prof.codec == "polar_pmd":
                # PMD frames fill the MTU and the decoder pairs ACC/GYRO (and waits for MAG,
                # giving up after 2 s): decoded samples are a subset of the ACC samples sent,
                # found by their sensor time
                assert len(got) > 0
                k = np.searchsorted(src.time_sensor_s, got.time_sensor_s - 0.5 / rate)
                # frame times are exact; per-sample times within a frame are interpolated
                np.testing.assert_allclose(src.time_sensor_s[k], got.time_sensor_s, atol=0.1 / rate)
                assert np.all(np.diff(k) > 0) and set(k) <= set(idx.tolist())
                idx = k
            assert len(got) == len(idx)
            ref_dec = prof.make_decoder(rate)
            ref_blocks = [b for b in (ref_dec.feed(r.data) if len(r.data) else None for r in sent) if b is not None] \
                if prof.codec != "movesense_gsp" else None
            # values: within one quantisation step of the source
            np.testing.assert_allclose(got.acc_sensor, src.acc_sensor[idx], atol=0.02 * 9.81 * 2)
            np.testing.assert_allclose(got.gyr_sensor, src.gyr_sensor[idx], atol=0.01)

    run(main())


def _contains_in_order(datas: list[bytes], sent) -> bool:
    stream = b"".join(d for d in datas if not (len(d) in (4, 7) and d[0] == 1))
    return stream == b"".join(r.data for r in sent)
