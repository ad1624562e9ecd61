"""Codecs: BLE notification bytes <-> :class:`hipmon.types.ImuBlock`, one module per protocol family.

Every codec module provides a ``Decoder`` and an ``Encoder`` class built from a
profile's ``[codec_params]`` table and a sample rate:

- ``Decoder.feed(data, host_ns=None) -> ImuBlock | None``: one notification in,
  the samples it completes out (None while a multi-part message is incomplete or
  the notification carried no samples, e.g. a command response). A bad packet
  raises :class:`DecodeError` (the only exception a decoder raises for bad
  bytes); the decoder stays usable and counts the error in ``stats``.
- ``Decoder.feed_many(datas, host_ns=None) -> ImuBlock``: the batch path used by
  recording replay and the benchmark; vectorised with numpy. Bad packets are
  counted in ``stats.errors`` and skipped (their messages kept in
  ``Decoder.last_errors``), never raised.
- ``Decoder.reset()``: forget stream state (after a reconnect).
- ``Decoder.dropped`` / ``take_dropped()``: the messages a decoder threw away
  without raising (a multi-part message whose continuation never came, samples
  whose partner stream never came), as :class:`DroppedMessage` records naming
  the notifications they came from; ``finish()`` ends the stream: it returns the
  samples that can still be completed and records the rest as dropped.
- ``Decoder.select_measurement(name)``: decode one measurement (``acc``, ``gyr``
  or ``mag``) alone; a codec with one stream per measurement (Polar) then
  decodes that stream's frames without waiting for the others.
- ``Encoder.encode(block) -> list[bytes]``: the notifications a real sensor
  sends for these samples (stateful: counters and times continue across calls).

- hooks of the stream stage (``hipmon.stream``), declared here with neutral defaults:
  ``handle_control(data)``, ``control_problem(response)``, ``is_stream_stopped(data)``,
  ``take_unpaired()``, ``time_source``; and for ``hipmon decode``, ``is_control_message(data)``,
  ``one_stream_per_measurement`` and ``skipped_frames``.

Units of an ``ImuBlock``: s, m/s², rad/s, µT (see ``hipmon.types``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from hipmon.types import ImuBlock

#: Standard gravity (m/s² per g), used for every g-scaled sensor.
STANDARD_GRAVITY = 9.80665
DEG = np.pi / 180.0

#: codec name (as written in a profile's ``codec`` field) -> module in hipmon.codecs
CODEC_MODULES: dict[str, str] = {
    "hipmon_open": "open_imu",
    "movesense_gsp": "movesense",
    "polar_pmd": "polar",
    "witmotion": "witmotion",
    "thingy52": "thingy",
}


class DecodeError(ValueError):
    """A notification that cannot be decoded; the message says what is wrong."""


class CodecParamError(ValueError):
    """A codec parameter (from a profile's ``[codec_params]``) is missing or invalid.

    ``field`` names the parameter.
    """

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


#: The measurements a sensor streams (a profile's ``channels``), in column order.
MEASUREMENTS = ("acc", "gyr", "mag")


@dataclass(frozen=True)
class DroppedMessage:
    """A message (or part of one) a decoder threw away without raising :class:`DecodeError`.

    - ``packets``: indices of the notifications it came from, counted from 0 over
      every notification fed to this decoder (``stats.packets`` before the feed);
      a caller maps them to lines or arrival times.
    - ``reason``: what happened, one sentence.
    - ``samples``: samples lost with it, where the decoder knows (else None).
    """

    packets: tuple[int, ...]
    reason: str
    samples: int | None = None


@dataclass
class DecoderStats:
    """Counters of one decoder since construction (``reset`` keeps them).

    - ``packets``: notifications fed; ``samples``: samples delivered;
    - ``errors``: notifications rejected (or stream bytes skipped, counted once
      per notification);
    - ``bytes_skipped``: bytes discarded while resynchronising (stream codecs);
    - ``samples_lost``: samples the counters/timestamps say never arrived.
    """

    packets: int = 0
    samples: int = 0
    errors: int = 0
    bytes_skipped: int = 0
    samples_lost: int = 0


def empty_block(with_mag: bool = False, with_index: bool = False) -> ImuBlock:
    """An ImuBlock with zero samples (fields shaped as for real data)."""
    return ImuBlock(
        time_sensor_s=np.zeros(0),
        acc_sensor=np.zeros((0, 3)),
        gyr_sensor=np.zeros((0, 3)),
        mag_sensor=np.zeros((0, 3)) if with_mag else None,
        sample_index=np.zeros(0, dtype=np.int64) if with_index else None,
        host_ns=np.zeros(0, dtype=np.int64),
    )


def host_ns_array(host_ns: Sequence[int] | np.ndarray | None, count: int) -> np.ndarray | None:
    """Validate a per-notification host time array (int64, length ``count``) or None."""
    if host_ns is None:
        return None
    arr = np.asarray(host_ns, dtype=np.int64)
    if arr.shape != (count,):
        raise ValueError(f"host_ns must have shape ({count},), got {arr.shape}")
    return arr


class Decoder:
    """Base class of all decoders. Subclasses implement ``_feed_one`` and may override ``feed_many``."""

    #: True if the blocks this decoder emits carry ``mag_sensor``.
    has_mag: bool = False
    #: the protocol's time source (``timestamp``, ``counter``, ``none``) when the decoder itself
    #: defines it; None: the firmware profile's ``time_source`` says
    time_source: str | None = None
    #: True for a codec with one stream per measurement (Polar): ``select_measurement`` then
    #: skips the frames of the other measurements (counted in ``skipped_frames``)
    one_stream_per_measurement: bool = False

    def __init__(self) -> None:
        self.stats = DecoderStats()
        self.last_errors: list[str] = []
        #: messages thrown away without a DecodeError (see :class:`DroppedMessage`), oldest first
        self.dropped: list[DroppedMessage] = []
        #: the one measurement decoded (``select_measurement``), or None for all
        self.measurement: str | None = None
        #: frames of other measurements skipped (``select_measurement``, one stream per measurement)
        self.skipped_frames = 0

    def reset(self) -> None:
        """Forget stream state (reassembly buffers, counters, previous times)."""

    # -- the hooks of the stream stage (``hipmon.stream``); vendor specifics stay in their codec

    def is_control_message(self, data: bytes) -> bool:
        """True if a notification of unknown characteristic (``hipmon decode``'s hex lines) is a
        control-point message for :meth:`handle_control` rather than samples."""
        return False

    def handle_control(self, data: bytes) -> Any:
        """A control-point message of the sensor's protocol (e.g. Polar's START response with its
        scale); returns the parsed response, or None when the protocol has no control point."""
        return None

    def control_problem(self, response: Any) -> str | None:
        """One sentence when ``response`` (from :meth:`handle_control`) says a command failed, else None."""
        return None

    def is_stream_stopped(self, data: bytes) -> bool:
        """True if control-point message ``data`` says the sensor ended its stream by itself."""
        return False

    def take_unpaired(self) -> np.ndarray:
        """Sensor times (ns, int64) of samples received but dropped since the last call because
        their partner stream never came (a codec with one stream per measurement); else empty."""
        return np.zeros(0, dtype=np.int64)

    def _packet_index(self) -> int:
        """Index of the notification being decoded (``stats.packets`` counts it already)."""
        return self.stats.packets - 1

    def _drop(self, packets, reason: str, samples: int | None = None) -> None:
        self.dropped.append(DroppedMessage(tuple(int(p) for p in packets), reason, samples))

    def take_dropped(self) -> list[DroppedMessage]:
        """The dropped messages recorded since the last call (and forget them)."""
        out, self.dropped = self.dropped, []
        return out

    def finish(self) -> ImuBlock | None:
        """End of the stream: the samples still waiting that can be completed (or None);
        what cannot (a message missing its continuation, samples without their partner)
        is recorded in ``dropped``. The decoder is reset afterwards."""
        self.reset()
        return None

    def select_measurement(self, measurement: str | None) -> None:
        """Decode only ``measurement`` (``acc``, ``gyr``, ``mag``; None: all).

        Codecs whose notifications carry every measurement decode as before (the
        caller takes that measurement's columns); a codec with one stream per
        measurement overrides this to decode that stream alone.
        """
        if measurement is not None and measurement not in MEASUREMENTS:
            raise ValueError(f"measurement must be one of {', '.join(MEASUREMENTS)}, got {measurement!r}")
        if measurement == "mag" and not self.has_mag:
            raise ValueError("this decoder's stream has no magnetometer")
        self.measurement = measurement

    def feed(self, data: bytes, host_ns: int | None = None) -> ImuBlock | None:
        """Decode one notification; raise :class:`DecodeError` for a bad packet."""
        self.stats.packets += 1
        try:
            block = self._feed_one(bytes(data), host_ns)
        except DecodeError:
            self.stats.errors += 1
            raise
        if block is not None:
            if len(block) == 0:
                return None
            self.stats.samples += len(block)
        return block

    def _feed_one(self, data: bytes, host_ns: int | None) -> ImuBlock | None:
        raise NotImplementedError

    #: the codec decodes runs of notifications in bulk (``feed_run``)
    bulk_runs: bool = False

    def feed_run(self, buf: np.ndarray, start: np.ndarray, length: np.ndarray,
                 host_ns: np.ndarray) -> tuple[ImuBlock, np.ndarray, Exception | None] | None:
        """Bulk ``feed`` of consecutive notifications (``hipmon.stream.SensorStream.push_block``), for
        a codec with ``bulk_runs``: notification i is ``buf[start[i]:start[i] + length[i]]`` (``buf``
        uint8, ``start``, ``length``, ``host_ns`` (N,) int64). Exactly as ``feed`` one at a time up
        to and including the first that raises: (their samples, how many each of those K
        notifications completed (K,), the last one's error or None); None when it cannot (the
        caller then restores the decoder)."""
        return None

    def feed_many(
        self, datas: Sequence[bytes], host_ns: Sequence[int] | np.ndarray | None = None
    ) -> ImuBlock:
        """Decode many notifications in order; bad ones are counted and skipped.

        Returns one block with all samples (possibly empty). Error messages of this
        call (``"packet i: ..."``) are in ``self.last_errors``.
        """
        hns = host_ns_array(host_ns, len(datas))
        blocks: list[ImuBlock] = []
        self.last_errors = []
        for i, data in enumerate(datas):
            try:
                block = self.feed(data, None if hns is None else int(hns[i]))
            except DecodeError as exc:
                self.last_errors.append(f"packet {i}: {exc}")
                continue
            if block is not None:
                blocks.append(block)
        if not blocks:
            return empty_block(self.has_mag)
        return ImuBlock.concatenate(blocks)


class PacketDecoder(Decoder):
    """Base of decoders whose packets decode independently and in bulk.

    Subclasses implement ``_decode(datas, host_ns) -> (block, [(packet_index, message), ...])``,
    vectorised over all packets; ``feed`` and ``feed_many`` both go through it.
    """

    def _decode(self, datas: list[bytes], hns: np.ndarray | None) -> tuple[ImuBlock, list[tuple[int, str]]]:
        raise NotImplementedError

    def _feed_one(self, data: bytes, host_ns: int | None) -> ImuBlock | None:
        block, errors = self._decode([data], None if host_ns is None else np.array([host_ns], dtype=np.int64))
        if errors:
            raise DecodeError(errors[0][1])
        return block

    def feed_many(self, datas: Sequence[bytes], host_ns=None) -> ImuBlock:
        datas = [bytes(d) for d in datas]
        hns = host_ns_array(host_ns, len(datas))
        self.stats.packets += len(datas)
        block, errors = self._decode(datas, hns)
        self.stats.errors += len(errors)
        self.stats.samples += len(block)
        self.last_errors = [f"packet {i}: {msg}" for i, msg in errors]
        return block


class Encoder:
    """Base class of all encoders."""

    #: Samples a real sensor puts in one notification (or one multi-part message);
    #: 0 means variable (Polar frames are sent when they fill the MTU).
    samples_per_notification: int = 1

    def encode(self, block: ImuBlock) -> list[bytes]:
        raise NotImplementedError

    def set_param(self, key: str, value: Any) -> None:
        """Override codec parameter ``key`` (the emulation's tests: a scale the profile does not
        know); ``KeyError`` when the codec has no such parameter (none by default)."""
        raise KeyError(key)

    def reset(self) -> None:
        """Restart counters (as a sensor does after power-up)."""


def check_block(block: ImuBlock, need_mag: bool) -> int:
    """Validate an ImuBlock's shapes for encoding; returns N. Raises ValueError naming the field."""
    n = len(block)
    for name in ("acc_sensor", "gyr_sensor"):
        arr = getattr(block, name)
        if arr is None or np.shape(arr) != (n, 3):
            raise ValueError(f"ImuBlock.{name} must have shape ({n}, 3), got {np.shape(arr)}")
    if need_mag and (block.mag_sensor is None or np.shape(block.mag_sensor) != (n, 3)):
        raise ValueError(
            f"ImuBlock.mag_sensor must have shape ({n}, 3) for this profile, got "
            f"{None if block.mag_sensor is None else np.shape(block.mag_sensor)}"
        )
    if np.ndim(block.time_sensor_s) != 1:
        raise ValueError("ImuBlock.time_sensor_s must be 1-D")
    return n


def quantize_int16(values: np.ndarray, lsb: float) -> np.ndarray:
    """Round ``values / lsb`` to int16, saturating at the int16 limits (as a sensor ADC clips)."""
    q = np.rint(np.asarray(values, dtype=np.float64) / lsb)
    return np.clip(q, -32768, 32767).astype(np.int16)


def group_by_length(datas: Sequence[bytes]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Group notifications by length for vectorised decoding.

    Returns {length: (indices (P,) int64, bytes (P, length) uint8)} with packets of
    one length stacked into one 2-D array (one ``np.frombuffer`` per length).
    """
    lengths = np.fromiter((len(d) for d in datas), dtype=np.int64, count=len(datas))
    groups: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for length in np.unique(lengths):
        idx = np.flatnonzero(lengths == length)
        if length == 0:
            groups[0] = (idx, np.zeros((idx.size, 0), dtype=np.uint8))
            continue
        if idx.size == len(datas):
            buf = b"".join(datas)
        else:
            buf = b"".join([datas[i] for i in idx])
        groups[int(length)] = (idx, np.frombuffer(buf, dtype=np.uint8).reshape(idx.size, int(length)))
    return groups


def codec_module(codec: str):
    """Import the module implementing ``codec`` (a profile's ``codec`` field)."""
    try:
        name = CODEC_MODULES[codec]
    except KeyError:
        raise ValueError(
            f"unknown codec {codec!r}; known: {', '.join(sorted(CODEC_MODULES))}"
        ) from None
    return importlib.import_module(f"hipmon.codecs.{name}")


def get_param(params: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    """Read one codec parameter with a type check; raises CodecParamError naming it."""
    if name not in params:
        if default is ...:
            raise CodecParamError(name, "missing")
        return default
    value = params[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise CodecParamError(name, f"expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


__all__ = [
    "CODEC_MODULES",
    "CodecParamError",
    "DecodeError",
    "Decoder",
    "DroppedMessage",
    "MEASUREMENTS",
    "DecoderStats",
    "Encoder",
    "STANDARD_GRAVITY",
    "check_block",
    "codec_module",
    "empty_block",
    "quantize_int16",
]
