"""Polar Measurement Data (PMD) service: Verity Sense ACC, GYRO, MAG in SDK mode.

Sources (checked against Polar's own SDK, ``polarofficial/polar-ble-sdk``,
Android ``.../gatt/client/pmd/``): ``PmdDataFrame.kt`` (frame header),
``BlePMDClient.kt`` (``parseDeltaFramesAll``/``parseDeltaFrame``: reference
sample, then blocks ``width u8 | count u8 | bits``, LSB first, sign-extended),
``PmdTimeStampUtils.kt`` (per-sample times), ``PmdSetting.kt`` (setting types and
sizes), ``PmdControlPointResponse.kt`` (``F0 op type status more params``),
``model/AccData.kt``, ``GyrData.kt``, ``MagData.kt`` (scaling).

Control point (write; responses as indications on the same characteristic)::

    GET    01 <type>                      -> F0 01 <type> <status> <more> [settings]
    START  02 <type> [setting u8, 01, value LE]...   -> F0 02 <type> <status> <more> [FACTOR]
    STOP   03 <type>                      -> F0 03 <type> <status>

    types: ACC=2, GYRO=5, MAG=6, SDK_MODE=9; settings: SAMPLE_RATE=0 (u16),
    RESOLUTION=1 (u16), RANGE=2 (u16), RANGE_MILLIUNIT=3 (u32), CHANNELS=4 (u8),
    FACTOR=5 (u32 holding a float32)

Data frame (notify)::

    type u8 | timestamp u64 LE (ns since 2000-01-01, time of the LAST sample) |
    frame_type u8 (bit 7: delta-compressed) | payload

Scaling (value × FACTOR): ACC compressed type 1 (0x81) -> mG, type 0 (0x80) -> G,
raw type 1 (0x01) int16 mG (no factor); GYRO compressed type 0 (0x80) -> °/s,
type 1 (0x81: 32-bit float32 reference sample, deltas added to the IEEE-754 bit
patterns) -> °/s; MAG compressed type 0 (0x80) -> gauss, type 1 (0x81, 4
channels, the 4th a calibration status) -> mG. 1 gauss = 100 µT.

Checked against the vendor's own unit-test vectors (``AccDataTest.kt``,
``GyrDataTest.kt``, ``MagDataTest.kt``, ``PmdTimeStampUtilsTest.kt``,
``BlePmdClientTest.kt``, ``BlePmdClientControlPointResponseTest.kt``), transcribed
in ``../shared/data/real/codec-vectors/polar.json``: ``tests/test_codecs_polar_vectors.py``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from hipmon.codecs import (
    DEG,
    STANDARD_GRAVITY,
    CodecParamError,
    DecodeError,
    Decoder as _BaseDecoder,
    Encoder as _BaseEncoder,
    check_block,
    empty_block,
    get_param,
)
from hipmon.types import ImuBlock

MEAS_ECG, MEAS_PPG, MEAS_ACC, MEAS_PPI, MEAS_GYRO, MEAS_MAG, MEAS_SDK_MODE = 0, 1, 2, 3, 5, 6, 9
MEAS_NAMES = {0: "ECG", 1: "PPG", 2: "ACC", 3: "PPI", 5: "GYRO", 6: "MAG", 9: "SDK_MODE"}
OP_GET, OP_START, OP_STOP = 1, 2, 3
CP_RESPONSE = 0xF0
CP_FEATURES = 0x0F
SET_SAMPLE_RATE, SET_RESOLUTION, SET_RANGE, SET_RANGE_MILLIUNIT, SET_CHANNELS, SET_FACTOR = 0, 1, 2, 3, 4, 5
SETTING_SIZES = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1, 5: 4}
STATUS_NAMES = {
    0: "SUCCESS", 1: "INVALID OP CODE", 2: "INVALID MEASUREMENT TYPE", 3: "NOT SUPPORTED",
    4: "INVALID LENGTH", 5: "INVALID PARAMETER", 6: "ALREADY IN STATE", 7: "INVALID RESOLUTION",
    8: "INVALID SAMPLE RATE", 9: "INVALID RANGE", 10: "INVALID MTU", 11: "INVALID NUMBER OF CHANNELS",
    12: "INVALID STATE", 13: "DEVICE IN CHARGER", 14: "DISK FULL",
}
HEADER_BYTES = 10
MAG_RATES_HZ = (10, 20, 50, 100)
MG = STANDARD_GRAVITY / 1000.0  # m/s² per mG


# --------------------------------------------------------------------------- control point


def encode_settings(settings: dict[int, int | float]) -> bytes:
    """Serialise settings as ``type, 01, value LE`` in ascending type order (FACTOR as float32)."""
    out = bytearray()
    for stype in sorted(settings):
        if stype not in SETTING_SIZES:
            raise ValueError(f"unknown PMD setting type {stype}")
        out += bytes([stype, 1])
        if stype == SET_FACTOR:
            out += struct.pack("<f", float(settings[stype]))
        else:
            out += int(settings[stype]).to_bytes(SETTING_SIZES[stype], "little")
    return bytes(out)


def parse_settings(data: bytes) -> dict[int, list[int | float]]:
    """Parse a settings list (``type, count, values...``); FACTOR values become floats."""
    out: dict[int, list[int | float]] = {}
    off = 0
    data = bytes(data)
    while off < len(data):
        if off + 2 > len(data):
            raise DecodeError(f"PMD settings truncated at byte {off}")
        stype, count = data[off], data[off + 1]
        off += 2
        if stype not in SETTING_SIZES:
            raise DecodeError(f"unknown PMD setting type {stype}")
        size = SETTING_SIZES[stype]
        if off + size * count > len(data):
            raise DecodeError(f"PMD setting {stype} needs {size * count} bytes, {len(data) - off} left")
        vals: list[int | float] = []
        for _ in range(count):
            raw = data[off: off + size]
            vals.append(struct.unpack("<f", raw)[0] if stype == SET_FACTOR else int.from_bytes(raw, "little"))
            off += size
        out[stype] = vals
    return out


def build_start(meas: int, settings: dict[int, int] | None = None) -> bytes:
    """START command, e.g. ACC 52 Hz 16 bit 8 G: ``02 02 00 01 34 00 01 01 10 00 02 01 08 00``."""
    return bytes([OP_START, meas]) + encode_settings(settings or {})


def build_stop(meas: int) -> bytes:
    return bytes([OP_STOP, meas])


def build_get(meas: int) -> bytes:
    return bytes([OP_GET, meas])


@dataclass(frozen=True)
class CpCommand:
    op: int
    meas: int
    settings: dict[int, list[int | float]] = field(default_factory=dict)


def parse_cp_command(data: bytes) -> CpCommand:
    """Parse a control point write (what the sensor receives)."""
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError(f"PMD command needs at least 2 bytes, got {len(data)}")
    op, meas = data[0], data[1]
    if op not in (OP_GET, OP_START, OP_STOP):
        raise DecodeError(f"unknown PMD op code {op}")
    settings = parse_settings(data[2:]) if op == OP_START else {}
    if op != OP_START and len(data) != 2:
        raise DecodeError(f"PMD op {op} takes 2 bytes, got {len(data)}")
    return CpCommand(op, meas, settings)


@dataclass(frozen=True)
class CpResponse:
    op: int
    meas: int
    status: int
    more: bool
    params: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def factor(self) -> float | None:
        """The FACTOR of a START response, if present."""
        if self.op != OP_START or not self.ok or not self.params:
            return None
        vals = parse_settings(self.params).get(SET_FACTOR)
        return float(vals[0]) if vals else None


def build_cp_response(op: int, meas: int, status: int = 0, more: bool = False, params: bytes = b"") -> bytes:
    """Control point response bytes: ``F0 op type status`` (+ ``more params`` on success)."""
    out = bytes([CP_RESPONSE, op, meas, status])
    if status == 0:
        out += bytes([1 if more else 0]) + bytes(params)
    return out


def build_start_response(meas: int, factor: float | None) -> bytes:
    """A successful START response carrying FACTOR (``05 01 <float32>``) when given."""
    params = encode_settings({SET_FACTOR: factor}) if factor is not None else b""
    return build_cp_response(OP_START, meas, 0, False, params)


def parse_cp_response(data: bytes) -> CpResponse:
    data = bytes(data)
    if len(data) < 4 or data[0] != CP_RESPONSE:
        raise DecodeError("not a PMD control point response (expected F0 op type status ...)")
    op, meas, status = data[1], data[2], data[3]
    if status not in STATUS_NAMES:
        raise DecodeError(f"unknown PMD status {status}")
    more = status == 0 and len(data) > 4 and data[4] != 0
    params = data[5:] if status == 0 else b""
    return CpResponse(op, meas, status, more, params)


def build_features(meas_types: Sequence[int]) -> bytes:
    """Value read from the control point: ``0F`` then a little-endian bitmask of types."""
    mask = 0
    for t in meas_types:
        mask |= 1 << t
    return bytes([CP_FEATURES]) + mask.to_bytes(2, "little")


def parse_features(data: bytes) -> set[int]:
    data = bytes(data)
    if len(data) < 2 or data[0] != CP_FEATURES:
        raise DecodeError("not a PMD feature read (expected 0F ...)")
    mask = int.from_bytes(data[1:], "little")
    return {i for i in range(8 * (len(data) - 1)) if mask >> i & 1}


# --------------------------------------------------------------------------- delta frames


def bits_needed(deltas: np.ndarray) -> np.ndarray:
    """Signed two's-complement width that holds each delta, element-wise (0 for 0)."""
    d = np.asarray(deltas, dtype=np.int64)
    mag = np.where(d < 0, -d - 1, d)
    width = np.zeros(d.shape, dtype=np.int64)
    nz = d != 0
    width[nz] = np.floor(np.log2(np.maximum(mag[nz], 1))).astype(np.int64) + 2
    width[nz & (mag == 0)] = 1  # d == -1
    return width


def pack_delta_frame(samples: np.ndarray, resolution: int = 16, block_samples: int = 255) -> bytes:
    """Compressed payload: reference sample then delta blocks (``width, count, bits`` LSB first).

    ``samples`` (n, channels) int. Each block holds at most ``block_samples`` deltas
    with the width its largest delta needs.
    """
    s = np.asarray(samples, dtype=np.int64)
    n, ch = s.shape
    ref_bytes = (resolution + 7) // 8
    out = bytearray()
    for c in range(ch):
        out += int(s[0, c]).to_bytes(ref_bytes, "little", signed=True)
    deltas = np.diff(s, axis=0)
    for start in range(0, n - 1, block_samples):
        block = deltas[start: start + block_samples]
        w = int(bits_needed(block).max()) if block.size else 0
        out += bytes([w, block.shape[0]])
        if w:
            vals = block.reshape(-1) & ((1 << w) - 1)
            bits = ((vals[:, None] >> np.arange(w)) & 1).astype(np.uint8).reshape(-1)
            out += np.packbits(bits, bitorder="little").tobytes()
    return bytes(out)


_WEIGHTS = np.int64(1) << np.arange(33, dtype=np.int64)


def unpack_delta_frame(payload: bytes, channels: int, resolution: int = 16) -> np.ndarray:
    """Inverse of :func:`pack_delta_frame` -> (n, channels) int64; DecodeError if malformed."""
    ref_bytes = (resolution + 7) // 8
    if len(payload) < channels * ref_bytes:
        raise DecodeError(f"delta frame payload of {len(payload)} bytes is shorter than its reference sample ({channels * ref_bytes})")
    if ref_bytes == 2:
        ref = np.frombuffer(payload, dtype="<i2", count=channels).astype(np.int64)
    else:
        ref = np.array([int.from_bytes(payload[c * ref_bytes:(c + 1) * ref_bytes], "little", signed=True)
                        for c in range(channels)], dtype=np.int64)
    off = channels * ref_bytes
    chunks = [ref[None, :]]
    buf = np.frombuffer(payload, dtype=np.uint8)
    while off < len(payload):
        if off + 2 > len(payload):
            raise DecodeError(f"delta block header truncated at byte {off}")
        w, count = payload[off], payload[off + 1]
        off += 2
        if w > 32:
            raise DecodeError(f"delta width {w} bits exceeds 32")
        nbits = w * count * channels
        nbytes = (nbits + 7) // 8
        if off + nbytes > len(payload):
            raise DecodeError(f"delta block of {count} samples x {w} bits needs {nbytes} bytes, {len(payload) - off} left")
        if count == 0:
            continue
        if w == 0:
            chunks.append(np.zeros((count, channels), dtype=np.int64))
        else:
            bits = np.unpackbits(buf[off: off + nbytes], bitorder="little")[:nbits].reshape(-1, w)
            vals = bits @ _WEIGHTS[:w]
            vals -= (vals >> (w - 1) & 1) << w
            chunks.append(vals.reshape(count, channels))
        off += nbytes
    deltas = np.concatenate(chunks)
    return np.cumsum(deltas, axis=0)


# --------------------------------------------------------------------------- data frame header


@dataclass(frozen=True)
class DataFrame:
    """One PMD data notification split into its header fields (``PmdDataFrame.kt``)."""

    meas: int            # measurement type (2 ACC, 5 GYRO, 6 MAG, ...)
    timestamp_ns: int    # u64 LE: time of the frame's last sample, ns since 2000-01-01
    frame_type: int      # the whole byte 9
    payload: bytes

    @property
    def compressed(self) -> bool:
        return bool(self.frame_type & 0x80)

    @property
    def type_index(self) -> int:
        """The frame type without the compression bit (Polar's ``TYPE_0`` ... ``TYPE_n``)."""
        return self.frame_type & 0x7F


def parse_data_frame(data: bytes) -> DataFrame:
    """Header of a PMD data notification: ``type u8 | timestamp u64 LE | frame_type u8 | payload``."""
    data = bytes(data)
    if len(data) < HEADER_BYTES + 1:
        raise DecodeError(f"PMD frame of {len(data)} bytes is shorter than its 10-byte header plus data")
    return DataFrame(data[0], int.from_bytes(data[1:9], "little"), data[9], data[HEADER_BYTES:])


#: a frame whose step from the previous one exceeds this many nominal periods per sample lost frames
LOSS_STEP = 1.25


def frame_sample_times(prev_ts: int | None, ts: int, n: int, rate_hz: float) -> np.ndarray:
    """Per-sample times (ns, int64 (n,)) of a frame of ``n`` samples whose last sample is at ``ts``.

    Polar's ``PmdTimeStampUtils.getTimeStamps``: with the previous frame's time
    ``prev_ts``, Δ = (ts − prev_ts)/n and sample i is at prev_ts + (i+1)·Δ (rounded
    half to even, the last one exactly ``ts``); without one, Δ = 1/rate ending at
    ``ts``. hipmon's one deviation: with a nominal ``rate_hz`` > 0, a step Δ longer
    than ``LOSS_STEP`` periods means frames were lost, and the frame is timed at the
    nominal period ending at ``ts`` (Polar would spread the gap over its samples).
    A shorter Δ (the sensor ran fast) follows Polar's rule: the samples stay after
    the previous frame (vector "samples time stamps based on previous time stamp
    test 2": prev 100, ts 2 s, 3 samples at nominal 1 Hz -> 666666733, 1333333367,
    2000000000; hipmon used the nominal period there before, which put the first
    sample at 0, before the previous frame). ``rate_hz`` 0 means no nominal rate
    (Polar's rule as is; a previous frame is then needed unless n == 1).
    """
    if n < 1:
        raise ValueError("a frame has at least one sample")
    nominal = 1e9 / rate_hz if rate_hz > 0 else None
    if prev_ts is not None:
        delta = (ts - prev_ts) / n
        if nominal is None or delta <= LOSS_STEP * nominal:
            first = prev_ts + delta
        else:
            delta, first = nominal, ts - nominal * (n - 1)
    elif nominal is not None:
        delta, first = nominal, ts - nominal * (n - 1)
    elif n == 1:
        delta, first = 0.0, float(ts)
    else:
        raise ValueError("without a previous frame the sample times need a nominal rate")
    # absolute times rounded as the SDK does; below 2**63 so that a time near the u64 top casts
    times = np.minimum(np.rint(first + delta * np.arange(n)), 9.2233720368547748e18).astype(np.int64)
    times[-1] = ts
    return times


# --------------------------------------------------------------------------- parameters


def mag_rate_for(rate_hz: float) -> int:
    """Magnetometer rate hipmon pairs with an ACC/GYRO rate: the largest of 10/20/50/100 Hz <= rate."""
    ok = [r for r in MAG_RATES_HZ if r <= rate_hz]
    return ok[-1] if ok else MAG_RATES_HZ[0]


def _params(params: dict[str, Any]) -> dict[str, Any]:
    acc_g = get_param(params, "acc_range_g", int, 8)
    gyr_dps = get_param(params, "gyr_range_dps", int, 2000)
    mag_ut = get_param(params, "mag_range_ut", float, 5000.0)
    out = {
        "mag": get_param(params, "mag", bool, False),
        "gyr_range_dps": gyr_dps,
        "acc_frame_type": get_param(params, "acc_frame_type", int, 0x81),
        "gyr_frame_type": get_param(params, "gyr_frame_type", int, 0x80),
        "mag_frame_type": get_param(params, "mag_frame_type", int, 0x80),
        "acc_factor": get_param(params, "acc_factor", float, acc_g * 1000.0 / 32768.0),
        "gyr_factor": get_param(params, "gyr_factor", float, gyr_dps / 32768.0),
        "mag_factor": get_param(params, "mag_factor", float, mag_ut / 100.0 / 32768.0),
        "max_frame_bytes": get_param(params, "max_frame_bytes", int, 232),
        "block_samples": get_param(params, "block_samples", int, 255),
        "mag_rate_hz": get_param(params, "mag_rate_hz", float, 0.0),
    }
    if out["acc_frame_type"] not in (0x80, 0x81, 0x01):
        raise CodecParamError("acc_frame_type", "hipmon decodes ACC frame types 0x80, 0x81 and 0x01")
    if out["gyr_frame_type"] not in (0x80, 0x81):
        raise CodecParamError("gyr_frame_type", "hipmon decodes GYRO frame types 0x80 and 0x81")
    if out["mag_frame_type"] not in (0x80, 0x81):
        raise CodecParamError("mag_frame_type", "hipmon decodes MAG frame types 0x80 and 0x81")
    for key in ("acc_factor", "gyr_factor", "mag_factor"):
        if not out[key] > 0:
            raise CodecParamError(key, "must be > 0")
    if not 40 <= out["max_frame_bytes"] <= 512:
        raise CodecParamError("max_frame_bytes", "must be 40..512")
    if not 1 <= out["block_samples"] <= 255:
        raise CodecParamError("block_samples", "must be 1..255 (a u8 count)")
    return out


def validate_params(params: dict[str, Any]) -> None:
    _params(params)


# --------------------------------------------------------------------------- decoder

#: Largest plausible step between two frames of one stream within a connection (ns).
MAX_FRAME_STEP_NS = 60 * 10**9


@dataclass
class _Stream:
    rate_hz: float
    factor: float
    prev_ts: int | None = None
    rejected_ts: int | None = None  # time of the last frame refused for an implausible time step
    t: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    v: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    pk: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # notification of each sample


class Decoder(_BaseDecoder):
    """Decodes PMD ACC/GYRO(/MAG) frames and pairs them into IMU samples.

    Per-sample times: :func:`frame_sample_times` (Polar's ``PmdTimeStampUtils``;
    the frame time is the last sample's; a step longer than ``LOSS_STEP`` nominal
    periods, i.e. lost frames, falls back to the nominal period).

    Pairing rule: ACC is the master clock. An ACC sample is emitted with the GYRO
    sample nearest in time if one lies within half a sample period; an ACC sample
    that the GYRO stream has passed without such a match is dropped (counted in
    ``stats.samples_lost`` and recorded in ``dropped`` with its notifications).
    MAG (when streamed) is linearly interpolated to the ACC time (held at the
    ends) once a MAG sample at or after that time arrived. Samples wait in buffers
    until their partners arrive (at most ``max_wait_s``). :meth:`finish` ends the
    stream: waiting ACC samples with a GYRO partner are emitted (MAG held at its
    last value), the others, and GYRO samples after the last ACC one, are dropped.

    One measurement alone (:meth:`select_measurement`): that stream's frames are
    decoded as they come, without pairing (the other fields of the block are NaN);
    frames of the profile's other measurements are skipped (``skipped_frames``).

    FACTOR: taken from the profile (``acc_factor`` ...) and updated from the
    sensor's START responses passed to :meth:`handle_control`.
    """

    max_wait_s = 2.0
    one_stream_per_measurement = True
    #: newest dropped-message records kept when nobody takes them (live acquisition)
    max_dropped = 4096

    def __init__(self, params: dict[str, Any] | None = None, rate_hz: float | None = None):
        super().__init__()
        p = _params(params or {})
        self.p = p
        self.rate_hz = float(rate_hz or 52.0)
        self.has_mag = p["mag"]
        self.mag_rate_hz = p["mag_rate_hz"] or float(mag_rate_for(self.rate_hz))
        self._unpaired: list[np.ndarray] = []
        self._only: int | None = None  # measurement type decoded alone (select_measurement)
        self.reset()

    def take_unpaired(self) -> np.ndarray:
        """Sensor times (ns, int64) of the ACC samples dropped by the pairing since the last
        call: received, but their GYRO (or MAG) partner never came. The acquisition reports
        them as gaps of reason ``unpaired``; they are also in ``stats.samples_lost``."""
        out = np.concatenate(self._unpaired) if self._unpaired else np.zeros(0, dtype=np.int64)
        self._unpaired = []
        return out

    def reset(self) -> None:
        p = self.p
        self.streams = {
            MEAS_ACC: _Stream(self.rate_hz, p["acc_factor"]),
            MEAS_GYRO: _Stream(self.rate_hz, p["gyr_factor"]),
        }
        if self.has_mag:
            self.streams[MEAS_MAG] = _Stream(self.mag_rate_hz, p["mag_factor"])
        self._acc_host: np.ndarray = np.zeros(0, dtype=np.int64)
        self._last_acc_t: int | None = None  # time of the last ACC sample the pairing consumed

    def select_measurement(self, measurement: str | None) -> None:
        super().select_measurement(measurement)
        self._only = {None: None, "acc": MEAS_ACC, "gyr": MEAS_GYRO, "mag": MEAS_MAG}[measurement]

    def _drop(self, packets, reason: str, samples: int | None = None) -> None:
        super()._drop(packets, reason, samples)
        if len(self.dropped) > self.max_dropped:
            del self.dropped[: len(self.dropped) - self.max_dropped]

    def is_control_message(self, data: bytes) -> bool:
        """Control-point responses start with 0xF0 (data frames with their measurement type)."""
        return data[:1] == b"\xf0"

    def handle_control(self, data: bytes) -> CpResponse | None:
        """Feed a control point indication; a START response's FACTOR updates the scaling."""
        if not data or data[0] != CP_RESPONSE:
            return None  # e.g. a sensor-initiated stop notification
        resp = parse_cp_response(data)
        f = resp.factor
        if f is not None and resp.meas in self.streams and f > 0 and math.isfinite(f):
            self.streams[resp.meas].factor = f
        return resp

    def control_problem(self, response: CpResponse | None) -> str | None:
        """A failed control-point command in Polar's words (status 6, ALREADY IN STATE, is no failure)."""
        if response is None:
            return None
        status = response.status
        if status in (0, 6):
            return None
        return (f"control point command {response.op:02x} {response.meas:02x} failed: "
                f"{STATUS_NAMES.get(status, status)}")

    def is_stream_stopped(self, data: bytes) -> bool:
        """A sensor-initiated notice (not a 0xF0 response): ONLINE_MEASUREMENT_STOPPED."""
        return bool(data) and data[0] != CP_RESPONSE

    def decode_frame(self, data: bytes) -> tuple[int, np.ndarray, np.ndarray]:
        """One data frame -> (measurement type, times ns (n,), values (n, 3) in SI). Updates frame time state."""
        frame = parse_data_frame(data)
        meas, ts, ftype, payload = frame.meas, frame.timestamp_ns, frame.frame_type, frame.payload
        if meas not in self.streams:
            raise DecodeError(f"PMD frame of measurement type {meas} ({MEAS_NAMES.get(meas, 'unknown')}) not streamed by this profile")
        st = self.streams[meas]
        check16 = True
        if meas == MEAS_ACC:
            if ftype != self.p["acc_frame_type"]:
                raise DecodeError(f"ACC frame type {ftype:#04x}, profile expects {self.p['acc_frame_type']:#04x}")
            if ftype == 0x01:
                if len(payload) % 6:
                    raise DecodeError(f"raw ACC payload of {len(payload)} bytes is not a multiple of 6")
                raw = np.frombuffer(payload, dtype="<i2").reshape(-1, 3).astype(np.int64)
                vals = raw * MG
            else:
                raw = unpack_delta_frame(payload, 3)
                vals = raw * st.factor * (MG if ftype == 0x81 else STANDARD_GRAVITY)
        elif meas == MEAS_GYRO:
            if ftype != self.p["gyr_frame_type"]:
                raise DecodeError(f"GYRO frame type {ftype:#04x}, profile expects {self.p['gyr_frame_type']:#04x}")
            if ftype == 0x81:
                dps = float32_samples(unpack_delta_frame(payload, 3, 32)) * st.factor
                limit = 1.5 * self.p["gyr_range_dps"]
                if not np.isfinite(dps).all() or np.abs(dps).max() > limit:
                    raise DecodeError(f"float GYRO frame decodes to non-finite or > {limit:g} deg/s values: corrupted frame")
                raw, check16 = dps, False
                vals = dps * DEG
            else:
                raw = unpack_delta_frame(payload, 3)
                vals = raw * st.factor * DEG
        else:
            if ftype != self.p["mag_frame_type"]:
                raise DecodeError(f"MAG frame type {ftype:#04x}, profile expects {self.p['mag_frame_type']:#04x}")
            if ftype == 0x80:
                raw = unpack_delta_frame(payload, 3)
                vals = raw * st.factor * 100.0
            else:
                raw = unpack_delta_frame(payload, 4)
                vals = raw[:, :3] * st.factor / 1000.0 * 100.0
                raw = raw[:, :3]
        if check16 and raw.size and (raw.max() > 32767 or raw.min() < -32768):
            raise DecodeError("delta frame decodes outside the 16-bit sample range: corrupted frame")
        n = raw.shape[0]
        times = self._sample_times(st, ts, n)
        return meas, times, vals

    def _clock_stream(self) -> _Stream:
        """The stream whose samples are the output: ACC, or the one measurement decoded alone."""
        return self.streams[MEAS_ACC if self._only is None else self._only]

    def _sample_times(self, st: _Stream, ts: int, n: int) -> np.ndarray:
        """Per-sample times (ns) of a frame of ``n`` samples ending at ``ts`` (:func:`frame_sample_times`).

        A frame time outside int64, not after the previous frame, or more than
        ``MAX_FRAME_STEP_NS`` after it is a corrupted frame (DecodeError); two
        consecutive frames that agree on a new time base are a real clock jump and
        restart the stream's timing, so one bad time cannot stall the stream.
        """
        if ts >= 1 << 63:
            raise DecodeError(f"frame time {ts} ns is beyond the 63-bit range: corrupted frame")
        nominal = 1e9 / st.rate_hz
        if st.prev_ts is not None and not 0 < ts - st.prev_ts <= MAX_FRAME_STEP_NS:
            rebase = st.rejected_ts is not None and 0 < ts - st.rejected_ts <= MAX_FRAME_STEP_NS
            st.rejected_ts = ts
            if not rebase:
                what = "is not after" if ts <= st.prev_ts else "jumps too far past"
                raise DecodeError(f"frame time {ts} ns {what} the previous frame's {st.prev_ts} ns")
            st.prev_ts = None  # the sensor's clock really jumped: time this frame as a first one
        st.rejected_ts = None
        if st.prev_ts is not None and (ts - st.prev_ts) / n > LOSS_STEP * nominal:
            gap = round((ts - st.prev_ts) / nominal) - n
            if gap > 0 and st is self._clock_stream():
                # the output stream's lost frames are lost samples; a lost GYRO frame shows as
                # unpaired ACC samples (counted in _pair), a lost MAG frame is interpolated over
                self.stats.samples_lost += gap
        times = frame_sample_times(st.prev_ts, ts, n, st.rate_hz)
        st.prev_ts = ts
        return times

    def _feed_one(self, data: bytes, host_ns: int | None) -> ImuBlock | None:
        if self._only is not None and len(data) > HEADER_BYTES and data[0] != self._only and data[0] in self.streams:
            self.skipped_frames += 1
            return None
        meas, times, vals = self.decode_frame(data)
        if self._only is not None:
            return self._single(times, vals, host_ns)
        self._append(meas, times, vals, host_ns, self._packet_index())
        return self._pair()

    def _single(self, times: np.ndarray, vals: np.ndarray, host_ns: int | None) -> ImuBlock:
        """A block of one measurement decoded alone (the other fields NaN)."""
        n = times.size
        nan = np.full((n, 3), np.nan)
        fields = {MEAS_ACC: "acc_sensor", MEAS_GYRO: "gyr_sensor", MEAS_MAG: "mag_sensor"}
        kw = {"acc_sensor": nan, "gyr_sensor": nan.copy(), "mag_sensor": nan.copy() if self.has_mag else None}
        kw[fields[self._only]] = vals
        host = None if host_ns is None else np.full(n, host_ns, dtype=np.int64)
        return ImuBlock(time_sensor_s=times * 1e-9, sample_index=None, host_ns=host, **kw)

    def _append(self, meas: int, times: np.ndarray, vals: np.ndarray, host_ns: int | None, packet: int) -> None:
        st = self.streams[meas]
        st.t = np.concatenate([st.t, times])
        st.v = np.concatenate([st.v, vals])
        st.pk = np.concatenate([st.pk, np.full(times.size, packet, dtype=np.int64)])
        if meas == MEAS_ACC:
            self._acc_host = np.concatenate([self._acc_host, np.full(times.size, -1 if host_ns is None else host_ns, dtype=np.int64)])

    def _pair(self, final: bool = False) -> ImuBlock | None:
        acc, gyr = self.streams[MEAS_ACC], self.streams[MEAS_GYRO]
        if acc.t.size == 0:
            return None
        tol = 0.5e9 / self.rate_hz
        ready_until = gyr.t[-1] - tol if gyr.t.size else -np.inf  # gyro has passed these acc times
        j = np.searchsorted(gyr.t, acc.t)
        jl = np.clip(j - 1, 0, max(gyr.t.size - 1, 0))
        jr = np.clip(j, 0, max(gyr.t.size - 1, 0))
        if gyr.t.size:
            dl = np.abs(acc.t - gyr.t[jl])
            dr = np.abs(gyr.t[jr] - acc.t)
            jn = np.where(dl <= dr, jl, jr)
            dn = np.minimum(dl, dr)
            matched = dn <= tol
        else:
            jn = np.zeros(acc.t.size, dtype=np.int64)
            matched = np.zeros(acc.t.size, dtype=bool)
        no_mag = self.has_mag and self.streams[MEAS_MAG].t.size == 0
        decided = matched | (acc.t < ready_until)
        if self.has_mag:
            mag = self.streams[MEAS_MAG]
            decided &= (acc.t <= mag.t[-1]) if mag.t.size else False
        # also give up on samples waiting too long for a stalled partner: older than max_wait_s
        # before the newest ACC sample and from an earlier ACC frame (one frame may span more
        # than max_wait_s when its samples compress well: its own span is no stall)
        stale = (acc.t < acc.t[-1] - self.max_wait_s * 1e9) & (acc.pk < acc.pk[-1])
        decided |= stale
        if final:
            decided[:] = True
        # keep order: only a decided prefix is released
        undecided = np.flatnonzero(~decided)
        cut = int(undecided[0]) if undecided.size else acc.t.size
        if cut == 0:
            return None
        emit = matched[:cut].copy()
        if no_mag and (final or stale[:cut].any()):
            emit &= False
        lost = int(cut - emit.sum())
        self.stats.samples_lost += lost
        if lost:
            self._unpaired.append(acc.t[:cut][~emit].copy())
            self._report_unpaired(acc.pk[:cut], matched[:cut], emit, final)
        sel = np.flatnonzero(emit)
        t_out = acc.t[sel]
        block = None
        if sel.size:
            mag_out = None
            if self.has_mag:
                mag = self.streams[MEAS_MAG]
                mag_out = np.stack([np.interp(t_out, mag.t, mag.v[:, c]) for c in range(3)], axis=1)
            host = self._acc_host[sel]
            block = ImuBlock(
                time_sensor_s=t_out * 1e-9,
                acc_sensor=acc.v[sel],
                gyr_sensor=gyr.v[jn[sel]],
                mag_sensor=mag_out,
                sample_index=None,
                host_ns=None if (host < 0).any() else host,
            )
        # drop consumed acc samples and gyro/mag samples no longer needed
        last_t = acc.t[cut - 1]
        self._last_acc_t = int(last_t)
        acc.t, acc.v, acc.pk, self._acc_host = acc.t[cut:], acc.v[cut:], acc.pk[cut:], self._acc_host[cut:]
        keep_g = gyr.t > last_t - tol
        gyr.t, gyr.v, gyr.pk = gyr.t[keep_g], gyr.v[keep_g], gyr.pk[keep_g]
        if self.has_mag:
            mag = self.streams[MEAS_MAG]
            if mag.t.size > 1:
                k = max(int(np.searchsorted(mag.t, last_t, side="right")) - 1, 0)
                mag.t, mag.v, mag.pk = mag.t[k:], mag.v[k:], mag.pk[k:]
        return block

    def _report_unpaired(self, pk: np.ndarray, matched: np.ndarray, emit: np.ndarray, final: bool) -> None:
        """Record the ACC samples the pairing dropped, by notification, in ``dropped``."""
        no_gyr = ~matched
        no_mag = matched & ~emit
        for mask, why in ((no_gyr, "ACC samples without a GYRO sample within half a period"
                           + (" (the stream ended before their GYRO frame)" if final else " (a GYRO frame lost?)")),
                          (no_mag, "ACC samples dropped: no MAG frame came to interpolate from")):
            if mask.any():
                for packet in np.unique(pk[mask]):
                    self._drop((packet,), why, int(np.count_nonzero(mask & (pk == packet))))

    def finish(self) -> ImuBlock | None:
        """End of stream: pair what is waiting (MAG held at its last value); ACC samples
        without a GYRO partner, and GYRO samples after the last ACC one, are dropped and
        recorded in ``dropped``. The decoder is reset afterwards."""
        block = None
        if self._only is None:
            acc, gyr = self.streams[MEAS_ACC], self.streams[MEAS_GYRO]
            last_acc = int(acc.t[-1]) if acc.t.size else self._last_acc_t
            block = self._pair(final=True)
            if block is not None:
                self.stats.samples += len(block)
            tol = 0.5e9 / self.rate_hz
            late = gyr.t > (last_acc + tol if last_acc is not None else -np.inf)
            for packet in np.unique(gyr.pk[late]):
                count = int(np.count_nonzero(late & (gyr.pk == packet)))
                self._drop((packet,), "GYRO samples without an ACC sample (the stream ended before their ACC frame)", count)
        self.reset()
        return block

    def feed_many(self, datas: Sequence[bytes], host_ns=None) -> ImuBlock:
        """Batch path: frames decoded one by one (each vectorised), pairing done once at the end."""
        from hipmon.codecs import host_ns_array

        hns = host_ns_array(host_ns, len(datas))
        self.last_errors = []
        if self._only is not None:
            return super().feed_many(datas, host_ns)
        pending: dict[int, tuple[list, list, list, list]] = {m: ([], [], [], []) for m in self.streams}
        for i, d in enumerate(datas):
            self.stats.packets += 1
            try:
                meas, times, vals = self.decode_frame(bytes(d))
            except DecodeError as exc:
                self.stats.errors += 1
                self.last_errors.append(f"packet {i}: {exc}")
                continue
            lists = pending[meas]
            lists[0].append(times)
            lists[1].append(vals)
            lists[2].append(np.full(times.size, -1 if hns is None else int(hns[i]), dtype=np.int64))
            lists[3].append(np.full(times.size, self._packet_index(), dtype=np.int64))
        # one concatenation per stream (appending frame by frame would be quadratic)
        for meas, (tl, vl, hl, pl) in pending.items():
            if not tl:
                continue
            st = self.streams[meas]
            st.t = np.concatenate([st.t, *tl])
            st.v = np.concatenate([st.v, *vl])
            st.pk = np.concatenate([st.pk, *pl])
            if meas == MEAS_ACC:
                self._acc_host = np.concatenate([self._acc_host, *hl])
        block = self._pair()
        if block is None:
            return empty_block(self.has_mag)
        self.stats.samples += len(block)
        return block


def float32_samples(bits: np.ndarray) -> np.ndarray:
    """Samples of a float frame (GYRO type 1): int bit patterns (summed with wrap-around, as
    the SDK adds deltas to Int32) -> float64 values of those IEEE-754 float32 numbers."""
    return (np.asarray(bits, dtype=np.int64) & 0xFFFFFFFF).astype(np.uint32).view(np.float32).astype(np.float64)


def float32_bits(values: np.ndarray) -> np.ndarray:
    """Inverse of :func:`float32_samples`: float32 bit patterns as signed int64 (int32 range)."""
    return np.asarray(values, dtype=np.float32).view(np.int32).astype(np.int64)


def _wrap32(d: np.ndarray) -> np.ndarray:
    """Differences of int32 bit patterns taken modulo 2**32 into the signed 32-bit range."""
    return ((np.asarray(d, dtype=np.int64) + (1 << 31)) % (1 << 32)) - (1 << 31)


# --------------------------------------------------------------------------- encoder


class Encoder(_BaseEncoder):
    """Produces ACC, GYRO (and MAG) compressed frames as a Verity Sense in SDK mode does.

    Samples are buffered per stream and a frame is sent when the next sample would
    no longer fit ``max_frame_bytes`` (Polar sends a frame when it fills the MTU),
    so the number of samples per frame varies with the motion. :meth:`flush`
    sends what is buffered. Frame times are ``round(time_sensor_s * 1e9)`` of the
    frame's last sample (the sensor clock is ns since 2000-01-01; times must be
    >= 0). MAG is resampled (linear) to ``mag_rate_hz`` unless it equals the rate.
    Frames of different streams are interleaved in the order they fill.
    """

    samples_per_notification = 0  # variable: a frame leaves when it fills the MTU

    def set_param(self, key: str, value: Any) -> None:
        """Override one of the codec parameters ``p`` (e.g. ``acc_factor``)."""
        if key not in self.p:
            raise KeyError(key)
        self.p[key] = value

    def __init__(self, params: dict[str, Any] | None = None, rate_hz: float | None = None):
        p = _params(params or {})
        self.p = p
        self.rate_hz = float(rate_hz or 52.0)
        self.mag = p["mag"]
        self.mag_rate_hz = p["mag_rate_hz"] or float(mag_rate_for(self.rate_hz))
        self.reset()

    def reset(self) -> None:
        self._buf: dict[int, tuple[np.ndarray, np.ndarray]] = {
            m: (np.zeros(0, dtype=np.int64), np.zeros((0, 3), dtype=np.int64))
            for m in ([MEAS_ACC, MEAS_GYRO] + ([MEAS_MAG] if self.mag else []))
        }
        self._mag_last: tuple[float, np.ndarray] | None = None
        self._mag_next_t: float | None = None

    def _counts(self, block: ImuBlock) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        p = self.p
        t_ns = np.rint(np.asarray(block.time_sensor_s, dtype=np.float64) * 1e9).astype(np.int64)
        if t_ns.size and t_ns.min() < 0:
            raise ValueError("Polar sensor times are ns since 2000-01-01 and cannot be negative")
        if p["acc_frame_type"] == 0x81:
            acc = np.asarray(block.acc_sensor) / MG / p["acc_factor"]
        elif p["acc_frame_type"] == 0x80:
            acc = np.asarray(block.acc_sensor) / STANDARD_GRAVITY / p["acc_factor"]
        else:
            acc = np.asarray(block.acc_sensor) / MG
        out = {
            MEAS_ACC: (t_ns, _q16(acc)),
            MEAS_GYRO: (t_ns, float32_bits(np.asarray(block.gyr_sensor) / DEG / p["gyr_factor"])
                        if p["gyr_frame_type"] == 0x81 else
                        _q16(np.asarray(block.gyr_sensor) / DEG / p["gyr_factor"])),
        }
        if self.mag:
            t = np.asarray(block.time_sensor_s, dtype=np.float64)
            m = np.asarray(block.mag_sensor, dtype=np.float64)
            if abs(self.mag_rate_hz - self.rate_hz) < 1e-9:
                tm, mm = t, m
            else:
                if self._mag_last is not None:
                    t = np.concatenate([[self._mag_last[0]], t])
                    m = np.concatenate([self._mag_last[1][None, :], m])
                start = t[0] if self._mag_next_t is None else self._mag_next_t
                tm = np.arange(start, t[-1] + 1e-12, 1.0 / self.mag_rate_hz)
                mm = np.stack([np.interp(tm, t, m[:, c]) for c in range(3)], axis=1)
                if tm.size:
                    self._mag_next_t = float(tm[-1] + 1.0 / self.mag_rate_hz)
                self._mag_last = (float(t[-1]), m[-1].copy())
            scale = 100.0 * p["mag_factor"] if p["mag_frame_type"] == 0x80 else 100.0 * p["mag_factor"] / 1000.0
            out[MEAS_MAG] = (np.rint(tm * 1e9).astype(np.int64), _q16(mm / scale))
        return out

    def encode(self, block: ImuBlock) -> list[bytes]:
        check_block(block, self.mag)
        if len(block) == 0:
            return []
        frames: list[tuple[int, bytes]] = []  # (time of last sample, frame)
        for meas, (t, v) in self._counts(block).items():
            bt, bv = self._buf[meas]
            bt, bv = np.concatenate([bt, t]), np.concatenate([bv, v])
            pos = 0
            while True:
                n = self._fit(meas, bv[pos: pos + _WINDOW])
                if pos + n >= bt.size:
                    break
                frames.append((int(bt[pos + n - 1]), self._frame(meas, bt[pos: pos + n], bv[pos: pos + n])))
                pos += n
            self._buf[meas] = (bt[pos:], bv[pos:])
        frames.sort(key=lambda f: f[0])
        return [f for _, f in frames]

    def flush(self) -> list[bytes]:
        """Frames for all buffered samples (as when the stream stops)."""
        frames: list[tuple[int, bytes]] = []
        for meas, (bt, bv) in self._buf.items():
            pos = 0
            while pos < bt.size:
                n = self._fit(meas, bv[pos: pos + _WINDOW])
                frames.append((int(bt[pos + n - 1]), self._frame(meas, bt[pos: pos + n], bv[pos: pos + n])))
                pos += n
            self._buf[meas] = (bt[pos:], bv[pos:])
        frames.sort(key=lambda f: f[0])
        return [f for _, f in frames]

    def _fit(self, meas: int, v: np.ndarray) -> int:
        """How many of the buffered samples the next frame holds (at least 1)."""
        if meas == MEAS_ACC and self.p["acc_frame_type"] == 0x01:
            return max(1, min(v.shape[0], (self.p["max_frame_bytes"] - HEADER_BYTES) // 6))
        ch = 4 if (meas == MEAS_MAG and self.p["mag_frame_type"] == 0x81) else 3
        ref_bytes = 4 if self._float(meas) else 2
        nmax = v.shape[0]
        if nmax <= 1:
            return nmax
        w = bits_needed(_wrap32(np.diff(v, axis=0))).max(axis=1)
        if ch == 4:
            w = np.maximum(w, 1)
        bs = self.p["block_samples"]
        # size with m deltas when split into blocks of bs (each block uses its own max width);
        # a single running max is an upper bound that is exact for one block
        wmax = np.maximum.accumulate(w)
        m = np.arange(1, nmax)
        nblocks = (m + bs - 1) // bs
        size = HEADER_BYTES + ref_bytes * ch + 2 * nblocks + (m * ch * wmax + 7 * nblocks) // 8
        fits = np.flatnonzero(size <= self.p["max_frame_bytes"])
        return 1 + (int(fits[-1]) + 1 if fits.size else 0)

    def _float(self, meas: int) -> bool:
        """True for the float32 frames (GYRO type 1)."""
        return meas == MEAS_GYRO and self.p["gyr_frame_type"] == 0x81

    def _frame(self, meas: int, t: np.ndarray, v: np.ndarray) -> bytes:
        if meas == MEAS_ACC:
            ftype = self.p["acc_frame_type"]
        elif meas == MEAS_GYRO:
            ftype = self.p["gyr_frame_type"]
        else:
            ftype = self.p["mag_frame_type"]
        if ftype == 0x01:
            payload = v.astype("<i2").tobytes()
        elif self._float(meas):
            # float32 bit patterns; deltas wrap modulo 2**32 as the SDK's Int32 sums do
            steps = _wrap32(np.diff(v, axis=0))
            unwrapped = np.concatenate([v[:1], v[:1] + np.cumsum(steps, axis=0)])
            payload = pack_delta_frame(unwrapped, 32, self.p["block_samples"])
        else:
            if meas == MEAS_MAG and ftype == 0x81:
                v = np.concatenate([v, np.full((v.shape[0], 1), 3, dtype=np.int64)], axis=1)  # status GOOD
            payload = pack_delta_frame(v, 16, self.p["block_samples"])
        return bytes([meas]) + int(t[-1]).to_bytes(8, "little") + bytes([ftype]) + payload


#: most samples one frame holds (232 bytes hold at most ~570 non-zero 1-bit deltas; all-zero deltas are capped here)
_WINDOW = 1024


def _q16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int64)
