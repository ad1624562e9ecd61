"""Polar PMD codec.

Sources: polarofficial/polar-ble-sdk, Android pmd/ sources: PmdDataFrame.kt (type u8 | timestamp u64 |
frame type u8, bit 7 = compressed), BlePMDClient.parseDeltaFramesAll / parseDeltaFrame (reference sample,
then blocks of width u8, count u8, bits LSB first, sign-extended), PmdTimeStampUtils.kt (frame time is the
last sample's; first frame: delta = 1/fs; later: delta = (ts - prev)/n, first = prev + delta),
PmdSetting.kt and PmdControlPointResponse.kt (F0 op type status more params; FACTOR = setting 5, float32).
"""

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hipmon.codecs import DecodeError, polar
from hipmon.types import ImuBlock

PARAMS = {"acc_range_g": 8, "gyr_range_dps": 2000, "mag": False}
ACC_FACTOR = 8 * 1000 / 32768  # mG per count at ±8 G, 16 bit

# Hand-built delta payload: reference (100, -200, 1000); one block, width 3, 2 samples,
# deltas (1, -1, 0), (2, 0, -2) as 3-bit two's complement, LSB first -> bytes 39 04 03.
GOLDEN_PAYLOAD = bytes.fromhex("6400" "38ff" "e803" "03" "02" "390403")
GOLDEN_SAMPLES = [[100, -200, 1000], [101, -201, 1000], [103, -201, 998]]


def frame(meas, ts_ns, ftype, payload):
    return bytes([meas]) + struct.pack("<Q", ts_ns) + bytes([ftype]) + payload


def test_golden_delta_payload_both_ways():
    assert polar.unpack_delta_frame(GOLDEN_PAYLOAD, 3).tolist() == GOLDEN_SAMPLES
    assert polar.pack_delta_frame(np.array(GOLDEN_SAMPLES)) == GOLDEN_PAYLOAD


def test_golden_frames_scaling_times_and_pairing():
    dec = polar.Decoder(PARAMS, 52)
    ts = 10**12
    acc_f = frame(polar.MEAS_ACC, ts, 0x81, GOLDEN_PAYLOAD)
    gyr_f = frame(polar.MEAS_GYRO, ts, 0x80, GOLDEN_PAYLOAD)
    assert dec.feed(acc_f) is None  # waits for the gyroscope
    b = dec.feed(gyr_f, host_ns=7)
    assert len(b) == 3
    counts = np.array(GOLDEN_SAMPLES, dtype=float)
    np.testing.assert_allclose(b.acc_sensor, counts * ACC_FACTOR * 9.80665e-3)
    np.testing.assert_allclose(b.gyr_sensor, np.radians(counts * 2000 / 32768))
    delta = 1e9 / 52  # first frame: nominal period, last sample at the frame time
    np.testing.assert_allclose(b.time_sensor_s * 1e9, [ts - 2 * delta, ts - delta, ts], atol=1)
    # second frame: delta from the previous frame time, first = prev + delta
    ts2 = ts + 3 * 19_300_000
    dec.feed(frame(polar.MEAS_ACC, ts2, 0x81, GOLDEN_PAYLOAD))
    b2 = dec.feed(frame(polar.MEAS_GYRO, ts2, 0x80, GOLDEN_PAYLOAD))
    np.testing.assert_allclose(b2.time_sensor_s * 1e9, [ts + 19_300_000, ts + 38_600_000, ts2], atol=1)


def test_factor_from_start_response_and_control_bytes():
    assert polar.build_start(polar.MEAS_ACC, {0: 52, 1: 16, 2: 8}).hex() == "0202000134000101100002010800"
    resp = polar.build_start_response(polar.MEAS_ACC, 0.5)
    assert resp.hex() == "f0020200000501" + struct.pack("<f", 0.5).hex()
    parsed = polar.parse_cp_response(resp)
    assert parsed.ok and parsed.factor == 0.5
    err = polar.build_cp_response(polar.OP_START, polar.MEAS_GYRO, 8)
    assert err.hex() == "f0020508"
    assert polar.STATUS_NAMES[polar.parse_cp_response(err).status] == "INVALID SAMPLE RATE"
    cmd = polar.parse_cp_command(bytes.fromhex("0202000134000101100002010800"))
    assert cmd.settings == {0: [52], 1: [16], 2: [8]}
    assert polar.parse_features(polar.build_features([2, 5, 6, 9])) == {2, 5, 6, 9}
    dec = polar.Decoder(PARAMS, 52)
    dec.handle_control(resp)
    ts = 10**12
    dec.feed(frame(polar.MEAS_ACC, ts, 0x81, GOLDEN_PAYLOAD))
    b = dec.feed(frame(polar.MEAS_GYRO, ts, 0x80, GOLDEN_PAYLOAD))
    np.testing.assert_allclose(b.acc_sensor[0], np.array(GOLDEN_SAMPLES[0]) * 0.5 * 9.80665e-3)


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.tuples(*[st.integers(-32768, 32767)] * 3), min_size=1, max_size=120),
    block=st.integers(1, 255),
)
def test_delta_pack_round_trip(data, block):
    arr = np.array(data, dtype=np.int64)
    payload = polar.pack_delta_frame(arr, 16, block)
    assert polar.unpack_delta_frame(payload, 3).tolist() == arr.tolist()


@settings(max_examples=15, deadline=None)
@given(rate=st.sampled_from([52, 104, 208]), n=st.integers(5, 400), seed=st.integers(0, 2**31), mag=st.booleans())
def test_round_trip_three_streams(rate, n, seed, mag):
    rng = np.random.default_rng(seed)
    params = {**PARAMS, "mag": mag, "mag_range_ut": 5000.0, "mag_rate_hz": float(rate)}
    t = 7e8 + np.arange(n) / rate
    acc = np.clip(np.cumsum(rng.normal(0, 0.5, (n, 3)), 0), -70, 70)
    gyr = np.clip(np.cumsum(rng.normal(0, 0.1, (n, 3)), 0), -30, 30)
    magv = np.clip(30 + np.cumsum(rng.normal(0, 1, (n, 3)), 0), -4000, 4000) if mag else None
    enc = polar.Encoder(params, rate)
    frames = enc.encode(ImuBlock(t, acc, gyr, magv)) + enc.flush()
    assert all(len(f) <= 232 for f in frames)
    assert {f[0] for f in frames} == ({2, 5, 6} if mag else {2, 5})
    out = polar.Decoder(params, rate).feed_many(frames)
    assert len(out) == n
    # half a count of quantisation; MAG is interpolated to the ACC times, which differ from
    # MAG's own by the ns rounding of the frame times: a further ~1e-5 uT at these slopes
    np.testing.assert_allclose(out.acc_sensor, acc, atol=ACC_FACTOR * 9.80665e-3 / 2 + 1e-9)
    np.testing.assert_allclose(out.gyr_sensor, gyr, atol=np.radians(2000 / 32768) / 2 + 1e-9)
    if mag:
        np.testing.assert_allclose(out.mag_sensor, magv, atol=5000 / 32768 / 2 + 1e-3)
    np.testing.assert_allclose(out.time_sensor_s, t, atol=2e-6)


def test_unpaired_samples_dropped_and_counted():
    enc = polar.Encoder(PARAMS, 52)
    n = 200
    t = 1e6 + np.arange(n) / 52
    rng = np.random.default_rng(1)
    frames = enc.encode(ImuBlock(t, rng.normal(0, 5, (n, 3)), rng.normal(0, 2, (n, 3)))) + enc.flush()
    gyro_frames = [f for f in frames if f[0] == polar.MEAS_GYRO]
    acc_frames = [f for f in frames if f[0] == polar.MEAS_ACC]
    assert len(gyro_frames) >= 2
    dec = polar.Decoder(PARAMS, 52)
    out = dec.feed_many(acc_frames + gyro_frames[1:])  # first gyro frame lost
    first_gyro_n = polar.unpack_delta_frame(gyro_frames[0][10:], 3).shape[0]
    assert len(out) == n - first_gyro_n
    assert dec.stats.samples_lost == first_gyro_n


def test_hostile_frames():
    dec = polar.Decoder(PARAMS, 52)
    good = frame(polar.MEAS_ACC, 10**12, 0x81, GOLDEN_PAYLOAD)
    bad = {
        "short": good[:9],
        "unknown type": bytes([1]) + good[1:],
        "frame type": good[:9] + b"\x82" + good[10:],
        "truncated reference": good[:13],
        "truncated block": good[:-1],
        "block header cut": good[:16] + b"\x03",
        "width > 32": good[:16] + b"\x40\x01" + b"\x00" * 30,
        "out of range": frame(polar.MEAS_ACC, 10**12, 0x81, bytes.fromhex("ff7f00000000" "0201" "01")),
    }
    for name, pkt in bad.items():
        with pytest.raises(DecodeError):
            dec.feed(pkt)
    assert dec.stats.errors == len(bad)
    dec.feed(good)
    with pytest.raises(DecodeError, match="not after"):
        dec.feed(good)  # same frame time again


def test_a_corrupted_frame_time_is_refused_without_stalling_the_stream():
    """A bit flip in the u64 frame time (beyond int64, or years ahead) is one DecodeError; the
    next good frames decode; two frames agreeing on a new time base are a real clock jump."""
    n = 3  # samples in GOLDEN_PAYLOAD
    dec = polar.Decoder(PARAMS, 52)
    period = int(1e9 / 52)
    t0 = 10**15
    frames = [frame(polar.MEAS_ACC, t0 + k * n * period, 0x81, GOLDEN_PAYLOAD) for k in range(4)]
    gyro = [frame(polar.MEAS_GYRO, t0 + k * n * period, 0x80, GOLDEN_PAYLOAD) for k in range(4)]
    dec.feed(frames[0]); dec.feed(gyro[0])
    flipped = bytearray(frames[1]); flipped[8] ^= 0x80  # top bit of the u64 time: beyond int64
    with pytest.raises(DecodeError, match="63-bit"):
        dec.feed(bytes(flipped))
    ahead = bytearray(frames[1]); ahead[7] ^= 0x40  # ~2.3 years ahead
    with pytest.raises(DecodeError, match="too far"):
        dec.feed(bytes(ahead))
    dec.feed(frames[1]); dec.feed(gyro[1])  # the stream carries on
    dec.feed(frames[2]); out = dec.feed(gyro[2])
    assert out is not None and np.all(np.diff(out.time_sensor_s) > 0)
    # a real jump of one hour: the first frame is refused, the second agrees and re-bases
    jump = 3600 * 10**9
    with pytest.raises(DecodeError, match="too far"):
        dec.feed(frame(polar.MEAS_ACC, t0 + jump, 0x81, GOLDEN_PAYLOAD))
    dec.feed(frame(polar.MEAS_ACC, t0 + jump + n * period, 0x81, GOLDEN_PAYLOAD))
    assert dec.streams[polar.MEAS_ACC].prev_ts == t0 + jump + n * period


@pytest.mark.parametrize("lost_meas", [polar.MEAS_ACC, polar.MEAS_GYRO, polar.MEAS_MAG])
def test_a_lost_middle_frame_is_counted_once_in_output_samples(lost_meas):
    # samples_lost counts output (paired) samples: a lost ACC frame loses its samples, a lost
    # GYRO frame leaves as many ACC samples unpaired (once, not also as a GYRO time gap), and a
    # lost MAG frame is interpolated over (nothing lost)
    params = {**PARAMS, "mag": True, "mag_range_ut": 5000.0, "mag_rate_hz": 52.0}
    n = 400
    t = 5e5 + np.arange(n) / 52
    rng = np.random.default_rng(3)
    enc = polar.Encoder(params, 52)
    frames = enc.encode(ImuBlock(t, rng.normal(0, 5, (n, 3)), rng.normal(0, 2, (n, 3)), 30 + rng.normal(0, 1, (n, 3))))
    frames += enc.flush()
    of_kind = [i for i, f in enumerate(frames) if f[0] == lost_meas]
    assert len(of_kind) >= 3
    drop = of_kind[1]
    n_dropped = polar.unpack_delta_frame(frames[drop][10:], 3).shape[0]
    dec = polar.Decoder(params, 52)
    out = dec.feed_many(frames[:drop] + frames[drop + 1:])
    expected_lost = 0 if lost_meas == polar.MEAS_MAG else n_dropped
    assert dec.stats.samples_lost == expected_lost
    assert len(out) == n - expected_lost
