"""Emulated IMU sensors: bumble GATT peripherals that run a firmware profile's protocol.

An :class:`EmulatedSensor` is one virtual BLE peripheral on an
:class:`~hipmon.emulation.radio.EmulatedRadio`:

- it advertises like the real sensor (the profile's service UUID, a name that
  matches the profile's ``advertised_names``), connectable, 20 ms interval,
  restarted after every disconnect;
- its GATT server has the profile's service and characteristics (data: notify;
  command/control: write, plus read/indicate where the protocol has them);
- its firmware (:mod:`hipmon.emulation.firmware`, one class per protocol family)
  interprets the start/stop commands the client writes, answers them as the real
  firmware does, and streams the samples of a :class:`SampleSource` (the
  simulator's ``SimSensor``) encoded by the profile's own ``Encoder``;
- it paces itself on the sample clock: sample ``k`` of the source exists at
  ``time_session_s[k]`` (session seconds), scaled by ``speed`` (2.0 = twice real
  time); a notification leaves when its last sample exists, plus a
  connection-interval-like delay (impairment ``interval_s``/``jitter_s``);
- impairments on demand (:class:`Impairments`): notification loss, delay jitter,
  forced disconnects, and the sensor clock (``time_sensor_s`` of the source,
  offset and drift included) is what the encoder stamps.

Ground truth: :attr:`EmulatedSensor.log` records, per notification, the sample
range it carried and whether it was sent, dropped on purpose (loss injection) or
never sent because no client was subscribed (samples taken while disconnected).
"""

from __future__ import annotations

import collections

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from hipmon.types import ImuBlock

log = logging.getLogger(__name__)

#: a forced disconnect first stops feeding the link this long (s), so that what is queued reaches
#: the central and the sensor's "sent" log is what was received
DRAIN_BEFORE_DROP_S = 0.1


class SampleSource(Protocol):
    """What an emulated sensor samples: duck-typed like ``hipmon.simulate.SimSensor``."""

    rate_hz: float
    time_session_s: np.ndarray
    time_sensor_s: np.ndarray
    acc_sensor: np.ndarray
    gyr_sensor: np.ndarray
    mag_sensor: np.ndarray | None


@dataclass
class SyntheticSource:
    """A deterministic stand-in for a ``SimSensor`` (sinusoids + gravity + noise).

    ``drift_ppm`` and ``offset_s`` shape the sensor clock:
    ``time_sensor_s = offset_s + time_session_s * (1 + drift_ppm * 1e-6)``.
    """

    rate_hz: float
    time_session_s: np.ndarray
    time_sensor_s: np.ndarray
    acc_sensor: np.ndarray
    gyr_sensor: np.ndarray
    mag_sensor: np.ndarray | None
    placement: str = "pelvis"

    @classmethod
    def make(
        cls,
        seconds: float,
        rate_hz: float,
        seed: int = 0,
        drift_ppm: float = 20.0,
        offset_s: float = 12.5,
        placement: str = "pelvis",
    ) -> "SyntheticSource":
        rng = np.random.default_rng(seed)
        n = int(round(seconds * rate_hz))
        t = np.arange(n) / rate_hz
        f = 1.4 + 0.2 * rng.random()
        acc = np.stack(
            [2.0 * np.sin(2 * np.pi * f * t), 9.81 + 3.0 * np.cos(2 * np.pi * f * t), 0.5 * np.sin(np.pi * f * t)],
            axis=1,
        ) + rng.normal(0, 0.05, (n, 3))
        gyr = np.stack(
            [1.5 * np.sin(2 * np.pi * f * t + 0.3), 0.4 * np.cos(2 * np.pi * f * t), 2.0 * np.sin(2 * np.pi * f * t)],
            axis=1,
        ) + rng.normal(0, 0.01, (n, 3))
        mag = np.tile([20.0, -5.0, 40.0], (n, 1)) + rng.normal(0, 0.3, (n, 3))
        t_sensor = offset_s + t * (1.0 + drift_ppm * 1e-6)
        return cls(rate_hz, t, t_sensor, acc, gyr, mag, placement)


@dataclass
class Impairments:
    """Faults an emulated sensor injects (the radio itself is loss-free).

    - ``loss``: probability that a notification is dropped (its samples lost);
    - ``interval_s``: connection-interval-like quantum: a notification leaves at
      the next multiple of it after its last sample exists (0 = immediately);
    - ``jitter_s``: extra uniform random delay in [0, jitter_s] (no reordering);
    - ``disconnect_at_s``: session times (s) at which the sensor drops the link;
    - ``stop_stream_at_s``: session times at which the firmware stops its stream
      by itself where the protocol can say so (Polar); elsewhere ignored;
    - ``split_merge``: for byte-stream protocols (WitMotion) re-chunk the byte
      stream at random boundaries (packets split and merged), as UART bridges do;
    - ``off_air_s``: ``(session time, seconds)`` spans during which the sensor is gone
      (out of range, strap came off, flat battery): it drops the link and stops
      advertising, keeps sampling (those samples are ``unsent``), and comes back on the
      air afterwards, so the central reconnects and the span is a gap.
    """

    loss: float = 0.0
    interval_s: float = 0.0075
    jitter_s: float = 0.004
    disconnect_at_s: tuple[float, ...] = ()
    stop_stream_at_s: tuple[float, ...] = ()
    split_merge: bool | None = None  # None: the firmware's default
    off_air_s: tuple[tuple[float, float], ...] = ()


@dataclass
class NotificationRecord:
    """Ground truth about one notification the firmware produced."""

    seq: int
    first_sample: int
    n_samples: int
    data: bytes
    status: str  # "sent", "dropped" (loss injection), "unsent" (no subscriber/link)
    session_time_s: float
    #: Protocols with one frame per channel group (Polar PMD): the measurement type of the
    #: frame and the first sample/count of that stream it carries (``n_samples`` counts the
    #: master stream only, ACC for Polar).
    stream: int = -1
    stream_first: int = 0
    stream_count: int = 0


@dataclass
class SensorLog:
    """Everything an emulated sensor did, for tests and benchmarks."""

    records: list[NotificationRecord] = field(default_factory=list)  # a bounded deque after limit()
    commands: list[tuple[str, bytes]] = field(default_factory=list)
    disconnects: list[float] = field(default_factory=list)  # host monotonic s of forced drops
    connects: int = 0
    off_air: list[tuple[float, float]] = field(default_factory=list)  # (session time s, seconds) gone off the air

    def limit(self, max_records: int) -> None:
        """Keep only the newest ``max_records`` notification records (live sessions: nobody reads
        the whole truth there, and it grows ~2.4 MB/min with three sensors)."""
        self.records = collections.deque(self.records, maxlen=max_records)

    def sent(self) -> list[NotificationRecord]:
        return [r for r in self.records if r.status == "sent"]

    def samples_sent(self) -> np.ndarray:
        """Indices (into the source) of the samples carried by sent notifications."""
        parts = [np.arange(r.first_sample, r.first_sample + r.n_samples) for r in self.sent()]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def samples_not_sent(self) -> int:
        return sum(r.n_samples for r in self.records if r.status != "sent")


class EmulatedSensor:
    """One emulated sensor on a radio. See the module docstring."""

    def __init__(
        self,
        radio: Any,
        profile: Any,
        source: SampleSource,
        *,
        name: str | None = None,
        address: str | None = None,
        rate_hz: float | None = None,
        speed: float = 1.0,
        impairments: Impairments | None = None,
        seed: int = 0,
        firmware: Any = None,
        start_offset_s: float = 0.0,
    ) -> None:
        from hipmon.emulation.firmware import firmware_for

        self.radio = radio
        self.profile = profile
        self.source = source
        self.rate_hz = float(rate_hz or source.rate_hz or profile.default_rate_hz)
        self.address = (address or radio.new_peripheral_address()).upper()
        self.name = name or default_name(profile, self.address)
        self.speed = float(speed)
        self.impairments = impairments or Impairments()
        self.rng = random.Random(seed)
        self.log = SensorLog()
        self.device = None
        self.connection = None
        self.start_offset_s = start_offset_s
        self._t0: float | None = None  # host monotonic s at session time 0
        self._clock_task: asyncio.Task | None = None
        self._disconnect_task: asyncio.Task | None = None
        self._closed = False
        self.dropping = False
        self.off_air = False  # inside an ``Impairments.off_air_s`` span: no advertising, no connections
        self._adv_set: Any = None
        self.firmware = firmware or firmware_for(profile)(self)

    # ------------------------------------------------------------------ clock
    def session_time(self) -> float:
        """The sensor's current session time (s), scaled by ``speed``."""
        if self._t0 is None:
            return 0.0
        return (time.monotonic() - self._t0) * self.speed + self.start_offset_s

    def host_time_of(self, session_s: float) -> float:
        assert self._t0 is not None
        return self._t0 + (session_s - self.start_offset_s) / self.speed

    def sample_at(self, session_s: float) -> int:
        """Index of the first sample not yet taken at ``session_s``."""
        return int(np.searchsorted(self.source.time_session_s, session_s, side="right"))

    @property
    def n_samples(self) -> int:
        return int(self.source.time_session_s.shape[0])

    @property
    def finished(self) -> bool:
        return self.session_time() >= float(self.source.time_session_s[-1]) if self.n_samples else True

    def block(self, start: int, stop: int) -> ImuBlock:
        """Samples ``start:stop`` of the source as an ImuBlock (sensor clock)."""
        s = self.source
        mag = s.mag_sensor
        return ImuBlock(
            time_sensor_s=np.asarray(s.time_sensor_s[start:stop], dtype=np.float64),
            acc_sensor=np.asarray(s.acc_sensor[start:stop], dtype=np.float64),
            gyr_sensor=np.asarray(s.gyr_sensor[start:stop], dtype=np.float64),
            mag_sensor=None if mag is None else np.asarray(mag[start:stop], dtype=np.float64),
            sample_index=np.arange(start, stop, dtype=np.int64),
        )

    # ------------------------------------------------------------------ life cycle
    async def start(self, t0: float | None = None) -> "EmulatedSensor":
        """Power on, build the GATT server, advertise; the sample clock starts at ``t0``."""
        self.device = self.radio.make_device(self.name, self.address)
        self.firmware.build_gatt(self.device)
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        await self.device.power_on()
        self.radio.register(self.address, self)
        await self._advertise()
        self._t0 = time.monotonic() if t0 is None else t0
        self._clock_task = asyncio.ensure_future(self._impairment_clock())
        return self

    async def _advertise(self) -> None:
        from bumble.core import AdvertisingData, UUID

        service_uuid = UUID(self.profile.service_uuid)
        adv = AdvertisingData(
            [
                (AdvertisingData.FLAGS, bytes([0x06])),
                (
                    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS
                    if len(service_uuid.uuid_bytes) == 16
                    else AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                    service_uuid.to_bytes(),
                ),
            ]
        )
        adv = AdvertisingData(
            list(adv.ad_structures)
            + [(AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode("utf-8"))]
        )
        from bumble.device import AdvertisingEventProperties, AdvertisingParameters

        # Extended advertising (BLE 5) so that the service UUID and the full name
        # fit in one PDU: bumble's virtual controller echoes the advertising data
        # as scan response, so a legacy scan response cannot carry the name.
        params = AdvertisingParameters(
            advertising_event_properties=AdvertisingEventProperties(
                is_connectable=True, is_scannable=False, is_legacy=False
            ),
            primary_advertising_interval_min=20.0,
            primary_advertising_interval_max=20.0,
        )
        self._adv_set = await self.device.create_advertising_set(
            advertising_parameters=params,
            random_address=self.device.random_address,
            advertising_data=bytes(adv),
            auto_restart=True,
        )

    async def close(self) -> None:
        self._closed = True
        for task in (self._clock_task, self._disconnect_task):
            if task is not None:
                task.cancel()
        await self.firmware.shutdown()
        if self.connection is not None:
            try:
                await self.connection.disconnect()
            except Exception:
                pass
        if self.device is not None:
            try:
                await self.device.stop_advertising()
            except Exception:
                pass
        self.radio.unregister(self.address)

    # ------------------------------------------------------------------ link events
    def _on_connection(self, connection: Any) -> None:
        if self.off_air:  # a connection set up just as the sensor went away: it does not last
            asyncio.ensure_future(self._refuse(connection))
            return
        self.connection = connection
        self.log.connects += 1
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        self.firmware.on_connect(connection)

    def _on_disconnection(self, reason: int) -> None:
        self.connection = None
        self.firmware.on_disconnect()

    async def force_disconnect(self) -> None:
        """Drop the link from the sensor side (as a sensor out of range does)."""
        connection = self.connection
        if connection is None:
            return
        from bumble.hci import HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR

        self.log.disconnects.append(time.monotonic())
        # stop feeding the link and let what is already queued reach the central, so the ground
        # truth ("sent") is what the central received: 100 ms (20 ms lost a notification in
        # flight once in CI, with two test workers loading the machine)
        self.dropping = True
        await asyncio.sleep(DRAIN_BEFORE_DROP_S)
        try:
            await connection.disconnect(HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        except Exception:
            log.debug("forced disconnect failed", exc_info=True)
        finally:
            self.dropping = False

    async def _refuse(self, connection: Any) -> None:
        from bumble.hci import HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR

        try:
            await connection.disconnect(HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        except Exception:
            log.debug("refusing a connection failed", exc_info=True)

    async def go_off_air(self, seconds: float) -> None:
        """Gone for ``seconds`` of session time: drop the link, stop advertising, come back."""
        self.off_air = True
        self.log.off_air.append((self.session_time(), seconds))
        await self.force_disconnect()
        await asyncio.sleep(0.05)  # after bumble's auto-restart of the advertising set on disconnection
        if self._adv_set is not None:
            try:
                await self._adv_set.stop()
            except Exception:
                log.debug("stopping advertising failed", exc_info=True)
        await asyncio.sleep(max(0.0, seconds - 0.05) / self.speed)
        self.off_air = False
        if self._adv_set is not None and not self._closed:
            try:
                await self._adv_set.start()
            except Exception:
                log.debug("restarting advertising failed", exc_info=True)

    async def _impairment_clock(self) -> None:
        events = sorted(
            [(t, "disconnect", 0.0) for t in self.impairments.disconnect_at_s]
            + [(t, "stop", 0.0) for t in self.impairments.stop_stream_at_s]
            + [(t, "off", d) for t, d in self.impairments.off_air_s]
        )
        for t, what, seconds in events:
            delay = self.host_time_of(t) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if what == "disconnect":
                await self.force_disconnect()
            elif what == "off":
                await self.go_off_air(seconds)
            else:
                await self.firmware.stop_stream_by_itself()

    # ------------------------------------------------------------------ pacing helpers
    def delivery_delay(self) -> float:
        """Real seconds between a notification's last sample and its transmission."""
        imp = self.impairments
        delay = 0.0
        if imp.interval_s > 0:
            delay += self.rng.uniform(0.0, imp.interval_s)
        if imp.jitter_s > 0:
            delay += self.rng.uniform(0.0, imp.jitter_s)
        return delay / self.speed if self.speed > 1 else delay

    def should_drop(self) -> bool:
        return self.impairments.loss > 0 and self.rng.random() < self.impairments.loss


def default_name(profile: Any, address: str) -> str:
    """An advertised name matching the profile's first name pattern."""
    patterns = list(profile.advertised_names)
    suffix = address.replace(":", "")[-6:]
    if not patterns:
        return f"{profile.name}-{suffix}"
    pattern = patterns[0]
    base = pattern.split("*")[0].split("?")[0].split("[")[0].rstrip()
    if "*" in pattern or "?" in pattern or "[" in pattern:
        return f"{base}{suffix}" if base.endswith((" ", "-", "_")) else f"{base} {suffix}"
    return base
