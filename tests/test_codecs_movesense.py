"""Movesense GSP codec.

Layouts from the Movesense GSP specification (GD-77, http://movesense.com/docs/esw/gatt_sensordata_protocol)
and GATTSensorDataClient.cpp of the Movesense device library: notification = type u8 | ref u8 | body;
DATA=2, DATA_PART2=3, DATA_PART3=4; IMU body = u32 timestamp (ms) then n acc, n gyro, n magn
float32 vectors. HELLO reply 01 ref 'Hello'; 507 reply bytes 01 FB.
"""

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hipmon.codecs import DecodeError, movesense
from hipmon.types import ImuBlock

PARAMS9 = {"resource": "IMU9", "mag": True, "client_ref": 99, "max_notification_bytes": 155}


def imu9_message(ts_ms, acc, gyr, mag, ref=99):
    body = struct.pack("<I", ts_ms)
    for vecs in (acc, gyr, mag):
        for v in vecs:
            body += struct.pack("<3f", *v)
    return bytes([2, ref]) + body


def test_golden_imu9_two_parts_at_104hz():
    n = 8
    acc = [(0.1 * i, -9.81, 0.5) for i in range(n)]
    gyr = [(10.0, -20.0 * i, 0.0) for i in range(n)]
    mag = [(30.0, 0.0, -45.5) for _ in range(n)]
    msg = imu9_message(123_456, acc, gyr, mag)
    assert len(msg) == 2 + 4 + 8 * 36  # 294 bytes: does not fit one notification
    part1, part2 = msg[:155], bytes([3, 99]) + msg[155:]
    dec = movesense.Decoder(PARAMS9, 104)
    assert dec.feed(part1, host_ns=1) is None  # waits for DATA_PART2
    b = dec.feed(part2, host_ns=2)
    assert len(b) == 8
    np.testing.assert_allclose(b.acc_sensor, np.array(acc, dtype=np.float32))
    np.testing.assert_allclose(b.gyr_sensor, np.radians(np.array(gyr, dtype=np.float32)))
    np.testing.assert_allclose(b.mag_sensor, np.array(mag, dtype=np.float32))
    # first message: timestamp is the first sample, nominal 1/104 s spacing
    np.testing.assert_allclose(b.time_sensor_s, 123.456 + np.arange(8) / 104)
    assert b.sample_index is None
    assert b.host_ns.tolist() == [2] * 8
    # the encoder splits the same message identically
    enc = movesense.Encoder(PARAMS9, 104)
    assert enc.split_message(msg) == [part1, part2]


def test_period_measured_from_consecutive_timestamps():
    # sensor RC clock 5 % slow: 8 samples span 80.8 ms instead of 76.9
    dec = movesense.Decoder(PARAMS9, 104)
    z = [(0.0, 0.0, 9.8)] * 8
    m1 = imu9_message(1000, z, z, z)
    m2 = imu9_message(1081, z, z, z)
    enc = movesense.Encoder(PARAMS9, 104)
    dec.feed_many(enc.split_message(m1))
    b = dec.feed_many(enc.split_message(m2))
    np.testing.assert_allclose(np.diff(b.time_sensor_s), 0.081 / 8)
    assert dec.stats.samples_lost == 0


def test_lost_message_counted_and_timestamp_wrap():
    enc = movesense.Encoder(PARAMS9, 52)
    n = 16
    t = (2**32 - 100) / 1000 + np.arange(n) / 52  # u32 ms wraps inside the block
    blk = ImuBlock(t, np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3)))
    pk = enc.encode(blk)
    assert len(pk) == 4  # 4 samples per message at 52 Hz, one notification each
    dec = movesense.Decoder(PARAMS9, 52)
    out = dec.feed_many([pk[0], pk[2], pk[3]])
    assert dec.stats.samples_lost == 4
    assert np.all(np.diff(out.time_sensor_s) > 0)
    np.testing.assert_allclose(out.time_sensor_s[4:], t[8:], atol=2e-3)


def test_missing_first_part_and_missing_part2():
    msg = imu9_message(5, [(0, 0, 9.8)] * 8, [(0, 0, 0)] * 8, [(1, 1, 1)] * 8)
    p1, p2 = msg[:155], bytes([3, 99]) + msg[155:]
    dec = movesense.Decoder(PARAMS9, 104)
    with pytest.raises(DecodeError, match="first part lost"):
        dec.feed(p2)
    # part 2 lost: the next DATA starts a new message, the incomplete one is counted
    dec.feed(p1)
    assert dec.feed(p1) is None
    assert dec.stats.errors == 2
    assert len(dec.feed(p2)) == 8


def test_command_result_and_commands():
    assert movesense.encode_subscribe(99, "IMU9", 104) == bytes([1, 0x63]) + b"/Meas/IMU9/104"
    assert movesense.encode_command(movesense.CMD_UNSUBSCRIBE, 99) == bytes([2, 0x63])
    cmd = movesense.parse_command(bytes([1, 0x63]) + b"/Meas/IMU6/208")
    assert (cmd.cmd, cmd.ref, cmd.path) == (1, 99, "/Meas/IMU6/208")
    with pytest.raises(DecodeError):
        movesense.parse_command(bytes([1, 0]) + b"/Meas/IMU9/104")  # ref must be non-zero
    with pytest.raises(DecodeError):
        movesense.parse_command(b"\x07\x01")
    assert movesense.encode_response(5, 507) == bytes([1, 5, 0x01, 0xFB])  # as the firmware sends it
    assert movesense.encode_hello_response(7) == bytes([1, 7]) + b"Hello"
    dec = movesense.Decoder(PARAMS9, 104)
    assert dec.feed(movesense.encode_response(99, 200)) is None
    assert dec.last_response == (99, 200)


@settings(max_examples=30, deadline=None)
@given(rate=st.sampled_from([52, 104, 208, 416]), n=st.integers(1, 70), seed=st.integers(0, 2**31), imu9=st.booleans())
def test_round_trip(rate, n, seed, imu9):
    rng = np.random.default_rng(seed)
    params = dict(PARAMS9) if imu9 else {"resource": "IMU6", "mag": False}
    t = 1000.0 + np.arange(n) / rate
    blk = ImuBlock(t, rng.normal(0, 30, (n, 3)), rng.normal(0, 8, (n, 3)), rng.normal(0, 60, (n, 3)) if imu9 else None)
    pk = movesense.Encoder(params, rate).encode(blk)
    assert all(len(p) <= 155 for p in pk)
    out = movesense.Decoder(params, rate).feed_many(pk)
    assert len(out) == n
    np.testing.assert_allclose(out.acc_sensor, blk.acc_sensor, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(out.gyr_sensor, blk.gyr_sensor, rtol=1e-6, atol=1e-6)
    if imu9:
        np.testing.assert_allclose(out.mag_sensor, blk.mag_sensor, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(out.time_sensor_s, t, atol=1.5e-3)  # ms timestamps


def test_corrupted_float_is_rejected():
    msg = bytearray(imu9_message(5, [(0, 0, 9.8)] * 4, [(0, 0, 0)] * 4, [(1, 1, 1)] * 4))
    msg[6 + 8 + 3] ^= 0x20  # flip an exponent bit of acc z (9.8 = 0x411ccccd) of sample 0 -> 5e20
    dec = movesense.Decoder(PARAMS9, 52)
    with pytest.raises(DecodeError, match="impossible"):
        dec.feed(bytes(msg))


@pytest.mark.parametrize("seed", range(12))
def test_bulk_decoding_equals_one_message_at_a_time(seed):
    """``_decode_packed`` (``feed_many``'s path, values and checks compiled) = ``_decode_one`` message by
    message (live's path): the same samples bit for bit and the same corrupt messages left out, with
    values NaN, ±inf, beyond each vector's limit and exactly at it among them."""
    rng = np.random.default_rng(seed)
    imu9 = bool(seed % 2)
    params = dict(PARAMS9) if imu9 else {"resource": "IMU6", "mag": False}
    k, rate = (3 if imu9 else 2), [52, 104, 208][seed % 3]
    n = int(rng.integers(1, 9))
    msgs = []
    ts = int(rng.integers(0, 2**32))
    for m in range(60):
        vals = rng.normal(0, 30, (k, n, 3)).astype("<f4")
        if rng.random() < 0.25:  # a damaged value: not finite, too large, or exactly at the limit
            c, s, x = int(rng.integers(k)), int(rng.integers(n)), int(rng.integers(3))
            lim = np.float32(movesense._LIMITS[c])
            vals[c, s, x] = rng.choice([np.nan, np.inf, -np.inf, lim * 1.001, -lim * 1.001, lim, -lim,
                                        np.nextafter(lim, np.float32(0))])
        msgs.append(bytes([2, 99]) + struct.pack("<I", ts % 2**32) + vals.tobytes())
        ts += int(round(n * 1000 / rate)) + (int(rng.integers(1, 4)) * 19 if rng.random() < 0.1 else 0)
    one = movesense.Decoder(params, rate)
    blocks, errs_one = [], 0
    for msg in msgs:
        b, e = one._decode_one(msg, 123)
        errs_one += len(e)
        if len(b):
            blocks.append(b)
    bulk = movesense.Decoder(params, rate)
    data = np.frombuffer(b"".join(msgs), dtype=np.uint8)
    got, errs = bulk._decode_packed(data, np.array([len(m) for m in msgs]), np.full(len(msgs), 123))
    ref = ImuBlock.concatenate(blocks)
    assert len(errs) == errs_one and errs_one > 0
    for name in ("time_sensor_s", "acc_sensor", "gyr_sensor") + (("mag_sensor",) if imu9 else ()):
        a, b = np.asarray(getattr(got, name)), np.asarray(getattr(ref, name))
        assert a.shape == b.shape and np.array_equal(a, b), name
    assert bulk.stats.samples_lost == one.stats.samples_lost
