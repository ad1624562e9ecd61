"""WitMotion WT901BLE / BWT901BLECL family: the ``55 61`` stream.

Sources: the WitMotion WT901BLECL manual (BLE 5.0 data protocol pages) and the
vendor's Python sample ``device_model.py`` (as summarised in
``shared/reference/ble-protocols.md`` section 1c).

Notification (20 bytes, the default output)::

    55 61 | ax ay az | gx gy gz | roll pitch yaw      (9 x int16 LE)

acc = raw/32768 x 16 g, gyro = raw/32768 x 2000 °/s, angles = raw/32768 x 180°.
``55 71`` frames (20 bytes) answer register reads (``FF AA 27 reg 00``) and carry
no streamed samples; they are recognised and skipped.

There is no timestamp, sequence counter or checksum. The stream is a byte
stream: a frame can be split across notifications or several frames merged into
one; the decoder resynchronises on ``55 61``/``55 71`` and keeps an incomplete
tail for the next notification. ``time_sensor_s`` is the local sample count
divided by the nominal rate (from the decoder's creation or ``reset``), and
``sample_index`` is None: lost notifications cannot be detected from the data.

Register writes: unlock ``FF AA 69 88 B5`` (valid 10 s), ``FF AA reg lo hi``,
save ``FF AA 00 00 00``. Output rate register RRATE = 0x03: 0x06 = 10 Hz,
0x07 = 20 Hz, 0x08 = 50 Hz, 0x09 = 100 Hz.
"""

from __future__ import annotations

import struct
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
    host_ns_array,
    quantize_int16,
)
from hipmon.types import ImuBlock

FRAME_BYTES = 20
HEAD = 0x55
KIND_IMU = 0x61
KIND_REGISTER = 0x71
ACC_LSB = 16.0 * STANDARD_GRAVITY / 32768.0
GYR_LSB = 2000.0 * DEG / 32768.0
ANGLE_LSB_DEG = 180.0 / 32768.0
REG_RRATE = 0x03


def unlock() -> bytes:
    return bytes([0xFF, 0xAA, 0x69, 0x88, 0xB5])


def write_register(reg: int, value: int) -> bytes:
    return bytes([0xFF, 0xAA, reg]) + struct.pack("<H", value)


def save() -> bytes:
    return bytes([0xFF, 0xAA, 0x00, 0x00, 0x00])


def read_register(reg: int) -> bytes:
    return bytes([0xFF, 0xAA, 0x27, reg, 0x00])


def parse_write(data: bytes) -> tuple[int, int]:
    """Parse a ``FF AA reg lo hi`` write -> (reg, value)."""
    data = bytes(data)
    if len(data) != 5 or data[0] != 0xFF or data[1] != 0xAA:
        raise DecodeError("WitMotion command must be 5 bytes starting FF AA")
    return data[2], struct.unpack("<H", data[3:5])[0]


def _params(params: dict[str, Any]) -> dict[str, Any]:
    out = {"acc_range_g": get_param(params, "acc_range_g", int, 16),
           "gyr_range_dps": get_param(params, "gyr_range_dps", int, 2000)}
    if out["acc_range_g"] != 16:
        raise CodecParamError("acc_range_g", "the 55 61 stream is scaled to ±16 g")
    if out["gyr_range_dps"] != 2000:
        raise CodecParamError("gyr_range_dps", "the 55 61 stream is scaled to ±2000 °/s")
    if params.get("mag", False):
        raise CodecParamError("mag", "the 55 61 stream carries no magnetometer")
    return out


def validate_params(params: dict[str, Any]) -> None:
    _params(params)


def find_frames(buf: np.ndarray) -> tuple[np.ndarray, int]:
    """Frame starts (greedy, non-overlapping) in a byte array and where the unconsumed tail starts.

    Returns (starts of complete frames (F,), keep_from) — bytes from ``keep_from``
    on may begin a frame and must wait for the next notification.
    """
    L = buf.size
    if L < 2:
        return np.zeros(0, dtype=np.int64), (L - 1 if L == 1 and buf[0] == HEAD else L)
    cand = np.flatnonzero((buf[:-1] == HEAD) & ((buf[1:] == KIND_IMU) | (buf[1:] == KIND_REGISTER)))
    if cand.size > 1 and (np.diff(cand) < FRAME_BYTES).any():
        # a 55 61 pattern inside a frame's data: resolve greedily (rare)
        chosen, nxt = [], -1
        for c in cand.tolist():
            if c >= nxt:
                chosen.append(c)
                nxt = c + FRAME_BYTES
        cand = np.array(chosen, dtype=np.int64)
    complete = cand[cand + FRAME_BYTES <= L]
    incomplete = cand[cand + FRAME_BYTES > L]
    if incomplete.size:
        keep_from = int(incomplete[0])
    elif buf[-1] == HEAD and (complete.size == 0 or complete[-1] + FRAME_BYTES <= L - 1):
        keep_from = L - 1
    else:
        keep_from = L
    return complete.astype(np.int64), keep_from


class Decoder(_BaseDecoder):
    """Stream decoder with resynchronisation (see the module docstring for the time rule)."""

    def __init__(self, params: dict[str, Any] | None = None, rate_hz: float | None = None):
        super().__init__()
        _params(params or {})
        self.rate_hz = float(rate_hz or 10.0)
        self.reset()

    def reset(self) -> None:
        self._tail = b""
        self._count = 0

    def _decode(self, chunks: list[bytes], hns: np.ndarray | None) -> tuple[ImuBlock, int]:
        """Decode the tail + chunks; returns the block and the number of bytes skipped."""
        data = self._tail + b"".join(chunks)
        buf = np.frombuffer(data, dtype=np.uint8)
        starts, keep_from = find_frames(buf)
        skipped = keep_from - FRAME_BYTES * starts.size
        self._tail = data[keep_from:]
        imu = starts[buf[starts + 1] == KIND_IMU] if starts.size else starts
        if imu.size == 0:
            return empty_block(False), skipped
        frames = buf[imu[:, None] + np.arange(2, FRAME_BYTES)]
        raw = np.ascontiguousarray(frames).view("<i2").astype(np.float64)
        n = imu.size
        t = (self._count + np.arange(n)) / self.rate_hz
        self._count += n
        host = None
        if hns is not None:
            # each frame completes in the notification holding its last byte
            ends = np.cumsum([len(c) for c in chunks]) + len(data) - sum(len(c) for c in chunks)
            host = hns[np.searchsorted(ends, imu + FRAME_BYTES - 1, side="right")]
        return ImuBlock(t, raw[:, 0:3] * ACC_LSB, raw[:, 3:6] * GYR_LSB, None, None, host), skipped

    def _feed_one(self, data: bytes, host_ns: int | None) -> ImuBlock | None:
        block, skipped = self._decode([data], None if host_ns is None else np.array([host_ns], dtype=np.int64))
        if skipped:
            self.stats.bytes_skipped += skipped
            if len(block) == 0:
                raise DecodeError(f"{skipped} bytes outside 55 61 frames discarded (resynchronising)")
            self.stats.errors += 1
            self.last_errors = [f"{skipped} bytes outside 55 61 frames discarded"]
        return block

    def feed_many(self, datas: Sequence[bytes], host_ns=None) -> ImuBlock:
        chunks = [bytes(d) for d in datas]
        hns = host_ns_array(host_ns, len(chunks))
        self.stats.packets += len(chunks)
        block, skipped = self._decode(chunks, hns)
        self.last_errors = [f"{skipped} bytes outside 55 61 frames discarded"] if skipped else []
        if skipped:
            self.stats.bytes_skipped += skipped
            self.stats.errors += 1
        self.stats.samples += len(block)
        return block


class Encoder(_BaseEncoder):
    """20-byte ``55 61`` notifications, one per sample.

    The angle fields carry roll and pitch from the accelerometer's tilt and yaw 0
    (the module's fusion output is not simulated); hipmon's decoder ignores them.
    """

    def __init__(self, params: dict[str, Any] | None = None, rate_hz: float | None = None):
        _params(params or {})
        self.rate_hz = float(rate_hz or 10.0)

    def encode(self, block: ImuBlock) -> list[bytes]:
        n = check_block(block, False)
        if n == 0:
            return []
        acc = np.asarray(block.acc_sensor, dtype=np.float64)
        roll = np.degrees(np.arctan2(acc[:, 1], acc[:, 2]))
        pitch = np.degrees(np.arctan2(-acc[:, 0], np.hypot(acc[:, 1], acc[:, 2])))
        angles = np.stack([roll, pitch, np.zeros(n)], axis=1)
        vals = np.concatenate(
            [quantize_int16(acc, ACC_LSB), quantize_int16(block.gyr_sensor, GYR_LSB), quantize_int16(angles, ANGLE_LSB_DEG)],
            axis=1,
        ).astype("<i2")
        head = np.tile(np.array([HEAD, KIND_IMU], dtype=np.uint8), (n, 1))
        rows = np.concatenate([head, vals.view(np.uint8).reshape(n, 18)], axis=1)
        return [r.tobytes() for r in rows]
