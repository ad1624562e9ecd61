"""hipmon open IMU profile, version 1: the packet format for do-it-yourself boards.

The full specification, written for firmware authors, is ``docs/open-profile.md``.
Summary (all multi-byte fields little-endian):

Data notification (characteristic role ``data``)::

    offset size field
    0      1    version      = 1
    1      1    flags        bit 0: magnetometer present; bits 1-7: 0
    2      2    seq          u16 running sample counter of the first sample (wraps at 65536)
    4      4    t_us         u32 sensor time of the first sample in µs (wraps at 2**32)
    8      1    n            number of samples in this notification, >= 1
    9      1    ranges       bits 0-1 accelerometer code, bits 2-4 gyroscope code, bits 5-7: 0
    10     2    dt_us        u16 sample period in µs (> 0); sample i is at t_us + i*dt_us
    12     n*k  samples      int16 per value: ax ay az gx gy gz [mx my mz] (k = 12 or 18 bytes)

Scales: accelerometer code c -> full scale ±(2 << c) g (2, 4, 8, 16 g), LSB = FS/32768;
gyroscope code c -> ±(125 << c) °/s (125, 250, 500, 1000, 2000), LSB = FS/32768;
magnetometer LSB = 0.1 µT.

Control characteristic (role ``control``, write with response, read)::

    START  01 | rate_hz u16 | acc_code u8 | gyr_code u8 | options u8 (bit 0: mag)
    STOP   02
    read -> status: version u8 | state u8 (0 stopped, 1 streaming) | rate_hz u16 |
            acc_code u8 | gyr_code u8 | options u8 | result u8 (RESULT_* below)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from hipmon.codecs import (
    DEG,
    STANDARD_GRAVITY,
    CodecParamError,
    DecodeError,
    PacketDecoder as _BaseDecoder,
    Encoder as _BaseEncoder,
    check_block,
    empty_block,
    get_param,
    group_by_length,
    quantize_int16,
)
from hipmon.types import ImuBlock

VERSION = 1
HEADER_BYTES = 12
FLAG_MAG = 0x01
SEQ_MODULUS = 1 << 16
TIME_MODULUS = 1 << 32

#: accelerometer full scale (g) by code; gyroscope full scale (°/s) by code
ACC_RANGES_G: tuple[int, ...] = (2, 4, 8, 16)
GYR_RANGES_DPS: tuple[int, ...] = (125, 250, 500, 1000, 2000)
MAG_LSB_UT = 0.1

CMD_START = 0x01
CMD_STOP = 0x02
RESULT_OK = 0
RESULT_UNKNOWN_COMMAND = 1
RESULT_BAD_LENGTH = 2
RESULT_UNSUPPORTED_RATE = 3
RESULT_UNSUPPORTED_RANGE = 4
RESULT_NO_MAGNETOMETER = 5

# LSB per code, in SI units
_ACC_LSB = np.array([g * STANDARD_GRAVITY / 32768.0 for g in ACC_RANGES_G] + [np.nan] * 4)
_GYR_LSB = np.array([d * DEG / 32768.0 for d in GYR_RANGES_DPS] + [np.nan] * 3)


def acc_code(range_g: int) -> int:
    """Accelerometer range code for a full scale in g (2, 4, 8 or 16)."""
    if range_g not in ACC_RANGES_G:
        raise ValueError(f"accelerometer range {range_g} g not in {ACC_RANGES_G}")
    return ACC_RANGES_G.index(range_g)


def gyr_code(range_dps: int) -> int:
    """Gyroscope range code for a full scale in °/s (125 ... 2000)."""
    if range_dps not in GYR_RANGES_DPS:
        raise ValueError(f"gyroscope range {range_dps} dps not in {GYR_RANGES_DPS}")
    return GYR_RANGES_DPS.index(range_dps)


# --------------------------------------------------------------------------- control


@dataclass(frozen=True)
class StartCommand:
    rate_hz: int
    acc_range_g: int
    gyr_range_dps: int
    mag: bool


@dataclass(frozen=True)
class Status:
    version: int
    streaming: bool
    rate_hz: int
    acc_range_g: int
    gyr_range_dps: int
    mag: bool
    result: int


def encode_start(rate_hz: int, acc_range_g: int, gyr_range_dps: int, mag: bool) -> bytes:
    """START command bytes (6 bytes)."""
    if not 1 <= rate_hz <= 0xFFFF:
        raise ValueError(f"rate_hz must be in 1..65535, got {rate_hz}")
    return struct.pack("<BHBBB", CMD_START, rate_hz, acc_code(acc_range_g), gyr_code(gyr_range_dps), 1 if mag else 0)


def parse_command(data: bytes) -> StartCommand | str:
    """Parse a control write: StartCommand, ``"stop"``, or raise DecodeError (with RESULT code as ``.result``)."""
    data = bytes(data)
    if not data:
        raise _cmd_error("empty control write", RESULT_BAD_LENGTH)
    if data[0] == CMD_STOP:
        if len(data) != 1:
            raise _cmd_error(f"STOP must be 1 byte, got {len(data)}", RESULT_BAD_LENGTH)
        return "stop"
    if data[0] == CMD_START:
        if len(data) != 6:
            raise _cmd_error(f"START must be 6 bytes, got {len(data)}", RESULT_BAD_LENGTH)
        _, rate, acode, gcode, options = struct.unpack("<BHBBB", data)
        if acode >= len(ACC_RANGES_G) or gcode >= len(GYR_RANGES_DPS) or options & 0xFE:
            raise _cmd_error(f"bad range codes acc={acode} gyr={gcode} options={options:#x}", RESULT_UNSUPPORTED_RANGE)
        if rate == 0:
            raise _cmd_error("rate 0 Hz", RESULT_UNSUPPORTED_RATE)
        return StartCommand(rate, ACC_RANGES_G[acode], GYR_RANGES_DPS[gcode], bool(options & 1))
    raise _cmd_error(f"unknown command byte {data[0]:#04x}", RESULT_UNKNOWN_COMMAND)


def _cmd_error(msg: str, result: int) -> DecodeError:
    err = DecodeError(msg)
    err.result = result  # type: ignore[attr-defined]
    return err


def encode_status(status: Status) -> bytes:
    """Bytes a sensor returns when the control characteristic is read (8 bytes)."""
    return struct.pack(
        "<BBHBBBB",
        status.version,
        1 if status.streaming else 0,
        status.rate_hz,
        acc_code(status.acc_range_g),
        gyr_code(status.gyr_range_dps),
        1 if status.mag else 0,
        status.result,
    )


def parse_status(data: bytes) -> Status:
    """Parse the control characteristic's read value."""
    data = bytes(data)
    if len(data) != 8:
        raise DecodeError(f"status must be 8 bytes, got {len(data)}")
    version, state, rate, acode, gcode, options, result = struct.unpack("<BBHBBBB", data)
    if acode >= len(ACC_RANGES_G) or gcode >= len(GYR_RANGES_DPS):
        raise DecodeError(f"status has bad range codes acc={acode} gyr={gcode}")
    return Status(version, bool(state), rate, ACC_RANGES_G[acode], GYR_RANGES_DPS[gcode], bool(options & 1), result)


# --------------------------------------------------------------------------- parameters


def _params(params: dict[str, Any]) -> dict[str, Any]:
    out = {
        "acc_range_g": get_param(params, "acc_range_g", int, 16),
        "gyr_range_dps": get_param(params, "gyr_range_dps", int, 2000),
        "mag": get_param(params, "mag", bool, False),
        "mtu": get_param(params, "mtu", int, 247),
    }
    if out["acc_range_g"] not in ACC_RANGES_G:
        raise CodecParamError("acc_range_g", f"must be one of {ACC_RANGES_G}")
    if out["gyr_range_dps"] not in GYR_RANGES_DPS:
        raise CodecParamError("gyr_range_dps", f"must be one of {GYR_RANGES_DPS}")
    if not 23 <= out["mtu"] <= 517:
        raise CodecParamError("mtu", "must be in 23..517 (ATT MTU)")
    return out


def validate_params(params: dict[str, Any]) -> None:
    """Raise CodecParamError naming the bad field of a profile's [codec_params]."""
    _params(params)


# --------------------------------------------------------------------------- decoder


class Decoder(_BaseDecoder):
    """Stateful decoder of open-profile data notifications (one per connection).

    ``sample_index`` is the unwrapped sample counter (a jump means lost samples:
    ``stats.samples_lost``); ``time_sensor_s`` the unwrapped µs clock in seconds.
    A packet whose counter overlaps samples already delivered (duplicate or
    reordered) is rejected with DecodeError. Wrap ambiguity of the 16-bit counter
    after long losses is resolved with the 32-bit time.
    """

    def __init__(self, params: dict[str, Any] | None = None, rate_hz: float | None = None):
        super().__init__()
        p = _params(params or {})
        self.has_mag = p["mag"]
        self.rate_hz = rate_hz
        self.reset()

    def reset(self) -> None:
        self._last_seq: int | None = None  # unwrapped seq of the last packet's first sample
        self._last_n = 0
        self._last_t: int | None = None  # unwrapped t_us of the last packet

    # The vectorised core: all packets of one length are parsed at once.
    def _decode(self, datas: list[bytes], hns: np.ndarray | None) -> tuple[ImuBlock, list[tuple[int, str]]]:
        P = len(datas)
        errors: dict[int, str] = {}
        # per-packet header fields (filled for structurally valid packets)
        ok = np.zeros(P, dtype=bool)
        seq = np.zeros(P, dtype=np.int64)
        t_us = np.zeros(P, dtype=np.int64)
        nsamp = np.zeros(P, dtype=np.int64)
        dt_us = np.zeros(P, dtype=np.int64)
        parts = []  # (indices, acc (p,n,3), gyr, mag|None)
        for length, (idx, arr) in group_by_length(datas).items():
            if length < HEADER_BYTES:
                for i in idx:
                    errors[int(i)] = f"open profile packet is {length} bytes, shorter than the {HEADER_BYTES}-byte header"
                continue
            version = arr[:, 0]
            flags = arr[:, 1]
            n = arr[:, 8].astype(np.int64)
            ranges = arr[:, 9]
            stride = np.where(flags & FLAG_MAG, 18, 12)
            dt = arr[:, 10].astype(np.int64) | (arr[:, 11].astype(np.int64) << 8)
            good = np.ones(idx.size, dtype=bool)

            def reject(mask: np.ndarray, why) -> None:
                nonlocal good
                for j in np.flatnonzero(mask & good):
                    errors[int(idx[j])] = why(j)
                good &= ~mask

            reject(version != VERSION, lambda j: f"version byte {version[j]} (expected {VERSION})")
            reject((flags & 0xFE) != 0, lambda j: f"reserved flag bits set in {flags[j]:#04x}")
            reject((ranges & 0xE0) != 0, lambda j: f"reserved range bits set in {ranges[j]:#04x}")
            reject((ranges & 0x03) >= len(ACC_RANGES_G), lambda j: "bad accelerometer range code")
            reject(((ranges >> 2) & 0x07) >= len(GYR_RANGES_DPS), lambda j: f"gyroscope range code {(ranges[j] >> 2) & 7} is not 0..4")
            reject(n == 0, lambda j: "sample count is 0")
            reject(HEADER_BYTES + n * stride != length,
                   lambda j: f"length {length} does not match {n[j]} samples of {stride[j]} bytes + {HEADER_BYTES}-byte header")
            reject(dt == 0, lambda j: "sample period dt_us is 0")
            if self.has_mag:
                reject((flags & FLAG_MAG) == 0, lambda j: "profile expects magnetometer data but the packet has none")
            if not good.any():
                continue
            g_idx = idx[good]
            garr = arr[good]
            ok[g_idx] = True
            seq[g_idx] = garr[:, 2].astype(np.int64) | (garr[:, 3].astype(np.int64) << 8)
            t_us[g_idx] = np.ascontiguousarray(garr[:, 4:8]).view("<u4")[:, 0].astype(np.int64)
            nsamp[g_idx] = n[good]
            dt_us[g_idx] = dt[good]
            gflags = flags[good]
            for has_mag in (False, True):
                sel = ((gflags & FLAG_MAG) != 0) == has_mag
                if not sel.any():
                    continue
                k = 9 if has_mag else 6
                nn = (length - HEADER_BYTES) // (2 * k)
                raw = np.ascontiguousarray(garr[sel, HEADER_BYTES:]).view("<i2").reshape(-1, nn, k).astype(np.float64)
                r = ranges[good][sel]
                acc = raw[:, :, 0:3] * _ACC_LSB[r & 3][:, None, None]
                gyr = raw[:, :, 3:6] * _GYR_LSB[(r >> 2) & 7][:, None, None]
                mag = raw[:, :, 6:9] * MAG_LSB_UT if has_mag else None
                parts.append((g_idx[sel], acc, gyr, mag))

        # sequence and time continuity, in packet order, over the valid packets
        while True:
            order = np.flatnonzero(ok)
            if order.size == 0:
                break
            seq_u, t_u, steps, prev_n = self._unwrap(seq[order], t_us[order], nsamp[order], dt_us[order])
            overlap = steps < prev_n
            if self._last_seq is None:
                overlap[0] = False
            if not overlap.any():
                break
            for j in np.flatnonzero(overlap):
                i = int(order[j])
                errors[i] = (f"sample counter {seq[i]} repeats samples already received "
                             f"(expected {(int(seq_u[j] - steps[j] + prev_n[j])) % SEQ_MODULUS}); duplicate or reordered packet")
                ok[i] = False

        err_list = sorted(errors.items())
        if order.size == 0:
            return empty_block(self.has_mag, with_index=True), err_list
        lost = np.maximum(steps - prev_n, 0)
        if self._last_seq is None:
            lost[0] = 0
        self.stats.samples_lost += int(lost.sum())
        # remember state
        last = order[-1]
        self._last_seq = int(seq_u[-1])
        self._last_t = int(t_u[-1])
        self._last_n = int(nsamp[last])

        # assemble samples in packet order
        pos = np.full(P, -1, dtype=np.int64)
        pos[order] = np.arange(order.size)
        acc_l, gyr_l, mag_l, pk_l = [], [], [], []
        for g_idx, acc, gyr, mag in parts:
            keep = ok[g_idx]
            if not keep.any():
                continue
            nn = acc.shape[1]
            pk_l.append(np.repeat(pos[g_idx[keep]], nn))
            acc_l.append(acc[keep].reshape(-1, 3))
            gyr_l.append(gyr[keep].reshape(-1, 3))
            mag_l.append(None if mag is None else mag[keep].reshape(-1, 3))
        pk = np.concatenate(pk_l)
        srt = np.argsort(pk, kind="stable")
        pk = pk[srt]
        acc = np.concatenate(acc_l)[srt]
        gyr = np.concatenate(gyr_l)[srt]
        if self.has_mag:
            mag = np.concatenate(mag_l)[srt]
        else:
            mag = None
        counts = nsamp[order]
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        within = np.arange(pk.size) - np.repeat(first, counts)
        sample_index = seq_u[pk] + within
        time_s = (t_u[pk] + within * dt_us[order][pk]) * 1e-6
        host = None if hns is None else hns[order][pk]
        return ImuBlock(time_s, acc, gyr, mag, sample_index, host), err_list

    def _unwrap(self, seq: np.ndarray, t: np.ndarray, n: np.ndarray, dt: np.ndarray):
        """Unwrap counter and time of valid packets; returns (seq_u, t_u, seq steps, previous n)."""
        P = seq.size
        prev_seq = np.empty(P, dtype=np.int64)
        prev_t = np.empty(P, dtype=np.int64)
        prev_n = np.empty(P, dtype=np.int64)
        prev_seq[1:] = seq[:-1]
        prev_t[1:] = t[:-1]
        prev_n[1:] = n[:-1]
        if self._last_seq is None:
            prev_seq[0], prev_t[0], prev_n[0] = seq[0], t[0], 0
            base_seq, base_t = int(seq[0]), int(t[0])
        else:
            prev_seq[0] = self._last_seq % SEQ_MODULUS
            prev_t[0] = self._last_t % TIME_MODULUS
            prev_n[0] = self._last_n
            base_seq, base_t = self._last_seq, self._last_t
        tstep = (t - prev_t) % TIME_MODULUS
        tstep = np.where(tstep > TIME_MODULUS // 2, tstep - TIME_MODULUS, tstep)
        sstep = (seq - prev_seq) % SEQ_MODULUS
        # how many 65536-sample turns fit the elapsed time (long losses)
        est = np.rint(tstep / dt)
        turns = np.where(tstep > 0, np.maximum(np.rint((est - sstep) / SEQ_MODULUS), 0), 0)
        sstep = sstep + turns.astype(np.int64) * SEQ_MODULUS
        # time did not advance: a large forward counter step is really a step back
        sstep = np.where((tstep <= 0) & (sstep > SEQ_MODULUS // 2), sstep - SEQ_MODULUS, sstep)
        return base_seq + np.cumsum(sstep), base_t + np.cumsum(tstep), sstep, prev_n


# --------------------------------------------------------------------------- encoder


class Encoder(_BaseEncoder):
    """Encode ImuBlocks into open-profile notifications, as the reference firmware does.

    Samples per notification: as many as fit the ATT payload (``mtu - 3``), at most
    255. ``seq`` comes from ``block.sample_index`` when given, else continues a
    running counter; ``t_us`` is ``round(time_sensor_s * 1e6) mod 2**32`` of each
    packet's first sample; ``dt_us`` is ``round(1e6 / rate_hz)``.
    """

    def __init__(self, params: dict[str, Any] | None = None, rate_hz: float | None = None):
        p = _params(params or {})
        self.rate_hz = float(rate_hz or 104.0)
        self.mag = p["mag"]
        self.acc_range_g = p["acc_range_g"]
        self.gyr_range_dps = p["gyr_range_dps"]
        stride = 18 if self.mag else 12
        self.samples_per_packet = min(255, (p["mtu"] - 3 - HEADER_BYTES) // stride)
        if self.samples_per_packet < 1:
            raise CodecParamError("mtu", f"ATT MTU {p['mtu']} leaves no room for one sample")
        self.samples_per_notification = self.samples_per_packet
        self.reset()

    def reset(self) -> None:
        self._seq = 0

    def encode(self, block: ImuBlock) -> list[bytes]:
        n = check_block(block, self.mag)
        if n == 0:
            return []
        acode, gcode = acc_code(self.acc_range_g), gyr_code(self.gyr_range_dps)
        acc = quantize_int16(block.acc_sensor, _ACC_LSB[acode])
        gyr = quantize_int16(block.gyr_sensor, _GYR_LSB[gcode])
        cols = [acc, gyr]
        if self.mag:
            cols.append(quantize_int16(block.mag_sensor, MAG_LSB_UT))
        samples = np.concatenate(cols, axis=1).astype("<i2")
        if block.sample_index is not None:
            index = np.asarray(block.sample_index, dtype=np.int64)
        else:
            index = self._seq + np.arange(n, dtype=np.int64)
        self._seq = int(index[-1]) + 1
        t_us = np.rint(np.asarray(block.time_sensor_s, dtype=np.float64) * 1e6).astype(np.int64)
        dt_us = int(round(1e6 / self.rate_hz))
        ranges = acode | (gcode << 2)
        flags = FLAG_MAG if self.mag else 0
        out = []
        for start in range(0, n, self.samples_per_packet):
            stop = min(n, start + self.samples_per_packet)
            header = struct.pack(
                "<BBHIBBH", VERSION, flags, int(index[start]) % SEQ_MODULUS,
                int(t_us[start]) % TIME_MODULUS, stop - start, ranges, dt_us,
            )
            out.append(header + samples[start:stop].tobytes())
        return out
