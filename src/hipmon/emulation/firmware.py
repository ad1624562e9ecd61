"""Firmware behaviour of emulated sensors, one class per protocol family.

:class:`Firmware` is what every sensor in hipmon's profiles does in common:

- the GATT service from the profile (``data`` notify; ``command``/``control``
  write, with read/indicate where the protocol has them);
- the sample clock runs from power-on; every batch of samples is encoded by the
  profile's own ``Encoder`` (so counters and sensor timestamps advance even
  while nobody listens), then sent, dropped (loss injection) or left unsent
  (stream not started, no subscriber, no link);
- the stream is started by the profile's start sequence: the last ``write`` step
  of ``profile.start_steps(rate)`` (or, with no write step, the CCCD of the data
  characteristic) and stopped by a ``stop_steps()`` write.

Subclasses add what the real firmware does beyond that: command responses
(Movesense GSP results, Polar control-point responses), forgetting
subscriptions on disconnect (Movesense), stopping a stream by itself (Polar),
packets split and merged in the byte stream (WitMotion).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Characteristic roles and their GATT properties (bumble Characteristic.Properties bits).
_READ, _WRITE_NR, _WRITE, _NOTIFY, _INDICATE = 0x02, 0x04, 0x08, 0x10, 0x20


def _steps(steps: Any) -> list[Any]:
    return list(steps or [])


class Firmware:
    """Generic firmware: see the module docstring."""

    #: Roles that carry samples (notified to the client).
    data_roles: tuple[str, ...] = ("data",)
    #: Split and merge the byte stream by default (WitMotion).
    split_merge_default = False

    def __init__(self, sensor: Any) -> None:
        self.sensor = sensor
        self.profile = sensor.profile
        self.encoder = self.profile.make_encoder(sensor.rate_hz)
        self.chars: dict[str, Any] = {}
        self.subscribed: set[str] = set()
        self.stream_on = False
        self._task: asyncio.Task | None = None
        self._seq = 0
        self._send_lock = asyncio.Lock()
        starts = [s for s in _steps(self.profile.start_steps(sensor.rate_hz)) if s.op == "write"]
        stops = [s for s in _steps(self.profile.stop_steps()) if s.op == "write"]
        self.start_writes = [(s.char_role, bytes(s.data)) for s in starts]
        self.stop_writes = [(s.char_role, bytes(s.data)) for s in stops]
        self._pending: bytearray = bytearray()  # split/merge byte stream carry-over

    # ------------------------------------------------------------------ GATT
    def properties_for(self, role: str) -> int:
        if role in self.data_roles:
            return _NOTIFY | _READ
        notified = any(
            s.op == "notify" and s.char_role == role
            for s in _steps(self.profile.start_steps(self.sensor.rate_hz))
        )
        # a control point the client enables (Polar PMD): responses come as indications
        return _WRITE | _WRITE_NR | _READ | (_INDICATE if notified else 0)

    def build_gatt(self, device: Any) -> None:
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        chars = []
        for role, uuid in self.profile.characteristics.items():
            value = CharacteristicValue(
                read=lambda conn, role=role: self.on_read(role),
                write=lambda conn, value, role=role: self._on_write(role, bytes(value)),
            )
            char = Characteristic(
                uuid,
                Characteristic.Properties(self.properties_for(role)),
                Characteristic.READABLE | Characteristic.WRITEABLE,
                value,
            )
            char.on(char.EVENT_SUBSCRIPTION, lambda bearer, notify, indicate, role=role: self._on_cccd(role, notify or indicate))
            self.chars[role] = char
            chars.append(char)
        device.add_service(Service(self.profile.service_uuid, chars))

    # ------------------------------------------------------------------ client actions
    def on_read(self, role: str) -> bytes:
        return b""

    def _on_write(self, role: str, data: bytes) -> None:
        self.sensor.log.commands.append((role, data))
        try:
            self.on_write(role, data)
        except Exception:  # a firmware never crashes on a bad command
            log.warning("%s: bad command on %s: %s", self.sensor.name, role, data.hex(), exc_info=True)

    def on_write(self, role: str, data: bytes) -> None:
        if (role, data) in self.stop_writes:
            self.stop_stream()
        elif self.start_writes and (role, data) == self.start_writes[-1]:
            self.start_stream()

    def _on_cccd(self, role: str, enabled: bool) -> None:
        if enabled:
            self.subscribed.add(role)
            if not self.start_writes and role in self.data_roles:
                self.start_stream()
        else:
            self.subscribed.discard(role)

    def on_connect(self, connection: Any) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def on_disconnect(self) -> None:
        self.subscribed.clear()

    def start_stream(self) -> None:
        self.stream_on = True

    def stop_stream(self) -> None:
        self.stream_on = False

    async def stop_stream_by_itself(self) -> None:
        """The firmware ends its stream unasked (only where the protocol says so)."""

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    # ------------------------------------------------------------------ streaming
    def batch_size(self) -> int:
        """Samples per notification as the real firmware batches them."""
        # the encoders expose it under these names (open_imu, movesense)
        for attr in ("samples_per_notification", "samples_per_packet", "samples_per_message", "n"):
            n = getattr(self.encoder, attr, None)
            if isinstance(n, (int, np.integer)) and n > 0:
                return int(n)
        return 1

    def transmitting(self, data: bytes) -> bool:
        return (
            self.sensor.connection is not None
            and not self.sensor.dropping
            and self.stream_on
            and any(r in self.subscribed for r in self.data_roles)
        )

    def chunk(self, datas: list[bytes]) -> list[bytes]:
        """Notifications actually handed to the link (split/merge for byte streams)."""
        split = self.sensor.impairments.split_merge
        if split is None:
            split = self.split_merge_default
        if not split:
            return datas
        self._pending += b"".join(datas)
        out = []
        rng = self.sensor.rng
        while len(self._pending) >= 40 or (self._pending and rng.random() < 0.5):
            size = min(len(self._pending), rng.randint(7, 40))
            out.append(bytes(self._pending[:size]))
            del self._pending[:size]
        return out

    async def _run(self) -> None:
        s = self.sensor
        n_total = s.n_samples
        nxt = s.sample_at(s.session_time())  # samples before power-on/first link are history
        batch = self.batch_size()
        times = s.source.time_session_s
        while nxt < n_total:
            stop = min(nxt + batch, n_total)
            due = s.host_time_of(float(times[stop - 1])) + s.delivery_delay()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            block = s.block(nxt, stop)
            try:
                datas = self.encoder.encode(block)
            except Exception:
                log.exception("%s: encoder failed", s.name)
                datas = []
            await self.emit(datas, nxt, stop - nxt)
            nxt = stop

    async def emit(self, datas: list[bytes], first: int, n: int) -> None:
        """Send one batch's notifications; record the ground truth."""
        from hipmon.emulation.sensor import NotificationRecord

        s = self.sensor
        datas = [d for d in datas if self.wanted(d)]
        if not datas:
            return
        session_t = float(s.source.time_session_s[first + n - 1])
        if not self.transmitting(datas[0]):
            status = "unsent"
        elif s.should_drop():
            status = "dropped"
        else:
            status = "sent"
        self._seq += 1
        s.log.records.append(NotificationRecord(self._seq, first, n, b"".join(datas), status, session_t))
        if status != "sent":
            return
        char = self.chars[self.data_roles[0]]
        for data in self.chunk(datas):
            try:
                await s.device.notify_subscribers(char, data)
            except Exception:
                log.debug("%s: notify failed (link gone)", s.name, exc_info=True)
                s.log.records[-1].status = "unsent"
                return

    def wanted(self, data: bytes) -> bool:
        """Whether a notification the encoder produced belongs to an active stream."""
        return True


class MovesenseFirmware(Firmware):
    """Movesense ``gatt_sensordata_app``: GSP commands on 0x…0001, data and results on 0x…0002.

    Quirk: on disconnect the firmware calls ``unsubscribeAllStreams()``; the
    client must subscribe again after every reconnect.
    """

    def on_write(self, role: str, data: bytes) -> None:
        from hipmon.codecs import DecodeError
        from hipmon.codecs import movesense as gsp  # the codec's protocol helpers

        try:
            cmd = gsp.parse_command(data)
        except DecodeError as exc:
            log.info("%s: rejected GSP command %s: %s", self.sensor.name, data.hex(), exc)
            if len(data) >= 2 and data[1]:
                self._respond(gsp.encode_response(data[1], 400))
            return
        if cmd.cmd == gsp.CMD_HELLO:
            self._respond(gsp.encode_hello_response(cmd.ref))
        elif cmd.cmd == gsp.CMD_SUBSCRIBE:
            wanted = [bytes(d) for r, d in self.start_writes if r == role]
            if data in wanted:
                self.stream_on = True
                self._respond(gsp.encode_response(cmd.ref, 200))
            else:  # a resource/rate this emulated sensor is not producing
                self._respond(gsp.encode_response(cmd.ref, 404))
        elif cmd.cmd == gsp.CMD_UNSUBSCRIBE:
            self.stream_on = False
            self._respond(gsp.encode_response(cmd.ref, 200))
        else:
            self._respond(gsp.encode_response(cmd.ref, 501))

    def _respond(self, data: bytes) -> None:
        char = self.chars[self.data_roles[0]]
        asyncio.ensure_future(self.sensor.device.notify_subscribers(char, data))

    def on_disconnect(self) -> None:
        super().on_disconnect()
        self.stream_on = False  # unsubscribeAllStreams()


class WitMotionFirmware(Firmware):
    """WitMotion BWT901BLE: streams 0x55 0x61 packets as soon as notifications are on;
    register writes (unlock, rate, save) change the rate; the BLE-UART bridge splits
    and merges packets across notifications."""

    split_merge_default = True

    def on_write(self, role: str, data: bytes) -> None:
        pass  # register writes: the rate is fixed by the emulated source

    def _on_cccd(self, role: str, enabled: bool) -> None:
        super()._on_cccd(role, enabled)
        if enabled and role in self.data_roles:
            self.stream_on = True


_FIRMWARE_BY_CODEC: dict[str, type[Firmware]] = {
    "movesense_gsp": MovesenseFirmware,
    "witmotion": WitMotionFirmware,
}


def firmware_for(profile: Any) -> type[Firmware]:
    """The firmware class that runs ``profile``'s protocol."""
    return _FIRMWARE_BY_CODEC.get(getattr(profile, "codec", ""), Firmware)
