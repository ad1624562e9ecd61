"""hipmon's Polar PMD codec against Polar's own unit-test vectors.

The vectors (bytes and asserted values) were transcribed from polarofficial/polar-ble-sdk's
tests (AccDataTest.kt, GyrDataTest.kt, MagDataTest.kt, PmdTimeStampUtilsTest.kt,
BlePmdClientTest.kt, BlePmdClientControlPointResponseTest.kt, iOS AccDataTest.swift) into
``../shared/data/real/codec-vectors/`` (see its README.md). A missing folder FAILS (tests/_real.py).

Each vector is looked up by its test name, so a renamed or lost vector fails too. Where a
vector lies outside what hipmon's codec claims to decode, the test says so and asserts
what hipmon does instead (a DecodeError naming the reason).
"""

from __future__ import annotations

import ast
import json
import math

import numpy as np
import pytest

from _real import real_dir
from hipmon.codecs import DEG, STANDARD_GRAVITY, DecodeError, polar

MG = STANDARD_GRAVITY / 1000.0


def _load(name: str) -> dict[str, dict]:
    entries = json.loads((real_dir("codec-vectors") / name).read_text())
    out = {}
    for e in entries:
        exp = e.get("expected")
        if isinstance(exp, str):  # two MAG entries store their expectation as a Python literal
            e = dict(e, expected=ast.literal_eval(exp))
        out[e["test"]] = e
    return out


@pytest.fixture(scope="module")
def vectors() -> dict[str, dict]:
    v = _load("polar.json")
    assert len(v) == 17, "polar.json holds 17 vectors (README)"
    return v


@pytest.fixture(scope="module")
def timestamps() -> dict[str, dict]:
    v = _load("polar-timestamps.json")
    assert len(v) == 5
    return v


def _frame(v: dict) -> bytes:
    return bytes.fromhex(v["hex"])


def _xyz(sample: dict) -> list[float]:
    return [sample["x"], sample["y"], sample["z"]]


def _decoder(**params) -> polar.Decoder:
    return polar.Decoder(params, 52.0)


# --------------------------------------------------------------------------- ACC


def test_acc_raw_type1(vectors):
    """AccDataTest.kt 'process acc raw data frame type 1': int16 mG triplets, 36 samples,
    first frame (previous timestamp 0) timed at 1/52 s ending at the frame time."""
    v = vectors["process acc raw data frame type 1"]
    exp = v["expected"]
    meas, times, vals = _decoder(acc_frame_type=0x01).decode_frame(_frame(v))
    assert meas == polar.MEAS_ACC and vals.shape == (exp["n_samples"], 3)
    mg = vals / MG
    np.testing.assert_allclose(mg[0], _xyz(exp["samples"]["0"]), atol=1e-9)
    np.testing.assert_allclose(mg[1], _xyz(exp["samples"]["1"]), atol=1e-9)
    assert times[-1] == exp["last_sample_timestamp"]
    # PmdTimeStampUtils with previous 0 and 52 Hz: 1e9/52 apart, ending at the frame time
    np.testing.assert_array_equal(np.diff(times), np.diff(np.rint(exp["last_sample_timestamp"] - 1e9 / 52 * np.arange(35, -1, -1)).astype(np.int64)))


def test_acc_compressed_type0_with_factor(vectors):
    """AccDataTest.kt 'process acc compressed data type 0': FACTOR 2.44e-4 G per count; the SDK
    reports trunc(factor x raw x 1000) mG. hipmon reports factor x raw G in m/s^2."""
    v = vectors["process acc compressed data type 0"]
    exp = v["expected"]
    factor = float(np.float32(2.44e-4))  # the test's 2.44E-4f
    dec = _decoder(acc_frame_type=0x80, acc_factor=factor)
    frame = _frame(v)
    meas, times, vals = dec.decode_frame(frame)
    assert vals.shape == (exp["n_samples"], 3) == (57, 3)
    raw = polar.unpack_delta_frame(polar.parse_data_frame(frame).payload, 3)
    np.testing.assert_array_equal(raw[0], exp["raw_int_samples"]["0"])
    np.testing.assert_array_equal(raw[1], exp["raw_int_samples"]["1"])
    mg = vals / STANDARD_GRAVITY * 1000.0
    for i in ("0", "1"):
        np.testing.assert_array_equal(np.trunc(mg[int(i)]), _xyz(exp["samples"][i]))
    assert np.abs(np.trunc(mg)).max() <= exp["all_samples_abs_le"]
    # timing with the test's previous timestamp (100 ns) and no nominal rate (sample rate 0)
    t = polar.frame_sample_times(v["context"]["previous_timestamp_ns"], polar.parse_data_frame(frame).timestamp_ns, 57, 0)
    assert t[0] == exp["first_sample_timestamp"] and t[-1] == exp["last_sample_timestamp"]


@pytest.mark.parametrize("test_name", ["process acc compressed data type 1", "testProcessAccCompressedFrameType1"])
def test_acc_compressed_type1(vectors, test_name):
    """AccDataTest.kt / AccDataTest.swift: type 1 is mG directly (factor 1); per-sample times
    from the previous timestamp 100: Kotlin's ts 101 gives 100 (half rounds to even), 101;
    the iOS twin's ts 102 gives 101, 102."""
    v = vectors[test_name]
    exp = v["expected"]
    frame = _frame(v)
    meas, _, vals = _decoder(acc_frame_type=0x81, acc_factor=1.0).decode_frame(frame)
    assert meas == polar.MEAS_ACC and vals.shape == (exp["n_samples"], 3)
    np.testing.assert_allclose(vals[0] / MG, _xyz(exp["samples"]["0"]), atol=1e-9)
    np.testing.assert_allclose(vals[1] / MG, _xyz(exp["samples"]["1"]), atol=1e-9)
    hdr = polar.parse_data_frame(frame)
    t = polar.frame_sample_times(v["context"]["previous_timestamp_ns"], hdr.timestamp_ns, 2, 0)
    assert t.tolist() == [exp["sample_timestamps"]["0"], exp["sample_timestamps"]["1"]]


def test_acc_factor_from_start_response(vectors):
    """The decoder multiplies by the stream's FACTOR, which a START response may change:
    the same type-0 ACC frame at FACTOR 2.44e-4 and at twice that gives twice the values."""
    frame = _frame(vectors["process acc compressed data type 0"])
    a = _decoder(acc_frame_type=0x80, acc_factor=2.44e-4).decode_frame(frame)[2]
    dec = _decoder(acc_frame_type=0x80, acc_factor=2.44e-4)
    dec.handle_control(polar.build_start_response(polar.MEAS_ACC, 4.88e-4))
    b = dec.decode_frame(frame)[2]
    np.testing.assert_allclose(b, 2 * a, rtol=1e-6)


# --------------------------------------------------------------------------- GYRO


def test_gyro_compressed_type0(vectors):
    """GyrDataTest.kt 'process gyro compressed data type 0': deg/s x FACTOR (1.0). The test's
    frame time is 2**63 - 1 with a previous timestamp of 100: hipmon calls a jump of more
    than 60 s within a stream a corrupted frame time (outside what it decodes), so the frame
    is decoded as a stream's first frame; the values and the last sample time are the vector's."""
    v = vectors["process gyro compressed data type 0"]
    exp = v["expected"]
    frame = _frame(v)
    meas, times, vals = _decoder(gyr_factor=1.0).decode_frame(frame)
    assert meas == polar.MEAS_GYRO and vals.shape == (2, 3)
    np.testing.assert_allclose(vals[0] / DEG, _xyz(exp["samples"]["0"]), atol=1e-9)
    np.testing.assert_allclose(vals[1] / DEG, _xyz(exp["samples"]["1"]), atol=1e-9)
    assert times[-1] == exp["last_sample_timestamp"] == 2**63 - 1
    dec = _decoder(gyr_factor=1.0)
    dec.streams[polar.MEAS_GYRO].prev_ts = v["context"]["previous_timestamp_ns"]
    with pytest.raises(DecodeError, match="jumps too far"):
        dec.decode_frame(frame)


@pytest.mark.parametrize("test_name", ["process gyro compressed data type 1",
                                       "process gyro compressed data type 1 with factor"])
def test_gyro_compressed_type1_float(vectors, test_name):
    """GyrDataTest.kt: type 1 carries a float32 reference sample and deltas added to the IEEE-754
    bit patterns (sample 1 z = bits 0x3F8CCCCD = 1.1f), times FACTOR. hipmon refused GYRO
    0x81 before these vectors; it decodes it now (polar.float32_samples)."""
    v = vectors[test_name]
    exp = v["expected"]
    factor = v["context"]["factor"]
    dec = _decoder(gyr_frame_type=0x81, gyr_factor=factor)
    meas, times, vals = dec.decode_frame(_frame(v))
    assert meas == polar.MEAS_GYRO and vals.shape == (exp["n_samples"], 3)
    for i in ("0", "1"):  # exact float32 arithmetic: factor x float
        want = [float(np.float32(x)) for x in _xyz(exp["samples"][i])]
        np.testing.assert_allclose(vals[int(i)] / DEG, want, rtol=1e-7)
    assert times[-1] == exp["sample_1_timestamp"]
    bits = polar.unpack_delta_frame(polar.parse_data_frame(_frame(v)).payload, 3, 32)
    assert int(bits[1, 2]) & 0xFFFFFFFF == 0x3F8CCCCD


def test_gyro_type1_roundtrip_through_encoder():
    """The encoder writes GYRO 0x81 frames the vector's way; they decode to the float32 values."""
    from hipmon.types import ImuBlock

    rng = np.random.default_rng(3)
    n = 300
    gyr = np.cumsum(rng.normal(0, 0.05, (n, 3)), axis=0)
    block = ImuBlock(1.0 + np.arange(n) / 104, rng.normal(0, 3, (n, 3)), gyr)
    enc = polar.Encoder({"gyr_frame_type": 0x81, "gyr_factor": 1.0}, 104)
    frames = enc.encode(block) + enc.flush()
    assert all(len(f) <= 232 for f in frames)
    assert {f[9] for f in frames if f[0] == polar.MEAS_GYRO} == {0x81}
    dec = polar.Decoder({"gyr_frame_type": 0x81, "gyr_factor": 1.0}, 104)
    out = dec.feed_many(frames)
    tail = dec.finish()
    got = out.gyr_sensor if tail is None else np.concatenate([out.gyr_sensor, tail.gyr_sensor])
    assert got.shape == (n, 3)
    want = (gyr / DEG).astype(np.float32).astype(np.float64) * DEG
    np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------- MAG


def test_mag_compressed_type0(vectors):
    """MagDataTest.kt type 0: 3 channels, raw x FACTOR gauss (1 G = 100 uT)."""
    v = vectors["process magnetometer compressed data type 0"]
    exp = v["expected"]
    meas, times, vals = _decoder(mag=True, mag_frame_type=0x80, mag_factor=1.0).decode_frame(_frame(v))
    assert meas == polar.MEAS_MAG and vals.shape == (2, 3)
    np.testing.assert_allclose(vals[0] / 100.0, _xyz(exp["samples"]["0"]), atol=1e-9)
    np.testing.assert_allclose(vals[1] / 100.0, _xyz(exp["samples"]["1"]), atol=1e-9)
    assert times[-1] == exp["sample_1_timestamp"]


@pytest.mark.parametrize("test_name", ["process magnetometer compressed data type 1",
                                       "process magnetometer compressed data type 1 with factor"])
def test_mag_compressed_type1(vectors, test_name):
    """MagDataTest.kt type 1: 4 channels (x, y, z in mG, calibration status); value = raw x
    FACTOR / 1000 gauss. hipmon keeps x, y, z (in uT) and drops the status channel, whose raw
    values are the vector's UNKNOWN (0) and POOR (1)."""
    v = vectors[test_name]
    exp = v["expected"]
    frame = _frame(v)
    dec = _decoder(mag=True, mag_frame_type=0x81, mag_factor=v["context"]["factor"])
    meas, times, vals = dec.decode_frame(frame)
    assert vals.shape == (exp["n_samples"], 3)
    for i in ("0", "1"):
        np.testing.assert_allclose(vals[int(i)] / 100.0, _xyz(exp["samples"][i]), atol=exp["tolerance"])
    raw = polar.unpack_delta_frame(polar.parse_data_frame(frame).payload, 4)
    assert raw[:, 3].tolist() == [0, 1]
    assert exp["samples"]["0"]["calibration_status"].startswith("UNKNOWN")
    assert exp["samples"]["1"]["calibration_status"].startswith("POOR")


# --------------------------------------------------------------------------- frame headers


@pytest.mark.parametrize("test_name", ["process acc data", "process gyro data", "process magnetometer data"])
def test_frame_header(vectors, test_name):
    """BlePmdClientTest.kt: the PmdDataFrame header fields (type, u64 time, compression bit,
    frame type, content)."""
    v = vectors[test_name]
    exp = v["expected"]
    hdr = polar.parse_data_frame(_frame(v))
    assert hdr.timestamp_ns == exp["frame_timestamp"]
    assert hdr.compressed is exp["is_compressed"]
    assert f"TYPE_{hdr.type_index}" == exp["frame_type"]
    assert hdr.payload.hex() == exp["data_content_hex"]
    assert polar.MEAS_NAMES[hdr.meas] == v["context"]["measurement"]


def test_frame_header_vectors_beyond_the_codec(vectors):
    """Outside what the codec claims: ACC frame type 3 (0x83) is not decoded (the profile's ACC
    frames are 0x81), and the MAG header vector's one content byte is no sample. hipmon refuses
    them with a DecodeError that says why; the GYRO header vector decodes (2 samples)."""
    dec = _decoder(mag=True)
    with pytest.raises(DecodeError, match="ACC frame type 0x83"):
        dec.decode_frame(_frame(vectors["process acc data"]))
    with pytest.raises(DecodeError, match="shorter than its reference sample"):
        dec.decode_frame(_frame(vectors["process magnetometer data"]))
    meas, times, vals = _decoder(gyr_factor=1.0).decode_frame(_frame(vectors["process gyro data"]))
    assert vals.shape == (2, 3) and times[-1] == 1


def test_previous_timestamp_sequence(vectors):
    """BlePmdClientTest.kt 'test previous timestamp': ACC frames with PPI frames between them;
    the previous timestamp is kept per measurement type. The headers give the vector's frame
    times; decoding is outside the codec's claims (ACC type 3, PPI not streamed, a 1.15e18 ns
    jump): hipmon refuses each frame with a DecodeError and keeps going, and no PPI frame
    touches the ACC stream's state."""
    v = vectors["test previous timestamp"]
    frames = [bytes.fromhex(h) for h in v["hex"]]
    hdrs = [polar.parse_data_frame(f) for f in frames]
    acc = [h for h in hdrs if h.meas == polar.MEAS_ACC]
    assert [h.timestamp_ns for h in acc] == [f["frame_timestamp"] for f in v["expected"]["acc_frames"]]
    assert [h.meas for h in hdrs] == [2, 3, 2, 3, 2]
    dec = _decoder()
    for f, h in zip(frames, hdrs):
        with pytest.raises(DecodeError, match="PPI" if h.meas == 3 else "frame type 0x83"):
            dec.feed(f)
    assert dec.streams[polar.MEAS_ACC].prev_ts is None
    assert dec.stats.errors == 5 and dec.stats.packets == 5


# --------------------------------------------------------------------------- control point


def test_start_response_factor(vectors):
    """BlePmdClientTest.kt: a START response with FACTOR (05 01 <float32 LE>) stores 2.5. It
    answers a PPG start: the decoder takes FACTORs of its own streams only."""
    v = vectors["startMeasurement - success response updates factor in currentSettings"]
    exp = v["expected"]
    resp = polar.parse_cp_response(_frame(v))
    assert resp.op == polar.OP_START and resp.meas == polar.MEAS_PPG and resp.ok
    assert resp.factor == exp["factor_float"]
    assert int.from_bytes(resp.params[2:6], "little") == exp["stored_factor_int_bits"]
    dec = _decoder()
    before = {m: s.factor for m, s in dec.streams.items()}
    assert dec.handle_control(_frame(v)).factor == 2.5
    assert {m: s.factor for m, s in dec.streams.items()} == before


@pytest.mark.parametrize("test_name", ["success control point response for acc stream settings",
                                       "failing control point response for mag stream settings"])
def test_control_point_response(vectors, test_name):
    """BlePmdClientControlPointResponseTest.kt: F0 op type status more params."""
    v = vectors[test_name]
    exp = v["expected"]
    data = _frame(v)
    resp = polar.parse_cp_response(data)
    assert data[0] == exp["response_code"] == polar.CP_RESPONSE
    assert resp.op == polar.OP_GET and exp["op_code"].startswith("GET_MEASUREMENT_SETTINGS")
    assert resp.meas == exp["measurement_type"]
    assert resp.more is exp["more"]
    assert resp.params.hex() == exp["parameters_hex"]
    want_status = exp["status"].replace("ERROR_", "").split(" (")[0].replace("_", " ")
    assert polar.STATUS_NAMES[resp.status] == want_status
    assert resp.factor is None


# --------------------------------------------------------------------------- PmdTimeStampUtils


def test_sample_time_rule(timestamps):
    """PmdTimeStampUtilsTest.kt, all five cases. Previous timestamp 0 is the SDK's 'no previous
    frame' (hipmon: None). Case 'test 2' (3 samples over 2 s at a nominal 1 Hz) disagreed: hipmon
    fell back to the nominal period for any step off by more than 25 %, placing the first sample
    at 0, before the previous frame; now only a step longer than nominal (lost frames) does."""
    for name, case in timestamps.items():
        c = case["context"]
        prev = c["previous_timestamp_ns"] or None
        got = polar.frame_sample_times(prev, c["frame_timestamp_ns"], c["samples"], c["sample_rate_hz"])
        assert got.tolist() == case["expected"]["sample_timestamps_ns"], name


def test_decoder_times_follow_the_rule_mid_stream():
    """The decoder times a frame with the same rule: a frame whose samples arrive faster than
    nominal stays after the previous frame and ends on its own time (was: timed backwards from
    its end at the nominal period, overlapping the previous frame)."""
    from hipmon.types import ImuBlock

    rate = 52.0
    enc = polar.Encoder({}, rate)
    n = 40
    t = 1.0 + np.arange(n) / (rate * 1.5)  # the sensor runs 50 % fast
    frames = enc.encode(ImuBlock(t, np.zeros((n, 3)), np.zeros((n, 3)))) + enc.flush()
    dec = polar.Decoder({}, rate)
    times = [dec.decode_frame(f)[1] for f in frames if f[0] == polar.MEAS_ACC]
    allt = np.concatenate(times)
    assert np.all(np.diff(allt) > 0)
    assert math.isclose(allt[-1], round(t[-1] * 1e9))
