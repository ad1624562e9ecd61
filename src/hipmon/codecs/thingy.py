"""Nordic Thingy:52 motion service, raw data characteristic (EF680406).

Sources: ``NordicSemiconductor/Nordic-Thingy52-FW`` ``include/ble_services/ble_tms.h``
(raw struct: accel, gyro, compass, each x/y/z int16; config struct) and the Thingy
motion driver's fixed-point constants ``RAW_Q_FORMAT_ACC_COMMA_BITS 10``,
``RAW_Q_FORMAT_GYR_COMMA_BITS 5``, ``RAW_Q_FORMAT_CMP_COMMA_BITS 4``.

Notification: 18 bytes, one sample, 9 x int16 LE::

    ax ay az (Q6.10, g) | gx gy gz (Q11.5, °/s) | mx my mz (Q12.4, µT)

Config characteristic (EF680401), 9 bytes LE: pedometer interval ms u16, temperature
interval ms u16, compass interval ms u16, motion processing frequency Hz u16,
wake-on-motion u8.

No timestamp and no counter: ``time_sensor_s`` is the local sample count divided
by the nominal rate, ``sample_index`` is None, and lost notifications cannot be
detected from the data (users report 50–70 notifications/s at the 200 Hz
setting, so hipmon offers 10–100 Hz).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from hipmon.codecs import (
    DEG,
    STANDARD_GRAVITY,
    DecodeError,
    PacketDecoder as _BaseDecoder,
    Encoder as _BaseEncoder,
    check_block,
    empty_block,
    group_by_length,
    quantize_int16,
)
from hipmon.types import ImuBlock

RAW_BYTES = 18
ACC_LSB = STANDARD_GRAVITY / 1024.0  # Q6.10 g
GYR_LSB = DEG / 32.0  # Q11.5 °/s
MAG_LSB = 1.0 / 16.0  # Q12.4 µT


def encode_config(motion_hz: int, pedo_ms: int = 1000, temp_ms: int = 1000, compass_ms: int = 1000, wake_on_motion: bool = False) -> bytes:
    """The 9-byte motion config write."""
    return struct.pack("<HHHHB", pedo_ms, temp_ms, compass_ms, motion_hz, 1 if wake_on_motion else 0)


def parse_config(data: bytes) -> dict[str, int]:
    data = bytes(data)
    if len(data) != 9:
        raise DecodeError(f"Thingy motion config must be 9 bytes, got {len(data)}")
    pedo, temp, compass, motion, wom = struct.unpack("<HHHHB", data)
    return {"pedo_ms": pedo, "temp_ms": temp, "compass_ms": compass, "motion_hz": motion, "wake_on_motion": wom}


def validate_params(params: dict[str, Any]) -> None:
    return None


class Decoder(_BaseDecoder):
    """Fixed 18-byte records, decoded vectorised; any other length is a DecodeError."""

    def __init__(self, params: dict[str, Any] | None = None, rate_hz: float | None = None):
        super().__init__()
        self.has_mag = bool((params or {}).get("mag", True))
        self.rate_hz = float(rate_hz or 50.0)
        self.reset()

    def reset(self) -> None:
        self._count = 0

    def _decode(self, datas: list[bytes], hns: np.ndarray | None) -> tuple[ImuBlock, list[tuple[int, str]]]:
        errors = []
        good_idx = np.zeros(0, dtype=np.int64)
        arr = np.zeros((0, RAW_BYTES), dtype=np.uint8)
        for length, (idx, a) in group_by_length(datas).items():
            if length == RAW_BYTES:
                good_idx, arr = idx, a
            else:
                errors.extend((int(i), f"Thingy raw notification must be {RAW_BYTES} bytes, got {length}") for i in idx)
        n = good_idx.size
        if n == 0:
            return empty_block(self.has_mag), sorted(errors)
        raw = np.ascontiguousarray(arr).view("<i2").astype(np.float64)
        t = (self._count + np.arange(n)) / self.rate_hz
        self._count += n
        block = ImuBlock(
            t, raw[:, 0:3] * ACC_LSB, raw[:, 3:6] * GYR_LSB,
            raw[:, 6:9] * MAG_LSB if self.has_mag else None, None,
            None if hns is None else hns[good_idx],
        )
        return block, sorted(errors)


class Encoder(_BaseEncoder):
    """One 18-byte notification per sample (Q6.10 g, Q11.5 °/s, Q12.4 µT)."""

    def __init__(self, params: dict[str, Any] | None = None, rate_hz: float | None = None):
        self.has_mag = bool((params or {}).get("mag", True))
        self.rate_hz = float(rate_hz or 50.0)

    def encode(self, block: ImuBlock) -> list[bytes]:
        n = check_block(block, self.has_mag)
        if n == 0:
            return []
        mag = block.mag_sensor if self.has_mag else np.zeros((n, 3))
        vals = np.concatenate(
            [quantize_int16(block.acc_sensor, ACC_LSB), quantize_int16(block.gyr_sensor, GYR_LSB), quantize_int16(mag, MAG_LSB)],
            axis=1,
        ).astype("<i2")
        return [r.tobytes() for r in vals]
