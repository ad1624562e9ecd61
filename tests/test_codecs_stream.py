"""WitMotion 55 61 stream and Thingy:52 raw codecs.

WitMotion: WT901BLECL manual BLE 5.0 protocol (20 bytes: 55 61, then 9 int16 LE: acc /32768*16 g,
gyro /32768*2000 deg/s, angles /32768*180 deg; 55 71 register replies). Thingy:52: Nordic-Thingy52-FW
ble_tms.h raw struct (acc, gyro, compass int16) and RAW_Q_FORMAT_*_COMMA_BITS = 10, 5, 4.
"""

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hipmon.codecs import DecodeError, thingy, witmotion
from hipmon.types import ImuBlock

G = 9.80665


def wit(ax, ay, az, gx, gy, gz, r=0, p=0, y=0):
    return bytes([0x55, 0x61]) + struct.pack("<9h", ax, ay, az, gx, gy, gz, r, p, y)


def test_witmotion_golden():
    pkt = wit(2048, -2048, 0, 16384, 0, -16384, 100, 200, 300)
    assert len(pkt) == 20 and pkt[:4].hex() == "55610008"
    dec = witmotion.Decoder({}, 50)
    b = dec.feed(pkt, host_ns=9)
    np.testing.assert_allclose(b.acc_sensor[0], [G, -G, 0])  # 2048/32768*16 g = 1 g
    np.testing.assert_allclose(b.gyr_sensor[0], np.radians([1000, 0, -1000]))
    assert b.time_sensor_s.tolist() == [0.0] and b.sample_index is None and b.host_ns.tolist() == [9]
    b2 = dec.feed(pkt)
    assert b2.time_sensor_s.tolist() == [1 / 50]  # count / nominal rate


def test_witmotion_split_merged_and_resync():
    pkts = [wit(i, 0, 2048, 0, 0, i) for i in range(6)]
    stream = b"".join(pkts)
    # split at odd places, merge others, garbage between frames and a 55 71 register reply
    reg = bytes([0x55, 0x71]) + bytes(18)
    chunks = [stream[:7], stream[7:40], b"\x13\x55\x00", stream[40:60] + reg, stream[60:61], stream[61:]]
    dec = witmotion.Decoder({}, 50)
    out = dec.feed_many(chunks, host_ns=np.arange(6) * 10)
    assert out.acc_sensor[:, 0].tolist() == pytest.approx([i * 16 * G / 32768 for i in range(6)])
    assert out.gyr_sensor[:, 2].tolist() == pytest.approx([np.radians(i * 2000 / 32768) for i in range(6)])
    assert dec.stats.bytes_skipped == 3
    # a frame carries the host time of the notification holding its last byte:
    # frames 0, 1 end in chunk 1; frame 2 in chunk 3; frames 3-5 in chunk 5
    assert out.host_ns.tolist() == [10, 10, 30, 50, 50, 50]
    # the same chunks one by one give the same samples
    dec1 = witmotion.Decoder({}, 50)
    blocks = []
    for c in chunks:
        try:
            b = dec1.feed(c)
        except DecodeError:
            continue
        if b is not None:
            blocks.append(b)
    assert np.array_equal(ImuBlock.concatenate(blocks).acc_sensor, out.acc_sensor)


def test_witmotion_55_61_inside_data_does_not_break_sync():
    # acc x = 0x6155 -> bytes 55 61 inside the frame
    pkts = [wit(0x6155, 0x6155, 1, 2, 3, 4)] * 3
    dec = witmotion.Decoder({}, 10)
    out = dec.feed_many([b"".join(pkts)])
    assert len(out) == 3 and dec.stats.bytes_skipped == 0
    assert np.allclose(out.acc_sensor[:, 0], 0x6155 * 16 * G / 32768)


def test_witmotion_garbage_only_raises_then_recovers():
    dec = witmotion.Decoder({}, 10)
    with pytest.raises(DecodeError, match="discarded"):
        dec.feed(bytes(range(1, 30)))
    assert len(dec.feed(wit(1, 2, 3, 4, 5, 6))) == 1


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 50), seed=st.integers(0, 2**31), cuts=st.lists(st.integers(1, 999), max_size=12))
def test_witmotion_round_trip_any_split(n, seed, cuts):
    rng = np.random.default_rng(seed)
    acc = rng.uniform(-15, 15, (n, 3)) * G
    gyr = np.radians(rng.uniform(-1999, 1999, (n, 3)))
    pk = witmotion.Encoder({}, 50).encode(ImuBlock(np.arange(n) / 50, acc, gyr))
    stream = b"".join(pk)
    pos = sorted({c % len(stream) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in zip(pos[:-1], pos[1:])]
    dec = witmotion.Decoder({}, 50)
    blocks = [dec.feed(c) for c in chunks]
    out = ImuBlock.concatenate([b for b in blocks if b is not None])
    assert len(out) == n
    np.testing.assert_allclose(out.acc_sensor, acc, atol=16 * G / 32768)
    np.testing.assert_allclose(out.gyr_sensor, gyr, atol=np.radians(2000 / 32768))
    np.testing.assert_allclose(out.time_sensor_s, np.arange(n) / 50)


def test_witmotion_commands():
    assert witmotion.unlock().hex() == "ffaa6988b5"
    assert witmotion.write_register(witmotion.REG_RRATE, 0x08).hex() == "ffaa030800"
    assert witmotion.save().hex() == "ffaa000000"
    assert witmotion.parse_write(bytes.fromhex("ffaa030900")) == (3, 9)


def test_thingy_golden_and_hostile():
    pkt = struct.pack("<9h", 1024, -512, 0, 32, 0, -320, 16, 0, -800)
    dec = thingy.Decoder({"mag": True}, 50)
    b = dec.feed(pkt)
    np.testing.assert_allclose(b.acc_sensor[0], [G, -G / 2, 0])  # Q6.10: 1024 = 1 g
    np.testing.assert_allclose(b.gyr_sensor[0], np.radians([1, 0, -10]))  # Q11.5: 32 = 1 deg/s
    np.testing.assert_allclose(b.mag_sensor[0], [1, 0, -50])  # Q12.4: 16 = 1 uT
    for bad in (pkt[:-1], pkt + b"\x00", b""):
        with pytest.raises(DecodeError, match="18 bytes"):
            dec.feed(bad)
    out = dec.feed_many([pkt, pkt[:5], pkt])
    assert len(out) == 2 and dec.stats.errors == 4
    np.testing.assert_allclose(out.time_sensor_s, [1 / 50, 2 / 50])
    assert thingy.encode_config(100).hex() == "e803e803e803640000"
    assert thingy.parse_config(thingy.encode_config(100))["motion_hz"] == 100


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_thingy_round_trip(n, seed):
    rng = np.random.default_rng(seed)
    blk = ImuBlock(np.arange(n) / 50.0, rng.uniform(-30, 30, (n, 3)) * G / 2, rng.uniform(-15, 15, (n, 3)), rng.uniform(-1000, 1000, (n, 3)))
    out = thingy.Decoder({"mag": True}, 50).feed_many(thingy.Encoder({"mag": True}, 50).encode(blk))
    np.testing.assert_allclose(out.acc_sensor, blk.acc_sensor, atol=G / 2048 + 1e-12)
    np.testing.assert_allclose(out.gyr_sensor, blk.gyr_sensor, atol=np.radians(1 / 64) + 1e-12)
    np.testing.assert_allclose(out.mag_sensor, blk.mag_sensor, atol=1 / 32 + 1e-12)
