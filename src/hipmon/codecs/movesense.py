"""Movesense GATT SensorData Protocol (GSP v1, ``gatt_sensordata_app`` firmware).

Sources (checked): Movesense "GATT SensorData Protocol specification" (GD-77,
http://movesense.com/docs/esw/gatt_sensordata_protocol) and the firmware
``samples/gatt_sensordata_app/GATTSensorDataClient.cpp`` of the Movesense
device library (command/response enums, ``HELLO`` reply, 507 reply bytes
``01 FB``, DATA_PART2/3 continuation).

Commands (write, client -> sensor): ``cmd u8 | client_ref u8 (non-zero) | data``;
HELLO=0, SUBSCRIBE=1 (data = Whiteboard path, ASCII, no terminator, e.g.
``/Meas/IMU9/104``), UNSUBSCRIBE=2, FETCH_LOG=3.

Notifications (sensor -> client): ``type u8 | client_ref u8 | body``; type 1
COMMAND_RESULT (body: 2-byte HTTP-like status, big-endian as the firmware's
``0x01 0xFB`` = 507 shows; HELLO answers with ASCII ``Hello``), 2 DATA, 3
DATA_PART2, 4 DATA_PART3. A message longer than one notification continues in
PART2 then PART3, each with its own 2-byte header: the message is
``part1 + part2[2:] + part3[2:]``.

IMU body (SBEM of ``/Meas/IMU6`` or ``/Meas/IMU9``): ``timestamp u32 LE (ms, sensor
clock; the time of the first sample)`` then ``n`` acc vectors, ``n`` gyro
vectors (and ``n`` magnetometer vectors for IMU9), each vector 3 × float32 LE;
units m/s², °/s, µT.

Assumptions hipmon makes (not confirmed on a device, see docs/profiles.md):
the first notification of a message is at most ``max_notification_bytes``
(155) long and continuations carry 153 body bytes; the sensor batches
``rate/13`` samples per message (8 at 104 Hz) but never more than three parts
hold.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

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
)
from hipmon.jit import njit
from hipmon.types import ImuBlock

CMD_HELLO = 0
CMD_SUBSCRIBE = 1
CMD_UNSUBSCRIBE = 2
CMD_FETCH_LOG = 3
COMMAND_NAMES = {CMD_HELLO: "HELLO", CMD_SUBSCRIBE: "SUBSCRIBE", CMD_UNSUBSCRIBE: "UNSUBSCRIBE", CMD_FETCH_LOG: "FETCH_LOG"}

RESP_COMMAND_RESULT = 1
RESP_DATA = 2
RESP_DATA_PART2 = 3
RESP_DATA_PART3 = 4

TIME_MODULUS = 1 << 32  # ms
#: plausibility limits (beyond the largest full scale of the Movesense IMU) used to
#: reject corrupted floats: 16 g, 2000 °/s, 49 gauss (4900 µT), each x 1.5
_LIMITS = (1.5 * 16 * STANDARD_GRAVITY, 1.5 * 2000.0, 1.5 * 4900.0)
RESOURCES = {"IMU6": 2, "IMU9": 3}


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Command:
    cmd: int
    ref: int
    payload: bytes

    @property
    def path(self) -> str:
        """The Whiteboard path of a SUBSCRIBE command."""
        return self.payload.decode("ascii", errors="replace")


def encode_command(cmd: int, ref: int, payload: bytes | str = b"") -> bytes:
    """Bytes of a GSP command; ``payload`` str is encoded as ASCII (a SUBSCRIBE path)."""
    if cmd not in COMMAND_NAMES:
        raise ValueError(f"unknown GSP command {cmd}")
    if not 1 <= ref <= 255:
        raise ValueError(f"client reference must be 1..255 (non-zero), got {ref}")
    if isinstance(payload, str):
        payload = payload.encode("ascii")
    if len(payload) > 158:
        raise ValueError(f"command payload of {len(payload)} bytes exceeds the firmware's 160-byte buffer")
    return bytes([cmd, ref]) + bytes(payload)


def encode_subscribe(ref: int, resource: str, rate_hz: float) -> bytes:
    """SUBSCRIBE ``/Meas/{resource}/{rate}``, e.g. ``01 63 "/Meas/IMU9/104"``."""
    return encode_command(CMD_SUBSCRIBE, ref, f"/Meas/{resource}/{int(rate_hz)}")


def parse_command(data: bytes) -> Command:
    """Parse a GSP command write (what the sensor receives)."""
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError(f"GSP command needs at least 2 bytes (cmd, ref), got {len(data)}")
    cmd, ref = data[0], data[1]
    if cmd not in COMMAND_NAMES:
        raise DecodeError(f"unknown GSP command {cmd}")
    if ref == 0:
        raise DecodeError("GSP client reference must be non-zero")
    payload = data[2:]
    if cmd == CMD_SUBSCRIBE:
        if not payload:
            raise DecodeError("SUBSCRIBE without a resource path")
        try:
            payload.decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError("SUBSCRIBE path is not ASCII") from None
    elif cmd in (CMD_HELLO, CMD_UNSUBSCRIBE) and payload:
        raise DecodeError(f"{COMMAND_NAMES[cmd]} takes no data, got {len(payload)} bytes")
    elif cmd == CMD_FETCH_LOG and len(payload) != 4:
        raise DecodeError(f"FETCH_LOG needs a u32 log id, got {len(payload)} bytes")
    return Command(cmd, ref, payload)


def encode_response(ref: int, status: int) -> bytes:
    """COMMAND_RESULT notification: ``01 ref status(u16 big-endian)``; 507 -> ``01 ref 01 FB``."""
    return bytes([RESP_COMMAND_RESULT, ref]) + struct.pack(">H", status)


def encode_hello_response(ref: int) -> bytes:
    """The firmware's HELLO answer: ``01 ref 'H' 'e' 'l' 'l' 'o'``."""
    return bytes([RESP_COMMAND_RESULT, ref]) + b"Hello"


def parse_response(data: bytes) -> tuple[int, int | bytes]:
    """Parse a COMMAND_RESULT notification -> (ref, status int) or (ref, payload bytes) for HELLO."""
    data = bytes(data)
    if len(data) < 3 or data[0] != RESP_COMMAND_RESULT:
        raise DecodeError("not a GSP COMMAND_RESULT notification")
    if len(data) == 4:
        return data[1], struct.unpack(">H", data[2:4])[0]
    return data[1], data[2:]


# --------------------------------------------------------------------------- parameters


def _params(params: dict[str, Any], rate_hz: float | None) -> dict[str, Any]:
    default_res = "IMU9" if params.get("mag", False) else "IMU6"
    out = {
        "resource": get_param(params, "resource", str, default_res),
        "client_ref": get_param(params, "client_ref", int, 99),
        "max_notification_bytes": get_param(params, "max_notification_bytes", int, 155),
        "samples_per_message": get_param(params, "samples_per_message", int, 0),
    }
    if out["resource"] not in RESOURCES:
        raise CodecParamError("resource", f"must be one of {sorted(RESOURCES)}, got {out['resource']!r}")
    if params.get("mag", False) and out["resource"] != "IMU9":
        raise CodecParamError("resource", "channels include mag: the resource must be IMU9")
    if not 1 <= out["client_ref"] <= 255:
        raise CodecParamError("client_ref", "must be 1..255")
    if not 20 <= out["max_notification_bytes"] <= 244:
        raise CodecParamError("max_notification_bytes", "must be 20..244")
    if out["samples_per_message"] < 0:
        raise CodecParamError("samples_per_message", "must be >= 0 (0: rate/13)")
    k = RESOURCES[out["resource"]]
    stride = 12 * k
    m = out["max_notification_bytes"]
    capacity = m + 2 * (m - 2) - 2 - 4  # body bytes that three parts hold
    out["max_samples"] = capacity // stride
    if out["max_samples"] < 1:
        raise CodecParamError("max_notification_bytes", "too small for one sample in three parts")
    if out["samples_per_message"] > out["max_samples"]:
        raise CodecParamError("samples_per_message", f"{out['samples_per_message']} samples do not fit three parts (max {out['max_samples']})")
    out["vectors"] = k
    return out


def validate_params(params: dict[str, Any]) -> None:
    _params(params, None)


def samples_per_message(params: dict[str, Any], rate_hz: float) -> int:
    """Samples the firmware batches in one message at ``rate_hz``: rate/13 (8 at 104 Hz), capped to three parts."""
    p = _params(params, rate_hz)
    if p["samples_per_message"]:
        return p["samples_per_message"]
    return int(max(1, min(p["max_samples"], round(rate_hz / 13.0))))


# --------------------------------------------------------------------------- decoder


class Decoder(_BaseDecoder):
    """Reassembles DATA/DATA_PART2/DATA_PART3 and decodes IMU6/IMU9 messages.

    A message is complete when its body holds the expected sample count for the
    rate, or when a part shorter than ``max_notification_bytes`` ends it.
    Per-sample times: ``timestamp + i·Δ`` where Δ is measured from the previous
    message's timestamp (``(ts - ts_prev) / n_prev``) when that lies within
    0.8–1.25 of the nominal period, else the nominal ``1/rate`` (the IMU runs on
    its own RC clock, ±10 % per Movesense). ``sample_index`` is None (no counter);
    ``stats.samples_lost`` counts samples implied by timestamp gaps.
    COMMAND_RESULT notifications return None and are kept in ``last_response``.
    """

    def __init__(self, params: dict[str, Any] | None = None, rate_hz: float | None = None):
        super().__init__()
        params = params or {}
        self.rate_hz = float(rate_hz or 104.0)
        p = _params(params, self.rate_hz)
        self.k = p["vectors"]
        self.has_mag = self.k == 3
        self.ref = p["client_ref"]
        self.max_bytes = p["max_notification_bytes"]
        self.expected_n = samples_per_message(params, self.rate_hz)
        self.stride = 12 * self.k
        self.last_response: tuple[int, int | bytes] | None = None
        self.reset()

    def reset(self) -> None:
        self._pending: bytearray | None = None
        self._pending_packets: list[int] = []  # notifications (decoder packet indices) of the pending message
        self._next_part = RESP_DATA_PART2
        self._pending_host: int | None = None
        self._prev_ts: int | None = None  # unwrapped ms
        self._prev_n = 0

    # -- reassembly (one notification)
    def _reassemble(self, data: bytes, host_ns: int | None) -> list[tuple[bytes, int | None]]:
        """Returns the messages this notification completes (raises DecodeError)."""
        if len(data) < 2:
            raise DecodeError(f"GSP notification of {len(data)} bytes is shorter than its 2-byte header")
        kind, ref = data[0], data[1]
        if kind == RESP_COMMAND_RESULT:
            self.last_response = parse_response(data)
            return []
        if kind not in (RESP_DATA, RESP_DATA_PART2, RESP_DATA_PART3):
            raise DecodeError(f"unknown GSP notification type {kind}")
        if ref != self.ref:
            raise DecodeError(f"data for client reference {ref}, this stream subscribed with {self.ref}")
        done: list[tuple[bytes, int | None]] = []
        here = self._packet_index()
        if kind == RESP_DATA:
            if self._pending is not None:
                # previous message never completed: keep it if its length is whole, else it is lost
                if self._body_ok(len(self._pending) - 2):
                    done.append((bytes(self._pending), self._pending_host))
                else:
                    self.stats.errors += 1
                    why = ("incomplete GSP message dropped: a new DATA notification came before its "
                           f"DATA_PART{self._next_part - 1}" + self._shape_hint(len(self._pending) - 2))
                    self.last_errors.append(why)
                    self._drop(self._pending_packets, why)
            self._pending = bytearray(data)
            self._pending_packets = [here]
            self._next_part = RESP_DATA_PART2
        else:
            if self._pending is None:
                raise DecodeError(f"DATA_PART{kind - 1} without a preceding DATA notification (first part lost)")
            if kind != self._next_part:
                self._pending = None
                self._drop(self._pending_packets, f"incomplete GSP message dropped: its DATA_PART{self._next_part - 1} "
                           f"was lost (DATA_PART{kind - 1} came instead)")
                raise DecodeError(f"DATA_PART{kind - 1} where DATA_PART{self._next_part - 1} was expected (a part was lost)")
            self._pending += data[2:]
            self._pending_packets.append(here)
            self._next_part += 1
        self._pending_host = host_ns
        body_len = len(self._pending) - 2
        expected = 4 + self.expected_n * self.stride
        if body_len == expected or len(data) < self.max_bytes or self._next_part > RESP_DATA_PART3:
            msg = bytes(self._pending)
            self._pending = None
            if not self._body_ok(body_len):
                if len(self._pending_packets) > 1:
                    self._drop(self._pending_packets[:-1], "first part(s) of a GSP message dropped: its last part makes it malformed "
                               f"(body of {body_len} bytes)")
                raise DecodeError(
                    f"GSP message body of {body_len} bytes is not 4 + n x {self.stride} (IMU{3 * self.k} samples)"
                    + self._shape_hint(body_len)
                )
            done.append((msg, host_ns))
        return done

    def _body_ok(self, body_len: int) -> bool:
        return body_len >= 4 + self.stride and (body_len - 4) % self.stride == 0

    def _shape_hint(self, body_len: int) -> str:
        """A hint when a body has the shape of the other resource (IMU6 data through an IMU9 profile)."""
        other = 3 - self.k + 2  # 2 <-> 3
        if body_len > 4 and (body_len - 4) % (12 * other) == 0 and (body_len - 4) % self.stride:
            return (f"; {body_len} = 4 + {(body_len - 4) // (12 * other)} x {12 * other}: IMU{3 * other} data? "
                    f"(this profile subscribes IMU{3 * self.k})")
        return ""

    def finish(self) -> ImuBlock | None:
        """End of stream: a pending message whose body is whole is decoded; one still waiting
        for its continuation is recorded in ``dropped``."""
        block = None
        if self._pending is not None:
            body_len = len(self._pending) - 2
            if self._body_ok(body_len):
                block, errors = self._decode_messages([(bytes(self._pending), self._pending_host)])
                self.stats.samples += len(block)
                if errors:
                    self._drop(self._pending_packets, errors[0])
            else:
                self.stats.errors += 1
                self._drop(self._pending_packets, f"incomplete GSP message at the end of the stream: its "
                           f"DATA_PART{self._next_part - 1} never came ({body_len} body bytes)"
                           + self._shape_hint(body_len))
        self.reset()
        return block if block is not None and len(block) else None

    def _feed_one(self, data: bytes, host_ns: int | None) -> ImuBlock | None:
        msgs = self._reassemble(data, host_ns)
        if not msgs:
            return None
        block, errors = self._decode_messages(msgs)
        if errors:
            if len(block) == 0:
                raise DecodeError(errors[0])
            # a good message completed by the same notification is kept; the bad one is reported
            for err in errors:
                self.stats.errors += 1
                self._drop((self._packet_index(),), err)
        return block

    def feed_many(self, datas: Sequence[bytes], host_ns=None) -> ImuBlock:
        hns = host_ns_array(host_ns, len(datas))
        self.last_errors = []
        msgs: list[tuple[bytes, int | None]] = []
        for i, d in enumerate(datas):
            self.stats.packets += 1
            try:
                msgs.extend(self._reassemble(bytes(d), None if hns is None else int(hns[i])))
            except DecodeError as exc:
                self.stats.errors += 1
                self.last_errors.append(f"packet {i}: {exc}")
        if not msgs:
            return empty_block(self.has_mag)
        block, errors = self._decode_messages(msgs)
        self.stats.errors += len(errors)
        self.last_errors.extend(errors)
        self.stats.samples += len(block)
        return block

    bulk_runs = True

    def feed_run(self, buf: np.ndarray, start: np.ndarray, length: np.ndarray,
                 host_ns: np.ndarray) -> tuple[ImuBlock, np.ndarray, Exception | None]:
        """``feed`` of each notification ``buf[start[i]:start[i] + length[i]]`` (``buf`` uint8;
        ``start``, ``length``, ``host_ns`` (N,) int64) in turn, in bulk, up to and including the
        first that raises: the samples (the same values and times as ``feed``, bit for bit), how
        many each notification completed (K,: K - 1 good ones and, with an error, the bad one
        last), and the error that notification's ``feed`` raised, or None.

        Whole messages (DATA, DATA_PART2, DATA_PART3 of this stream's reference, nothing pending,
        a body of whole samples, every value plausible) go through one compiled pass
        (``_gsp_run``: what ``_reassemble`` and ``_decode_one`` make of them one at a time); every
        other notification (a lost, damaged or cut part, a command result, a message with a
        corrupt value) through ``feed`` itself."""
        n = len(start)
        start = np.ascontiguousarray(start, dtype=np.int64)
        length = np.ascontiguousarray(length, dtype=np.int64)
        host_ns = np.ascontiguousarray(host_ns, dtype=np.int64)
        counts = np.zeros(n, dtype=np.int64)
        limits = np.array(_LIMITS[:self.k])
        nominal = 1000.0 / self.rate_hz
        expected = 4 + self.expected_n * self.stride
        pieces: list[ImuBlock | tuple[int, int]] = []  # feed's blocks and the compiled pass's sample ranges
        out: tuple[np.ndarray, ...] | None = None  # the compiled pass's samples: time, acc, gyr, mag, host
        s = 0
        error: Exception | None = None
        k = 0
        while k < n:
            if self._pending is None:
                if out is None:
                    cap = int(length[k:].sum()) // self.stride  # room for every sample the bytes left can hold
                    out = (np.empty(cap), np.empty((cap, 3)), np.empty((cap, 3)),
                           np.empty((cap if self.has_mag else 0, 3)), np.empty(cap, dtype=np.int64))
                state = np.array([self._prev_ts is not None, self._prev_ts or 0, self._prev_n, 0], dtype=np.int64)
                k1, s1, lost = _gsp_run(buf, start, length, host_ns, k, self.ref, self.max_bytes, expected, limits,
                                        nominal, DEG, state, *out, counts, s)
                if k1 > k:
                    self.stats.packets += k1 - k
                    self.stats.samples += s1 - s
                    self.stats.samples_lost += lost
                    self._prev_ts, self._prev_n = int(state[1]), int(state[2])
                    self._next_part = RESP_DATA_PART2 + int(state[3]) - 1  # as _reassemble leaves it
                    self._pending_host = int(host_ns[k1 - 1])
                    pieces.append((s, s1))
                    k, s = k1, s1
                    continue
            a = int(start[k])
            k += 1
            try:
                block = self.feed(buf[a:a + int(length[k - 1])].tobytes(), int(host_ns[k - 1]))
            except Exception as exc:  # as ``SensorStream.data`` takes it
                error = exc
                break
            if block is not None:
                counts[k - 1] = len(block)
                pieces.append(block)
        blocks = [x if isinstance(x, ImuBlock) else
                  ImuBlock(out[0][x[0]:x[1]], out[1][x[0]:x[1]], out[2][x[0]:x[1]],
                           out[3][x[0]:x[1]] if self.has_mag else None, None, out[4][x[0]:x[1]])
                  for x in pieces]
        block = empty_block(self.has_mag) if not blocks else blocks[0] if len(blocks) == 1 \
            else ImuBlock.concatenate(blocks)
        return block, counts[:k], error

    # -- vectorised decoding of complete messages
    _CORRUPT = ("GSP message with non-finite or impossible values (|acc| > 24 g, |gyr| > 3000 deg/s "
                "or |mag| > 7350 uT): corrupted")

    def _decode_one(self, msg: bytes, host: int | None) -> tuple[ImuBlock, list[str]]:
        """One complete message (the live and replay path: one notification completes one
        message). The same arithmetic as ``_decode_messages`` on a list of one, element for
        element (bit-identical: tests/test_codecs_movesense.py), without its grouping and
        sorting, which cost 5x the decoding itself per message."""
        k, stride = self.k, self.stride
        n = (len(msg) - 6) // stride
        ts = int.from_bytes(msg[2:6], "little")
        vals = np.frombuffer(msg, dtype="<f4", offset=6, count=k * n * 3).reshape(k, n, 3).astype(np.float64)
        bad = not np.isfinite(vals).all()
        for c in range(k):
            bad = bad or bool((np.abs(vals[c]) > _LIMITS[c]).any())
        if bad:
            return empty_block(self.has_mag), [self._CORRUPT]
        acc_s = vals[0]
        gyr_s = vals[1] * DEG
        mag_s = vals[2] if k == 3 else None
        prev = ts if self._prev_ts is None else self._prev_ts % TIME_MODULUS
        step = (ts - prev) % TIME_MODULUS
        if step > TIME_MODULUS // 2:
            step -= TIME_MODULUS
        ts_u = (ts if self._prev_ts is None else self._prev_ts) + step
        prev_n = self._prev_n
        nominal = 1000.0 / self.rate_hz
        measured = np.float64(step) / np.float64(max(prev_n, 1))
        ok = prev_n > 0 and 0.8 * nominal < measured < 1.25 * nominal
        delta = measured if ok else np.float64(nominal)
        gap = float(np.rint(np.float64(step) / nominal) - prev_n) if prev_n > 0 else 0.0
        if gap >= 0.5 * max(prev_n, 1):
            self.stats.samples_lost += int(gap)
        self._prev_ts = int(ts_u)
        self._prev_n = int(n)
        time_ms = np.full(n, ts_u, dtype=np.int64) + np.arange(n, dtype=np.int64) * np.full(n, delta)
        hns = None if host is None else np.full(n, int(host), dtype=np.int64)
        return ImuBlock(time_ms * 1e-3, acc_s, gyr_s, mag_s, None, hns), []

    def _decode_messages(self, msgs: list[tuple[bytes, int | None]]) -> tuple[ImuBlock, list[str]]:
        """Complete messages (bytes, host ns or None) in order (see ``_decode_packed``)."""
        if len(msgs) == 1 and len(msgs[0][0]) >= 6 + self.stride:
            return self._decode_one(*msgs[0])
        hosts = [h for _, h in msgs]
        return self._decode_packed(np.frombuffer(b"".join([m for m, _ in msgs]), dtype=np.uint8),
                                   np.array([len(m) for m, _ in msgs], dtype=np.int64),
                                   None if any(h is None for h in hosts) else np.array(hosts, dtype=np.int64))

    def _decode_packed(self, data: np.ndarray, lengths: np.ndarray,
                       hosts: np.ndarray | None) -> tuple[ImuBlock, list[str]]:
        """Complete messages one after the other in ``data`` (uint8), of ``lengths`` (P,) bytes,
        completed at host ns ``hosts`` (P,) (None: unknown): their samples, and one error per
        corrupt message (left out)."""
        errors: list[str] = []
        if not lengths.size:
            return empty_block(self.has_mag), errors
        k, stride = self.k, self.stride
        offsets = np.cumsum(lengths) - lengths
        idx_l, ts_l, n_l, samp_idx_l, vec_l = [], [], [], [], []
        for length in np.unique(lengths):
            idx = np.flatnonzero(lengths == length)
            if idx.size == lengths.size:
                buf = data.reshape(idx.size, int(length))
            else:
                buf = sliding_window_view(data, int(length))[offsets[idx]]
            n = (int(length) - 6) // stride
            ts = np.ascontiguousarray(buf[:, 2:6]).view("<u4")[:, 0].astype(np.int64)
            # (P, n, k, 3) float64 and the corrupt messages, in one compiled pass over the bytes
            vecs = np.empty((idx.size, n, k, 3))
            bad = np.empty(idx.size, dtype=np.bool_)
            _gsp_values(np.ascontiguousarray(buf[:, 6:6 + 4 * 3 * k * n]), k, n, np.array(_LIMITS[:k]), vecs, bad)
            errors.extend([self._CORRUPT] * int(bad.sum()))
            keep = ~bad
            idx_l.append(idx[keep])
            ts_l.append(ts[keep])
            n_l.append(np.full(int(keep.sum()), n, dtype=np.int64))
            samp_idx_l.append(np.repeat(idx[keep], n))
            vec_l.append((vecs if keep.all() else vecs[keep]).reshape(-1, k, 3))  # (P*n, k, 3)
        if len(idx_l) == 1:  # messages of one length (the usual): in order already
            order, ts_raw, n_per, vecs = idx_l[0], ts_l[0], n_l[0], vec_l[0]
        else:
            srt = np.argsort(np.concatenate(idx_l), kind="stable")
            order = np.concatenate(idx_l)[srt]
            ts_raw = np.concatenate(ts_l)[srt]
            n_per = np.concatenate(n_l)[srt]
            vecs = np.concatenate(vec_l)[np.argsort(np.concatenate(samp_idx_l), kind="stable")]
        if order.size == 0:
            return empty_block(self.has_mag), errors
        acc_s = vecs[:, 0]
        gyr_s = vecs[:, 1] * DEG
        mag_s = vecs[:, 2] if k == 3 else None
        # timestamps: unwrap ms, measure the sample period from the previous message
        prev = np.empty_like(ts_raw)
        prev[1:] = ts_raw[:-1]
        prev[0] = ts_raw[0] if self._prev_ts is None else self._prev_ts % TIME_MODULUS
        step = (ts_raw - prev) % TIME_MODULUS
        step = np.where(step > TIME_MODULUS // 2, step - TIME_MODULUS, step)
        base = int(ts_raw[0]) if self._prev_ts is None else self._prev_ts
        ts_u = base + np.cumsum(step)
        prev_n = np.empty_like(n_per)
        prev_n[1:] = n_per[:-1]
        prev_n[0] = self._prev_n
        nominal = 1000.0 / self.rate_hz
        measured = step / np.maximum(prev_n, 1)
        ok = (prev_n > 0) & (measured > 0.8 * nominal) & (measured < 1.25 * nominal)
        delta = np.where(ok, measured, nominal)
        # loss: a timestamp step worth at least half a message more than the previous message held
        gap = np.where(prev_n > 0, np.rint(step / nominal) - prev_n, 0)
        self.stats.samples_lost += int(np.sum(np.where(gap >= 0.5 * np.maximum(prev_n, 1), gap, 0)))
        self._prev_ts = int(ts_u[-1])
        self._prev_n = int(n_per[-1])
        within = np.arange(int(n_per.sum())) - np.repeat(np.cumsum(n_per) - n_per, n_per)
        time_ms = np.repeat(ts_u, n_per) + within * np.repeat(delta, n_per)
        host = None if hosts is None else np.repeat(hosts[order], n_per)
        return ImuBlock(time_ms * 1e-3, acc_s, gyr_s, mag_s, None, host), errors


@njit
def _gsp_values(body, k, n, limits, out, bad):  # pragma: no cover - compiled
    """The float32 values of P messages' bodies ``body`` (P, 12 k n) uint8 (k vectors of n samples
    of x, y, z, little-endian) as float64 in ``out`` (P, n, k, 3); ``bad`` (P,) True where a value
    is not finite or beyond ``limits[c]`` (acc m/s², gyr deg/s, mag µT) in magnitude."""
    word = np.empty(1, dtype=np.uint32)
    f32 = word.view(np.float32)
    for p in range(body.shape[0]):
        b = False
        for c in range(k):
            lim = limits[c]
            for s in range(n):
                for x in range(3):
                    o = 4 * ((c * n + s) * 3 + x)
                    word[0] = (np.uint32(body[p, o]) | (np.uint32(body[p, o + 1]) << np.uint32(8))
                               | (np.uint32(body[p, o + 2]) << np.uint32(16)) | (np.uint32(body[p, o + 3]) << np.uint32(24)))
                    v = np.float64(f32[0])
                    out[p, s, c, x] = v
                    if not (abs(v) <= lim):  # NaN, inf or too large
                        b = True
        bad[p] = b


@njit
def _gsp_run(buf, start, length, host_ns, k0, ref, max_bytes, expected, limits, nominal, deg, state,
             time_s, acc, gyr, mag, host_out, counts, s0):  # pragma: no cover - compiled
    """From notification ``k0`` (``buf[start[i]:start[i] + length[i]]``, uint8; nothing pending):
    the longest run of messages that ``Decoder._reassemble`` completes without a word and
    ``Decoder._decode_one`` decodes without an error, and what they make of each in turn (the
    same operations in the same order): a DATA part then DATA_PART2, DATA_PART3 (reference
    ``ref``, at least their 2-byte header each) until the body has ``expected`` bytes, a part is
    shorter than ``max_bytes`` or three parts came; a body of 4 + n x 12 k bytes (n >= 1) and no
    value beyond ``limits`` (k,) (nor one not finite). Each sample: sensor time (s) in
    ``time_s``, acc (m/s²), gyr (rad/s: deg/s x ``deg``), mag (µT; k = 3) in rows ``s0..`` of
    those (S, 3) arrays, the host ns of its message's last part in ``host_out``; ``counts[i]`` =
    n at a message's last part. ``state`` (4,) int64: [a previous message?, its unwrapped
    timestamp (ms), its samples, its parts], in and out; ``nominal``: the sample period (ms).
    Returns (the next notification, the next sample row, the samples the timestamps say lost).
    (The inner loops index views from 0: numba then drops its negative-index checks and the
    loops vectorise, 4x faster than indexing the whole arrays at an offset.)"""
    k = limits.size
    stride = 12 * k
    longest = max_bytes  # a part may be longer than the profile says (a larger MTU)
    for j in range(k0, length.size):
        longest = max(longest, length[j])
    msg = np.empty(3 * longest, dtype=np.uint8)  # a message's bytes after its 2-byte header
    modulus = np.int64(1) << np.int64(32)
    acc_f, gyr_f, mag_f = acc.reshape(acc.size), gyr.reshape(gyr.size), mag.reshape(mag.size)  # (3 S,)
    has_prev, prev_ts, prev_n, parts = state[0] != 0, state[1], state[2], state[3]
    i, s, lost = k0, s0, 0
    while True:
        # the parts of one message, as _reassemble takes them
        j, body, whole = i, 0, False
        while j < start.size:
            a, w = start[j], length[j] - 2
            if w < 0 or buf[a] != 2 + j - i or buf[a + 1] != ref or body + w > msg.size:
                break
            part, into = buf[a + 2:a + 2 + w], msg[body:body + w]
            for x in range(w):
                into[x] = part[x]
            body += w
            j += 1
            if body == expected or w + 2 < max_bytes or j - i == 3:
                whole = True
                break
        n = (body - 4) // stride
        if not whole or body < 4 + stride or (body - 4) % stride != 0 or s + n > time_s.size:
            break
        vals = msg[4:body].view(np.float32)
        bad = False
        for c in range(k):
            lim = limits[c]
            vec = vals[3 * n * c:3 * n * (c + 1)]
            for x in range(3 * n):
                bad |= not (abs(np.float64(vec[x])) <= lim)  # NaN, inf or too large
        if bad:
            break
        ts = np.int64(msg[0]) | (np.int64(msg[1]) << 8) | (np.int64(msg[2]) << 16) | (np.int64(msg[3]) << 24)
        prev = prev_ts % modulus if has_prev else ts
        step = (ts - prev) % modulus
        if step > modulus // 2:
            step -= modulus
        ts_u = (prev_ts if has_prev else ts) + step
        measured = np.float64(step) / np.float64(max(prev_n, 1))
        delta = measured if prev_n > 0 and 0.8 * nominal < measured and measured < 1.25 * nominal else nominal
        if prev_n > 0:
            gap = np.rint(np.float64(step) / nominal) - prev_n
            if gap >= 0.5 * max(prev_n, 1):
                lost += int(gap)
        t0 = np.float64(ts_u)
        host = host_ns[j - 1]
        t_row, h_row = time_s[s:s + n], host_out[s:s + n]
        for x in range(n):
            t_row[x] = (t0 + np.float64(x) * delta) * 1e-3
            h_row[x] = host
        vec, row = vals[:3 * n], acc_f[3 * s:3 * s + 3 * n]
        for x in range(3 * n):
            row[x] = np.float64(vec[x])
        vec, row = vals[3 * n:6 * n], gyr_f[3 * s:3 * s + 3 * n]
        for x in range(3 * n):
            row[x] = np.float64(vec[x]) * deg
        if k == 3:
            vec, row = vals[6 * n:9 * n], mag_f[3 * s:3 * s + 3 * n]
            for x in range(3 * n):
                row[x] = np.float64(vec[x])
        counts[j - 1] = n
        has_prev, prev_ts, prev_n, parts = True, ts_u, n, j - i
        i = j
        s += n
    state[0], state[1], state[2], state[3] = has_prev, prev_ts, prev_n, parts
    return i, s, lost


# --------------------------------------------------------------------------- encoder


class Encoder(_BaseEncoder):
    """Produces the DATA / DATA_PART2 / DATA_PART3 notifications of an IMU6/IMU9 subscription.

    Each message carries ``samples_per_message`` samples and the timestamp
    ``round(time_sensor_s[first] * 1000) mod 2**32`` ms. The last incomplete
    message of a block is sent as is (shorter).
    """

    def __init__(self, params: dict[str, Any] | None = None, rate_hz: float | None = None):
        params = params or {}
        self.rate_hz = float(rate_hz or 104.0)
        p = _params(params, self.rate_hz)
        self.k = p["vectors"]
        self.ref = p["client_ref"]
        self.max_bytes = p["max_notification_bytes"]
        self.n = samples_per_message(params, self.rate_hz)
        self.samples_per_notification = self.n

    def encode(self, block: ImuBlock) -> list[bytes]:
        total = check_block(block, self.k == 3)
        out: list[bytes] = []
        t_ms = np.rint(np.asarray(block.time_sensor_s, dtype=np.float64) * 1000.0).astype(np.int64) % TIME_MODULUS
        vecs = [np.asarray(block.acc_sensor, float), np.asarray(block.gyr_sensor, float) / DEG]
        if self.k == 3:
            vecs.append(np.asarray(block.mag_sensor, float))
        for start in range(0, total, self.n):
            stop = min(total, start + self.n)
            body = struct.pack("<I", int(t_ms[start])) + b"".join(
                v[start:stop].astype("<f4").tobytes() for v in vecs
            )
            out.extend(self.split_message(bytes([RESP_DATA, self.ref]) + body))
        return out

    def split_message(self, message: bytes) -> list[bytes]:
        """Split one DATA message into DATA, DATA_PART2, DATA_PART3 notifications."""
        parts = [message[: self.max_bytes]]
        rest = message[self.max_bytes:]
        kind = RESP_DATA_PART2
        while rest:
            if kind > RESP_DATA_PART3:
                raise ValueError(f"message of {len(message)} bytes needs more than three notifications")
            chunk, rest = rest[: self.max_bytes - 2], rest[self.max_bytes - 2:]
            parts.append(bytes([kind, self.ref]) + chunk)
            kind += 1
        return parts
