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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hipmon.profiles import Profile


log = logging.getLogger(__name__)

#: Characteristic roles and their GATT properties (bumble Characteristic.Properties bits).
_READ, _WRITE_NR, _WRITE, _NOTIFY, _INDICATE = 0x02, 0x04, 0x08, 0x10, 0x20

#: Optional profile role: the standard Battery Level characteristic (0x2A19), served in
#: the Battery Service (0x180F) next to the sensor's own service.
BATTERY_ROLE = "battery"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"


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
    #: Battery level the emulated sensor reports (Battery Service 0x180F / 0x2A19), percent.
    battery_pct = 87

    def properties_for(self, role: str) -> int:
        if role == BATTERY_ROLE:
            return _READ | _NOTIFY
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
        battery = []
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
            (battery if role == BATTERY_ROLE else chars).append(char)
        device.add_service(Service(self.profile.service_uuid, chars))
        if battery:  # the standard Battery Service, beside the sensor's own
            device.add_service(Service(BATTERY_SERVICE_UUID, battery))

    # ------------------------------------------------------------------ client actions
    def on_read(self, role: str) -> bytes:
        if role == BATTERY_ROLE:
            return bytes([max(0, min(100, int(self.battery_pct)))])
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
        # the encoders' common attribute; 0 = variable (Polar: frames fill the MTU),
        # then the firmware samples in 20 ms steps and the encoder decides the frames
        n = int(self.encoder.samples_per_notification)
        return n if n > 0 else max(1, int(round(self.sensor.rate_hz / 50.0)))

    def delivery(self, data: bytes) -> str:
        """What becomes of a notification: "unsent" (nobody subscribed), "dropped" (injected loss) or "sent"."""
        if not self.transmitting(data):
            return "unsent"
        return "dropped" if self.sensor.should_drop() else "sent"

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
        status = self.delivery(datas[0])
        self._seq += 1
        s.log.records.append(NotificationRecord(self._seq, first, n, b"".join(datas), status, session_t))
        if status != "sent":
            return
        char = self.chars[self.data_roles[0]]
        for data in self.chunk(datas):
            if not await self.notify(char, data):
                return

    async def notify(self, char: Any, data: bytes) -> bool:
        """Send one notification; if the link is gone, mark the last logged record unsent (False)."""
        s = self.sensor
        try:
            await s.device.notify_subscribers(char, data)
        except Exception:
            log.debug("%s: notify failed (link gone)", s.name, exc_info=True)
            s.log.records[-1].status = "unsent"
            return False
        return True

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


class PolarPmdFirmware(Firmware):
    """Polar Verity Sense PMD service (SDK mode): the control-point protocol of
    ``hipmon.codecs.polar`` (Polar SDK ``BlePMDClient``/``PmdControlPointResponse``).

    - read of the control point: ``0F`` + feature bitmask (PPG, ACC, PPI, GYRO, MAG, SDK);
    - ``01 <type>`` GET settings -> ``F0 01 <type> 00 00`` + the available settings;
    - ``02 09`` START SDK mode; ``02 <type> <settings>`` START ACC/GYRO/MAG -> ``F0 02 <type>
      00 00`` + FACTOR (``05 01 <float32>``, the scale the encoder uses), or a status:
      8 INVALID SAMPLE RATE, 9 INVALID RANGE, 7 INVALID RESOLUTION, 6 ALREADY IN STATE,
      12 INVALID STATE (ACC/GYRO above 52 Hz outside SDK mode), 2 INVALID MEASUREMENT TYPE;
    - ``03 <type>`` STOP -> ``F0 03 <type> 00 00``;
    - responses and the device's own notices are indications on the control point;
    - quirk (``Impairments.stop_stream_at_s``): the sensor stops its measurements by itself
      and indicates ``01 <types>`` (ONLINE_MEASUREMENT_STOPPED, first byte not 0xF0);
    - a disconnect stops the measurements (the client starts them again).

    Ground truth: one record per frame; ACC frames carry the sample indices (the IMU
    samples the client pairs); GYRO/MAG frames are recorded with ``n_samples`` 0. Samples
    produced while stopped are ``unsent``; the encoder's partly filled frames are
    discarded at a stop, as on the device.
    """

    FEATURES = (1, 2, 3, 5, 6, 9)  # PPG, ACC, PPI, GYRO, MAG, SDK_MODE
    SDK_RATES = (26, 52, 104, 208, 416)
    RANGES = {2: (2, 4, 8, 16), 5: (250, 500, 1000, 2000), 6: (50,)}

    def __init__(self, sensor: Any) -> None:
        super().__init__(sensor)
        from hipmon.codecs import polar

        self.pmd = polar
        self.sdk_mode = False
        self.running: set[int] = set()
        self.wanted_types = {polar.MEAS_ACC, polar.MEAS_GYRO} | ({polar.MEAS_MAG} if self.encoder.mag else set())
        self.acc_next = 0  # first ACC sample index not yet in a frame
        self.stream_next: dict[int, int] = {}  # per measurement type: first sample not yet framed
        self._next_sample = 0

    def properties_for(self, role: str) -> int:
        if role == "control":
            return _READ | _WRITE | _INDICATE
        return super().properties_for(role)

    def on_read(self, role: str) -> bytes:
        if role == "control":
            return self.pmd.build_features(self.FEATURES)
        return super().on_read(role)

    def _indicate(self, data: bytes) -> None:
        char = self.chars["control"]
        device = self.sensor.device
        self.sensor.log.commands.append(("control<-", bytes(data)))

        async def send() -> None:
            try:
                await device.indicate_subscribers(char, data)
            except Exception:
                log.debug("%s: control point indication failed", self.sensor.name, exc_info=True)

        asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(send()))

    def _rate_for(self, meas: int) -> float:
        return float(self.encoder.mag_rate_hz if meas == self.pmd.MEAS_MAG else self.sensor.rate_hz)

    def _settings_for(self, meas: int) -> bytes:
        pmd = self.pmd
        rates = [int(self._rate_for(meas))] if meas == pmd.MEAS_MAG else (
            list(self.SDK_RATES) if self.sdk_mode else [52])
        out = bytes([pmd.SET_SAMPLE_RATE, len(rates)]) + b"".join(r.to_bytes(2, "little") for r in rates)
        out += bytes([pmd.SET_RESOLUTION, 1]) + (16).to_bytes(2, "little")
        ranges = self.RANGES[meas]
        out += bytes([pmd.SET_RANGE, len(ranges)]) + b"".join(r.to_bytes(2, "little") for r in ranges)
        return out

    def _factor(self, meas: int) -> float:
        key = {self.pmd.MEAS_ACC: "acc_factor", self.pmd.MEAS_GYRO: "gyr_factor", self.pmd.MEAS_MAG: "mag_factor"}
        return float(self.encoder.p[key[meas]])

    def _check_start(self, meas: int, settings: dict[int, list]) -> int:
        pmd = self.pmd
        if meas not in self.wanted_types:
            return 2 if meas not in self.FEATURES else 3
        if meas in self.running:
            return 6
        rate = settings.get(pmd.SET_SAMPLE_RATE, [None])[0]
        if rate is None:
            return 5
        if meas != pmd.MEAS_MAG and rate > 52 and not self.sdk_mode:
            return 12  # fast ACC/GYRO only in SDK mode
        if abs(rate - self._rate_for(meas)) > 1e-6:
            return 8  # this emulated sensor samples at one rate
        if settings.get(pmd.SET_RESOLUTION, [16])[0] != 16:
            return 7
        rng = settings.get(pmd.SET_RANGE, [self.RANGES[meas][-1]])[0]
        if rng not in self.RANGES[meas]:
            return 9
        return 0

    def on_write(self, role: str, data: bytes) -> None:
        from hipmon.codecs import DecodeError

        pmd = self.pmd
        if role != "control":
            return
        try:
            cmd = pmd.parse_cp_command(data)
        except DecodeError:
            op = data[0] if data else 0
            meas = data[1] if len(data) > 1 else 0
            status = 1 if op not in (pmd.OP_GET, pmd.OP_START, pmd.OP_STOP) else (4 if len(data) < 2 else 5)
            self._indicate(pmd.build_cp_response(op, meas, status))
            return
        if cmd.op == pmd.OP_GET:
            if cmd.meas in self.RANGES:
                self._indicate(pmd.build_cp_response(pmd.OP_GET, cmd.meas, 0, False, self._settings_for(cmd.meas)))
            else:
                self._indicate(pmd.build_cp_response(pmd.OP_GET, cmd.meas, 2 if cmd.meas not in self.FEATURES else 3))
        elif cmd.op == pmd.OP_START:
            if cmd.meas == pmd.MEAS_SDK_MODE:
                status = 6 if self.sdk_mode or self.running else 0
                self.sdk_mode = True
                self._indicate(pmd.build_cp_response(pmd.OP_START, cmd.meas, status))
                return
            status = self._check_start(cmd.meas, cmd.settings)
            if status:
                self._indicate(pmd.build_cp_response(pmd.OP_START, cmd.meas, status))
                return
            if not self.running:  # a fresh measurement: empty frame buffers
                self.encoder.reset()
                self.acc_next = self._next_sample
                self.stream_next = {pmd.MEAS_ACC: self._next_sample, pmd.MEAS_GYRO: self._next_sample}
            self.running.add(cmd.meas)
            self.stream_on = self.wanted_types <= self.running
            self._indicate(pmd.build_start_response(cmd.meas, self._factor(cmd.meas)))
        else:  # STOP
            if cmd.meas == pmd.MEAS_SDK_MODE:
                status = 0 if self.sdk_mode else 6
                self.sdk_mode = False
                self.running.clear()
            else:
                status = 0 if cmd.meas in self.running else 6
                self.running.discard(cmd.meas)
            self.stream_on = self.wanted_types <= self.running
            self._indicate(pmd.build_cp_response(pmd.OP_STOP, cmd.meas, status))

    def on_disconnect(self) -> None:
        super().on_disconnect()
        self.running.clear()
        self.sdk_mode = False
        self.stream_on = False

    async def stop_stream_by_itself(self) -> None:
        if not self.running:
            return
        stopped = sorted(self.running)
        self.running.clear()
        self.stream_on = False
        self._indicate(bytes([0x01] + stopped))  # ONLINE_MEASUREMENT_STOPPED <types>

    async def emit(self, datas: list[bytes], first: int, n: int) -> None:
        from hipmon.emulation.sensor import NotificationRecord

        s = self.sensor
        pmd = self.pmd
        self._next_sample = first + n
        if not self.stream_on:
            # not measuring: nothing is framed (partly filled frames are discarded)
            self.encoder.reset()
            self.stream_next = {pmd.MEAS_ACC: first + n, pmd.MEAS_GYRO: first + n}
            if first + n > self.acc_next:
                self._seq += 1
                s.log.records.append(NotificationRecord(
                    self._seq, self.acc_next, first + n - self.acc_next, b"", "unsent",
                    float(s.source.time_session_s[first + n - 1])))
                self.acc_next = first + n
            return
        char = self.chars["data"]
        for data in datas:
            meas = data[0]
            count = 0
            start = self.acc_next
            channels = 4 if (meas == pmd.MEAS_MAG and data[9] == 0x81) else 3
            frame_n = int(pmd.unpack_delta_frame(data[pmd.HEADER_BYTES:], channels).shape[0]) \
                if data[9] & 0x80 else (len(data) - pmd.HEADER_BYTES) // 6
            s_first = self.stream_next.get(meas, 0)
            self.stream_next[meas] = s_first + frame_n
            if meas == pmd.MEAS_ACC:
                count = frame_n
                self.acc_next += count
            status = self.delivery(data)
            self._seq += 1
            last = min(start + max(count, 1), s.n_samples) - 1
            s.log.records.append(NotificationRecord(self._seq, start, count, data, status,
                                                    float(s.source.time_session_s[last]),
                                                    meas, s_first, frame_n))
            if status != "sent":
                continue
            if not await self.notify(char, data):
                return


class ThingyFirmware(Firmware):
    """Nordic Thingy:52 motion service: the config characteristic (9 bytes: pedometer,
    temperature, compass intervals in ms, motion frequency in Hz, wake-on-motion) is
    read/write; raw data streams on the CCCD at the configured motion frequency.

    Writes are validated as ``ble_tms`` does (length 9, intervals 100-5000 ms, motion
    1-200 Hz; otherwise an ATT error). The emulated sensor samples at one rate: a motion
    frequency other than that rate stops the raw stream (logged), as nothing at that
    rate could be produced.
    """

    DEFAULT_MOTION_HZ = 10

    def __init__(self, sensor: Any) -> None:
        super().__init__(sensor)
        from hipmon.codecs import thingy

        self.tms = thingy
        self.config = thingy.encode_config(self.DEFAULT_MOTION_HZ)
        self.configs_written: list[dict[str, int]] = []

    def properties_for(self, role: str) -> int:
        if role == "config":
            return _READ | _WRITE
        return super().properties_for(role)

    def on_read(self, role: str) -> bytes:
        if role == "config":
            return self.config
        return super().on_read(role)

    def _on_write(self, role: str, data: bytes) -> None:
        from bumble.att import ATT_Error

        self.sensor.log.commands.append((role, data))
        if role != "config":
            raise ATT_Error(0x03)  # write not permitted
        if len(data) != 9:
            raise ATT_Error(0x0D)  # invalid attribute value length
        cfg = self.tms.parse_config(data)
        intervals = (cfg["pedo_ms"], cfg["temp_ms"], cfg["compass_ms"])
        if not all(100 <= v <= 5000 for v in intervals) or not 1 <= cfg["motion_hz"] <= 200 \
                or cfg["wake_on_motion"] > 1:
            raise ATT_Error(0x13)  # value not allowed
        self.config = bytes(data)
        self.configs_written.append(cfg)
        self._apply()

    def _motion_hz(self) -> int:
        return int(self.tms.parse_config(self.config)["motion_hz"])

    def _apply(self) -> None:
        ok = abs(self._motion_hz() - self.sensor.rate_hz) < 1e-6
        if not ok and "data" in self.subscribed:
            log.info("%s: motion frequency %s Hz set; this emulated sensor samples at %g Hz",
                     self.sensor.name, self._motion_hz(), self.sensor.rate_hz)
        self.stream_on = ok and "data" in self.subscribed

    def _on_cccd(self, role: str, enabled: bool) -> None:
        if enabled:
            self.subscribed.add(role)
        else:
            self.subscribed.discard(role)
        self._apply()

    def on_disconnect(self) -> None:
        super().on_disconnect()
        self.stream_on = False


_FIRMWARE_BY_CODEC: dict[str, type[Firmware]] = {
    "movesense_gsp": MovesenseFirmware,
    "witmotion": WitMotionFirmware,
    "polar_pmd": PolarPmdFirmware,
    "thingy52": ThingyFirmware,
}


def firmware_for(profile: Profile) -> type[Firmware]:
    """The firmware class that runs ``profile``'s protocol."""
    return _FIRMWARE_BY_CODEC.get(profile.codec, Firmware)
