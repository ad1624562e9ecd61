"""Synthetic sensor streams with known clocks, for tests and benchmarks of recording and sync.

Not a firmware protocol: a tiny documented packet format (profile name
:data:`SYNTHETIC_PROFILE`) so that recording, gap and clock tests do not depend
on any real codec.

Packet (little-endian): ``uint32 first_sample_index``, ``uint64 first_sample_sensor_ns``,
``uint8 n``, then ``n × 6 int16``: acc x, y, z in 0.01 m/s², gyr x, y, z in 0.001 rad/s.
Sample ``k`` of a packet has sensor time ``first_sample_sensor_ns/1e9 + k/rate_hz``.

The sensor clock model: sample ``i`` is taken at sensor time
``x_i = sensor_t0_s + i / rate_hz`` (the sensor's own clock), which is true
session time ``t_i = start_s + (x_i - sensor_t0_s) · (1 + drift_ppm·1e-6)``
(a clock running ``drift_ppm`` slow stretches every interval). A notification
carrying samples ``i..j`` arrives at ``t_j + delay_min_s + U(0, jitter_s)``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from hipmon.codecs import DecodeError, Decoder
from hipmon.types import ImuBlock, RawNotification

SYNTHETIC_PROFILE = "synthetic-test"
_HEADER = struct.Struct("<IQB")
ACC_LSB = 0.01  # m/s² per count
GYR_LSB = 0.001  # rad/s per count


class SyntheticDecodeError(DecodeError):
    """A packet that does not follow the synthetic format."""


class SyntheticDecoder(Decoder):
    """Decoder for the synthetic packet format (a ``hipmon.codecs.Decoder``)."""

    time_source = "counter"  # every packet carries its first sample's index and sensor time

    def __init__(self, rate_hz: float) -> None:
        super().__init__()
        self.rate_hz = float(rate_hz)

    def _feed_one(self, data: bytes, host_ns: int | None = None) -> ImuBlock | None:
        if len(data) < _HEADER.size:
            raise SyntheticDecodeError(f"packet of {len(data)} bytes is shorter than the header")
        first, t_ns, n = _HEADER.unpack_from(data)
        if len(data) != _HEADER.size + 12 * n:
            raise SyntheticDecodeError(f"packet of {len(data)} bytes does not hold {n} samples")
        if n == 0:
            return None
        raw = np.frombuffer(data, dtype="<i2", offset=_HEADER.size).reshape(n, 6).astype(np.float64)
        k = np.arange(n)
        return ImuBlock(
            time_sensor_s=t_ns / 1e9 + k / self.rate_hz,
            acc_sensor=raw[:, :3] * ACC_LSB,
            gyr_sensor=raw[:, 3:] * GYR_LSB,
            sample_index=first + k.astype(np.int64),
            host_ns=None if host_ns is None else np.full(n, int(host_ns), dtype=np.int64),
        )


def encode_packet(first_index: int, sensor_time_s: float, acc: np.ndarray, gyr: np.ndarray) -> bytes:
    """One packet: samples from ``first_index``, the first taken at ``sensor_time_s`` (s)."""
    n = len(acc)
    payload = np.empty((n, 6), dtype="<i2")
    payload[:, :3] = np.clip(np.rint(np.asarray(acc) / ACC_LSB), -32768, 32767)
    payload[:, 3:] = np.clip(np.rint(np.asarray(gyr) / GYR_LSB), -32768, 32767)
    return _HEADER.pack(first_index & 0xFFFFFFFF, int(round(sensor_time_s * 1e9)), n) + payload.tobytes()


@dataclass
class SyntheticStream:
    """A synthetic sensor's notifications and the truth behind them.

    - ``notifications``: every notification the sensor sent, in order,
      ``host_ns`` = arrival (origin_ns + arrival session time); ``lost`` marks
      the ones a lossy link dropped (still listed here).
    - ``time_session_s`` (N,): true session time of every sample (s).
    - ``time_sensor_s`` (N,): the sensor's clock at every sample (s).
    - ``packet_of_sample`` (N,): index into ``notifications``.
    - ``acc_sensor``, ``gyr_sensor`` (N, 3): quantised values as encoded.
    """

    sensor_id: str
    rate_hz: float
    notifications: list[RawNotification]
    lost: np.ndarray
    time_session_s: np.ndarray
    time_sensor_s: np.ndarray
    packet_of_sample: np.ndarray
    acc_sensor: np.ndarray
    gyr_sensor: np.ndarray

    @property
    def received(self) -> list[RawNotification]:
        return [n for n, lost in zip(self.notifications, self.lost) if not lost]

    @property
    def samples_lost(self) -> int:
        return int(np.sum(self.lost[self.packet_of_sample]))


def synthetic_stream(
    sensor_id: str,
    *,
    rate_hz: float = 208.0,
    seconds: float = 10.0,
    samples_per_packet: int = 8,
    drift_ppm: float = 0.0,
    sensor_t0_s: float = 1000.0,
    start_s: float = 0.0,
    origin_ns: int = 0,
    delay_min_s: float = 0.010,
    jitter_s: float = 0.030,
    loss: float = 0.0,
    seed: int = 0,
) -> SyntheticStream:
    """A sensor's stream (see the module docstring for the clock and delay model).

    ``loss`` is the probability that a notification is lost (never the first
    or the last). Arrivals are made non-decreasing (a BLE link delivers in order).
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate_hz))
    n -= n % samples_per_packet
    i = np.arange(n)
    x = sensor_t0_s + i / rate_hz
    t = start_s + (x - sensor_t0_s) * (1 + drift_ppm * 1e-6)
    phase = rng.uniform(0, 2 * np.pi, 6)
    acc = np.stack([np.sin(2 * np.pi * (0.5 + 0.1 * c) * t + phase[c]) * 5 for c in range(3)], 1)
    acc[:, 1] += 9.81
    gyr = np.stack([np.sin(2 * np.pi * (1.0 + 0.2 * c) * t + phase[3 + c]) * 3 for c in range(3)], 1)
    acc = np.rint(acc / ACC_LSB) * ACC_LSB
    gyr = np.rint(gyr / GYR_LSB) * GYR_LSB
    m = n // samples_per_packet
    last = (np.arange(m) + 1) * samples_per_packet - 1
    arrive = t[last] + delay_min_s + rng.uniform(0, jitter_s, m)
    arrive = np.maximum.accumulate(arrive)
    lost = rng.random(m) < loss
    if m:
        lost[0] = lost[-1] = False
    notes = []
    for p in range(m):
        s = slice(p * samples_per_packet, (p + 1) * samples_per_packet)
        data = encode_packet(p * samples_per_packet, x[s][0], acc[s], gyr[s])
        notes.append(RawNotification(sensor_id, origin_ns + int(round(arrive[p] * 1e9)), data))
    return SyntheticStream(
        sensor_id=sensor_id,
        rate_hz=rate_hz,
        notifications=notes,
        lost=lost,
        time_session_s=t,
        time_sensor_s=x,
        packet_of_sample=i // samples_per_packet,
        acc_sensor=acc,
        gyr_sensor=gyr,
    )
