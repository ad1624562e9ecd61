"""hipmon open IMU profile v1 codec: golden packets from docs/open-profile.md, round trips, hostile input."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hipmon.codecs import DecodeError, open_imu
from hipmon.types import ImuBlock

G = 9.80665


def golden_packet(seq=0xFFFF, t_us=0x01020304):
    # Layout from docs/open-profile.md section "Data notification", written out by hand:
    # version 1, flags 0, seq u16, t_us u32, n = 2, ranges = acc code 1 (±4 g) | gyr code 2 (±500 dps) << 2,
    # dt_us = 9615 (104 Hz), then 2 samples of 6 int16.
    header = bytes([1, 0]) + struct.pack("<H", seq) + struct.pack("<I", t_us) + bytes([2, 0x09]) + struct.pack("<H", 9615)
    s0 = struct.pack("<6h", 8192, -8192, 0, 6554, 0, -32768)
    s1 = struct.pack("<6h", 0, 0, 16384, 0, 32767, 0)
    return header + s0 + s1


def test_golden_packet_decodes_to_documented_values():
    pkt = golden_packet()
    assert pkt[:12].hex() == "0100ffff0403020102098f25"
    dec = open_imu.Decoder({"acc_range_g": 4, "gyr_range_dps": 500})
    b = dec.feed(pkt, host_ns=123)
    assert len(b) == 2
    acc_lsb = 4 * G / 32768  # ±4 g full scale over 32768 counts
    gyr_lsb = 500 / 32768 * np.pi / 180
    np.testing.assert_allclose(b.acc_sensor[0], [8192 * acc_lsb, -8192 * acc_lsb, 0])
    np.testing.assert_allclose(b.acc_sensor[0, 0], G)  # 8192 counts at ±4 g is exactly 1 g
    np.testing.assert_allclose(b.gyr_sensor[0], [6554 * gyr_lsb, 0, -32768 * gyr_lsb])
    np.testing.assert_allclose(b.acc_sensor[1], [0, 0, 2 * G])
    np.testing.assert_allclose(b.time_sensor_s, [0x01020304 * 1e-6, (0x01020304 + 9615) * 1e-6])
    assert b.sample_index.tolist() == [0xFFFF, 0x10000]
    assert b.host_ns.tolist() == [123, 123]
    assert b.mag_sensor is None


def test_counter_and_time_wrap_and_loss_counting():
    dec = open_imu.Decoder()
    enc = open_imu.Encoder({"mtu": 23 + 24}, rate_hz=100)  # 2 samples per packet
    n = 40
    t = (2**32 - 150_000) * 1e-6 + np.arange(n) / 100  # crosses the u32 µs wrap
    idx = 65_520 + np.arange(n)  # crosses the u16 wrap
    block = ImuBlock(t, np.zeros((n, 3)), np.zeros((n, 3)), sample_index=idx)
    pkts = enc.encode(block)
    assert len(pkts) == 20
    del pkts[5]  # lose samples 10, 11
    out = dec.feed_many(pkts)
    assert dec.stats.samples_lost == 2
    assert out.sample_index.tolist() == [i for i in idx.tolist() if i not in (65_530, 65_531)]
    expect_t = np.delete(t, [10, 11])
    np.testing.assert_allclose(out.time_sensor_s, expect_t, atol=2e-6)
    assert np.all(np.diff(out.time_sensor_s) > 0)


def test_long_loss_beyond_counter_wrap_is_resolved_with_time():
    dec = open_imu.Decoder()
    enc = open_imu.Encoder({"mtu": 35}, rate_hz=104)  # 1 sample per packet
    t = np.array([1.0, 1.0 + 70_000 / 104])
    block = ImuBlock(t, np.zeros((2, 3)), np.zeros((2, 3)), sample_index=np.array([5, 5 + 70_000]))
    out = dec.feed_many(enc.encode(block))
    assert out.sample_index.tolist() == [5, 70_005]
    assert dec.stats.samples_lost == 69_999


def test_duplicate_and_reordered_packets_rejected():
    enc = open_imu.Encoder({"mtu": 47}, rate_hz=104)
    n = 8
    pkts = enc.encode(ImuBlock(np.arange(n) / 104, np.zeros((n, 3)), np.zeros((n, 3))))
    dec = open_imu.Decoder()
    dec.feed(pkts[0])
    dec.feed(pkts[1])
    with pytest.raises(DecodeError, match="duplicate or reordered"):
        dec.feed(pkts[1])
    with pytest.raises(DecodeError, match="duplicate or reordered"):
        dec.feed(pkts[0])
    assert len(dec.feed(pkts[2])) == 2  # still usable
    batch = open_imu.Decoder().feed_many([pkts[0], pkts[1], pkts[1], pkts[2]])
    assert len(batch) == 6


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    acc_g=st.sampled_from(open_imu.ACC_RANGES_G),
    gyr=st.sampled_from(open_imu.GYR_RANGES_DPS),
    mag=st.booleans(),
    seed=st.integers(0, 2**31),
    start_index=st.integers(0, 2**20),
)
def test_round_trip(n, acc_g, gyr, mag, seed, start_index):
    rng = np.random.default_rng(seed)
    params = {"acc_range_g": acc_g, "gyr_range_dps": gyr, "mag": mag}
    acc_lsb, gyr_lsb = acc_g * G / 32768, gyr / 32768 * np.pi / 180
    acc = rng.uniform(-0.99, 0.99, (n, 3)) * acc_g * G
    gyr_v = rng.uniform(-0.99, 0.99, (n, 3)) * gyr * np.pi / 180
    magv = rng.uniform(-3000, 3000, (n, 3)) if mag else None
    t = 12.5 + np.arange(n) / 208
    blk = ImuBlock(t, acc, gyr_v, magv, sample_index=start_index + np.arange(n))
    pkts = open_imu.Encoder(params, 208).encode(blk)
    assert all(len(p) <= 244 for p in pkts)
    out = open_imu.Decoder(params, 208).feed_many(pkts)
    np.testing.assert_allclose(out.acc_sensor, acc, atol=acc_lsb / 2 + 1e-12)
    np.testing.assert_allclose(out.gyr_sensor, gyr_v, atol=gyr_lsb / 2 + 1e-12)
    if mag:
        np.testing.assert_allclose(out.mag_sensor, magv, atol=0.05 + 1e-9)
    np.testing.assert_allclose(out.time_sensor_s, t, atol=1e-6 * (1 + n))
    # a fresh decoder knows the 16-bit counter, not how often it wrapped before the first packet
    assert out.sample_index[0] == start_index % 65536
    assert (out.sample_index - out.sample_index[0]).tolist() == list(range(n))


def test_hostile_packets_raise_typed_errors():
    good = golden_packet()
    dec = open_imu.Decoder()
    cases = {
        "truncated header": good[:7],
        "truncated samples": good[:-1],
        "oversized": good + b"\x00",
        "empty": b"",
        "version": bytes([2]) + good[1:],
        "flags": good[:1] + bytes([0x80]) + good[2:],
        "gyr code": good[:9] + bytes([0x1C]) + good[10:],
        "zero n": good[:8] + bytes([0]) + good[9:],
        "zero dt": good[:10] + b"\x00\x00" + good[12:],
    }
    for name, pkt in cases.items():
        with pytest.raises(DecodeError):
            dec.feed(pkt)
    assert dec.stats.errors == len(cases)
    assert len(dec.feed(good)) == 2  # usable afterwards


def test_control_commands_and_status():
    cmd = open_imu.encode_start(208, 16, 2000, False)
    assert cmd.hex() == "01d000030400"
    parsed = open_imu.parse_command(cmd)
    assert parsed == open_imu.StartCommand(208, 16, 2000, False)
    assert open_imu.parse_command(b"\x02") == "stop"
    with pytest.raises(DecodeError) as err:
        open_imu.parse_command(b"\x01\x00")
    assert err.value.result == open_imu.RESULT_BAD_LENGTH
    with pytest.raises(DecodeError):
        open_imu.parse_command(b"\x09")
    status = open_imu.Status(1, True, 104, 8, 500, True, 0)
    raw = open_imu.encode_status(status)
    assert raw.hex() == "0101680002020100"
    assert open_imu.parse_status(raw) == status
