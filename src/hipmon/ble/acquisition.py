"""Multi-sensor acquisition on bleak: supervisors, serialised connects, the notification queue.

Data path::

    bleak notification callback ──► queue.SimpleQueue  (RawNotification / ConnectionEvent, in order)
        (only time.monotonic_ns() + put)          │
                                                  ▼
                        StreamMonitor (own thread): sinks (e.g. SessionWriter.write),
                        decode per sensor (profile decoder), gaps, status, output queue

- :class:`Acquisition` (asyncio): one :class:`SensorSupervisor` task per sensor.
  Scans and connects happen one at a time (``connect_lock``: concurrent LE
  connection set-up fails on real adapters); each sensor's start sequence comes
  from its profile and is replayed after every reconnect; a drop is followed by
  back-off (0.1 s doubling to 2 s) and reconnection with no user action.
- :class:`AcquisitionThread`: the same in a worker thread with its own event loop
  (for the GUI and ``hipmon record``), with a :class:`StreamMonitor`.

One API for hardware (bleak's default backend) and emulation (``client_backend=
BumbleBleakClient, scanner_backend=BumbleBleakScanner``).
"""

from __future__ import annotations

import collections

import asyncio
import dataclasses
import functools
import logging
import queue
import threading
import time
from typing import Any, Callable

import numpy as np

from hipmon.stream import SensorStream
from hipmon.types import ConnectionEvent, Gap, RawNotification, SensorSpec, SensorStatus

log = logging.getLogger(__name__)


class SensorError(Exception):
    """A sensor that cannot be used (not a sensor, profile mismatch): no retry."""


def _on_notification(put: Callable[[Any], None], sensor_id: str, _char: Any, data: bytearray) -> None:
    """The bleak notification callback: stamp the host clock and queue the bytes. Nothing else."""
    put(RawNotification(sensor_id, time.monotonic_ns(), bytes(data)))


class SensorSupervisor:
    """Keeps one sensor streaming: find, connect, start sequence, wait, reconnect."""

    BACKOFF_S = (0.1, 0.2, 0.4, 0.8, 1.6, 2.0)

    def __init__(self, acq: "Acquisition", spec: SensorSpec, profile: Any) -> None:
        self.acq = acq
        self.spec = spec
        self.profile = profile
        self.rate_hz = float(spec.rate_hz or profile.default_rate_hz)
        self.status = SensorStatus(spec.sensor_id, spec.placement, profile.name, spec.address)
        self.client: Any = None
        self._dropped = asyncio.Event()
        self._restart = asyncio.Event()
        self._connected_once = False
        self.drop_times_ns: list[int] = []
        self.stream_times_ns: list[int] = []  # when streaming (re)started
        self._control_decoder: Any = None  # the codec's own word on control messages (stream stopped)

    def message(self, text: str) -> None:
        msg = f"sensor {self.spec.sensor_id} ({self.spec.placement}, {self.status.name or self.spec.address or self.spec.name}): {text}"
        self.status.messages.append(msg)
        log.warning(msg)
        self.acq.put(ConnectionEvent(self.spec.sensor_id, time.monotonic_ns(), "message", msg))

    # ---------------------------------------------------------------- finding
    async def find(self) -> Any:
        self.status.state = "scanning"
        device = await self.acq.finder.find(self, self.acq.scan_timeout_s)
        if device is None and self.acq.stopping.is_set():
            return None
        if device is None:
            raise TimeoutError(f"not found within {self.acq.scan_timeout_s:g} s")
        return device

    # ---------------------------------------------------------------- main loop
    async def run(self) -> None:
        attempt = 0
        while not self.acq.stopping.is_set():
            try:
                device = await self.find()  # one shared scan finds every sensor being looked for
                if device is None:  # stopping
                    break
                async with self.acq.connect_lock:  # connect: one sensor at a time
                    if self.acq.stopping.is_set():
                        break
                    self.status.name = device.name
                    self.status.address = device.address
                    self.status.state = "connecting"
                    await self.connect(device)
                await self.start_streaming()
                attempt = 0
                self.status.state = "streaming"
                await self._wait_for_drop_or_stop()
                if self.acq.stopping.is_set():
                    break
            except SensorError as exc:
                self.status.state = "failed"
                self.status.error = str(exc)
                self.message(str(exc))
                await self._disconnect_quietly()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # transient: retry with back-off
                self.status.error = f"{type(exc).__name__}: {exc}"
                log.info("sensor %s: attempt failed: %s", self.spec.sensor_id, self.status.error)
                await self._disconnect_quietly()
            self.status.connected = False
            self.status.state = "backoff"
            delay = self.BACKOFF_S[min(attempt, len(self.BACKOFF_S) - 1)]
            attempt += 1
            try:
                await asyncio.wait_for(self.acq.stopping.wait(), delay)
            except asyncio.TimeoutError:
                pass
        await self.shutdown()

    async def connect(self, device: Any) -> None:
        from bleak import BleakClient

        kwargs = dict(self.acq.backend_kwargs)
        if self.acq.client_backend is not None:
            kwargs["backend"] = self.acq.client_backend
        self._dropped.clear()
        client = BleakClient(
            device, disconnected_callback=self._on_disconnect, timeout=self.acq.connect_timeout_s, **kwargs
        )
        await client.connect()
        self.client = client

    def _on_disconnect(self, _client: Any) -> None:
        now = time.monotonic_ns()
        self.drop_times_ns.append(now)
        self.status.connected = False
        self.acq.put(ConnectionEvent(self.spec.sensor_id, now, "disconnect"))
        self._dropped.set()

    async def _wait_for_drop_or_stop(self) -> None:
        while True:
            waiters = [
                asyncio.ensure_future(self._dropped.wait()),
                asyncio.ensure_future(self.acq.stopping.wait()),
                asyncio.ensure_future(self._restart.wait()),
            ]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
            if self._restart.is_set() and not self._dropped.is_set() and not self.acq.stopping.is_set():
                self._restart.clear()
                self.message("the sensor stopped its stream; replaying the start sequence")
                await self.start_streaming(replay=True)
                continue
            return

    # ---------------------------------------------------------------- start/stop sequences
    def _char(self, role: str) -> str:
        uuid = self.profile.characteristics.get(role)
        if uuid is None:
            raise SensorError(f"profile {self.profile.name} has no characteristic role {role!r}")
        services = self.client.services
        if services is None or services.get_characteristic(uuid) is None:
            raise SensorError(
                f"characteristic {role} ({uuid}) of profile {self.profile.name} is missing on the device; "
                "it is not a sensor of this profile"
            )
        return uuid

    async def start_streaming(self, replay: bool = False) -> None:
        """Run the profile's start sequence (``replay``: after the sensor stopped its stream;
        notifications are still enabled).

        The connect/reconnect marker goes into the queue *before* the sequence: no sample can
        arrive before the subscription, so every notification after the marker belongs to the
        new connection (the monitor and the session reader reset the decoder there). After the
        sequence a ``streaming`` (or ``restart``) event marks when the sensor streams again.
        """
        client = self.client
        if not replay:
            await self.read_battery()
            kind = "reconnect" if self._connected_once else "connect"
            self.acq.put(ConnectionEvent(self.spec.sensor_id, time.monotonic_ns(), kind))
        for step in self.profile.start_steps(self.rate_hz):
            if step.op == "wait":
                await asyncio.sleep(step.seconds)
                continue
            uuid = self._char(step.char_role)
            if step.op == "notify":
                if replay:
                    continue
                if step.char_role == "data":
                    cb = functools.partial(_on_notification, self.acq.put, self.spec.sensor_id)
                else:
                    cb = functools.partial(self._on_control, step.char_role)
                await client.start_notify(uuid, cb)
            elif step.op == "write":
                await client.write_gatt_char(uuid, step.data, response=step.response)
            elif step.op == "read":
                await client.read_gatt_char(uuid)
        now = time.monotonic_ns()
        self.stream_times_ns.append(now)
        if replay:
            kind = "restart"
        else:
            kind = "streaming"
            if self._connected_once:
                self.status.reconnects += 1
        self._connected_once = True
        self.status.connected = True
        self.status.error = ""
        self.acq.put(ConnectionEvent(self.spec.sensor_id, now, kind))

    async def read_battery(self) -> None:
        """Battery level (0x2A19) where the profile declares a ``battery`` role and the device has it."""
        uuid = self.profile.characteristics.get("battery")
        services = getattr(self.client, "services", None)
        if uuid is None or services is None or services.get_characteristic(uuid) is None:
            return
        try:
            value = await self.client.read_gatt_char(uuid)
        except Exception as exc:  # a missing battery level never stops streaming
            log.info("sensor %s: battery read failed: %s", self.spec.sensor_id, exc)
            return
        if len(value) >= 1 and value[0] <= 100:
            self.status.battery_pct = int(value[0])

    def _on_control(self, role: str, _char: Any, data: bytearray) -> None:
        """Control-point notifications/indications (not samples): in band to the monitor as a
        RawNotification with ``role`` (recorded beside the data; the decoder takes e.g. Polar's
        START FACTOR from them); look for 'stream stopped'."""
        self.acq.put(RawNotification(self.spec.sensor_id, time.monotonic_ns(), bytes(data), role))
        if self._control_decoder is None:
            self._control_decoder = self.profile.make_decoder(self.rate_hz)
        if self._control_decoder.is_stream_stopped(bytes(data)):
            self._restart.set()

    async def shutdown(self) -> None:
        """Stop sequence, unsubscribe, disconnect (clean stop)."""
        client = self.client
        self.status.state = "stopped"
        if client is None or not client.is_connected:
            self.status.connected = False
            return
        client.set_disconnected_callback(None) if hasattr(client, "set_disconnected_callback") else None
        try:
            for step in self.profile.stop_steps():
                if step.op == "write":
                    await client.write_gatt_char(self._char(step.char_role), step.data, response=step.response)
            for step in self.profile.start_steps(self.rate_hz):
                if step.op == "notify":
                    try:
                        await client.stop_notify(self._char(step.char_role))
                    except Exception:
                        pass
        except Exception as exc:
            log.info("sensor %s: stop sequence failed: %s", self.spec.sensor_id, exc)
        await self._disconnect_quietly()
        self.status.connected = False

    async def _disconnect_quietly(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            await client.disconnect()
        except Exception:
            pass


class DeviceFinder:
    """One BLE scan shared by all supervisors.

    The scanner runs while at least one sensor is being looked for (start-up, or a
    sensor that dropped); each advertisement is matched against every waiting
    sensor's spec (address or name glob), so one scan finds all sensors at start-up
    and each supervisor goes on to connect as soon as its sensor was seen. A device
    another supervisor is using is not handed out twice.
    """

    def __init__(self, acq: "Acquisition") -> None:
        self.acq = acq
        self._waiters: dict[str, tuple[SensorSupervisor, asyncio.Future]] = {}
        self._scanner: Any = None
        self._lock = asyncio.Lock()
        self.scans_started = 0
        self.claims: dict[str, str] = {}  # sensor_id -> address handed to it (until it looks again)

    async def find(self, sup: "SensorSupervisor", timeout: float) -> Any:
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self.claims.pop(sup.spec.sensor_id, None)  # looking again: its device is free
        self._waiters[sup.spec.sensor_id] = (sup, fut)
        try:
            await self._update()
            try:
                return await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                return None
        finally:
            self._waiters.pop(sup.spec.sensor_id, None)
            await self._update()

    def cancel_all(self) -> None:
        """Stopping: every sensor still being looked for is not found."""
        for _, fut in self._waiters.values():
            if not fut.done():
                fut.set_result(None)

    def _in_use(self, address: str, by: str) -> bool:
        """Another sensor of this session was handed this device (name globs can match several)."""
        return any(sid != by and a == address.upper() for sid, a in self.claims.items())

    def _on_detect(self, device: Any, adv: Any) -> None:
        name = adv.local_name or device.name
        for sid, (sup, fut) in list(self._waiters.items()):
            if fut.done() or not sup.spec.matches(device.address, name) or self._in_use(device.address, sid):
                continue
            fut.set_result(device)
            self.claims[sid] = device.address.upper()
            break  # one advertisement, one sensor

    async def _update(self) -> None:
        """Scan while someone waits; stop when nobody does."""
        from bleak import BleakScanner

        async with self._lock:
            want = any(not fut.done() for _, fut in self._waiters.values()) and not self.acq.stopping.is_set()
            if want and self._scanner is None:
                kwargs = dict(self.acq.backend_kwargs)
                if self.acq.scanner_backend is not None:
                    kwargs["backend"] = self.acq.scanner_backend
                scanner = BleakScanner(detection_callback=self._on_detect, **kwargs)
                await scanner.start()
                self._scanner = scanner
                self.scans_started += 1
            elif not want and self._scanner is not None:
                scanner, self._scanner = self._scanner, None
                try:
                    await scanner.stop()
                except Exception:  # pragma: no cover - adapter gone
                    log.debug("scanner stop failed", exc_info=True)


class Acquisition:
    """Streams a set of sensors into ``queue`` (see the module docstring)."""

    def __init__(
        self,
        sensors: list[SensorSpec],
        *,
        client_backend: Any = None,
        scanner_backend: Any = None,
        backend_kwargs: dict[str, Any] | None = None,
        out: "queue.SimpleQueue[Any] | None" = None,
        scan_timeout_s: float = 5.0,
        connect_timeout_s: float = 10.0,
        profiles: dict[str, Any] | None = None,
    ) -> None:
        from hipmon.profiles import get_profile

        self.queue: queue.SimpleQueue[Any] = out if out is not None else queue.SimpleQueue()
        self._last_ns: int | None = None  # host_ns of the last item queued (``put``)
        self.client_backend = client_backend
        self.scanner_backend = scanner_backend
        self.backend_kwargs = dict(backend_kwargs or {})
        self.scan_timeout_s = scan_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.connect_lock = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.supervisors: dict[str, SensorSupervisor] = {}
        self.finder = DeviceFinder(self)
        for spec in sensors:
            profile = (profiles or {}).get(spec.profile) or get_profile(spec.profile)
            self.supervisors[spec.sensor_id] = SensorSupervisor(self, spec, profile)
        self._tasks: list[asyncio.Task] = []

    def put(self, item: Any) -> None:
        """Queue one item (``RawNotification`` or ``ConnectionEvent``), stamped later than every
        item queued before it: an item whose ``host_ns`` is not after the previous one's gets the
        previous ``host_ns`` + 1 ns.

        So the order of ``host_ns`` is the order of arrival, ties included (a clock coarser than
        the callbacks, e.g. Windows' ~15.6 ms ``time.monotonic_ns``): a recording's notifications
        sorted by ``host_ns``, with each logged connection event before the first notification
        at or after its ``host_ns`` (``hipmon.pipeline.replay_items``), are exactly the items in
        the order the live pipeline got them (issue 12). Called on the acquisition loop only.
        """
        ns = int(item.host_ns)
        if self._last_ns is not None and ns <= self._last_ns:
            ns = self._last_ns + 1
            item = dataclasses.replace(item, host_ns=ns)
        self._last_ns = ns
        self.queue.put_nowait(item)

    async def start(self) -> None:
        for sup in self.supervisors.values():
            self._tasks.append(asyncio.ensure_future(sup.run()))

    async def stop(self) -> None:
        self.stopping.set()
        self.finder.cancel_all()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=10.0)
            for t in pending:
                t.cancel()
        for sup in self.supervisors.values():
            if sup.client is not None:
                await sup.shutdown()

    def status(self) -> dict[str, SensorStatus]:
        return {sid: sup.status for sid, sup in self.supervisors.items()}


# ============================================================================ monitor


class _MonitoredStream(SensorStream):
    """The stream stage of one sensor (``hipmon.stream.SensorStream``) with its live status."""

    def __init__(self, sensor_id: str, profile: Any, rate_hz: float, status: SensorStatus | None,
                 origin_ns: int) -> None:
        super().__init__(sensor_id, profile.make_decoder(rate_hz), rate_hz, time_source=profile.time_source,
                         origin_ns=origin_ns)
        self.profile = profile
        self.status = status
        self.latencies_ns: list[int] = []


class StreamMonitor:
    """Drains an acquisition queue in its own thread: sinks, decoding, gaps, status.

    - ``sinks``: callables getting every RawNotification in arrival order
      (``SessionWriter.write``); ``event_sinks`` get every ConnectionEvent;
    - ``gap_sinks`` get each :class:`~hipmon.types.Gap` as it is found;
    - ``block_sinks`` get ``(sensor_id, ImuBlock)`` decoded off the callback;
    - ``out``: a queue with every RawNotification (for the pipeline/GUI).

    Gap accounting per sensor, in sample counts: within a connection from the
    decoder's ``sample_index`` (``hipmon.sync.detect_gaps``); across a
    reconnect (decoder reset) from the sensor's timestamps and its measured
    sample period. Protocols with neither (WitMotion, Thingy) get disconnect
    gaps estimated from host time (``exact`` False in the log).
    """

    def __init__(
        self,
        source: "queue.SimpleQueue[Any]",
        sensors: dict[str, tuple[Any, float]],  # sensor_id -> (profile, rate_hz)
        *,
        statuses: dict[str, SensorStatus] | None = None,
        origin_ns: int | None = None,
        sinks: list[Callable[[RawNotification], None]] | None = None,
        event_sinks: list[Callable[[ConnectionEvent], None]] | None = None,
        gap_sinks: list[Callable[[Gap], None]] | None = None,
        block_sinks: list[Callable[[str, Any], None]] | None = None,
        keep_latencies: bool | int = False,
    ) -> None:
        self.source = source
        self.origin_ns = time.monotonic_ns() if origin_ns is None else origin_ns
        self.sinks = list(sinks or [])
        self.event_sinks = list(event_sinks or [])
        self.gap_sinks = list(gap_sinks or [])
        self.block_sinks = list(block_sinks or [])
        self.out: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.gaps: list[Gap] = []
        self.messages: list[str] = []
        # True keeps every arrival -> decoded latency (benchmarks); an int N keeps the newest N (live)
        self.keep_latencies = bool(keep_latencies)
        self._latency_cap = None if isinstance(keep_latencies, bool) else int(keep_latencies)
        statuses = statuses or {}
        self.streams = {
            sid: _MonitoredStream(sid, prof, rate, statuses.get(sid), self.origin_ns)
            for sid, (prof, rate) in sensors.items()
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "StreamMonitor":
        self._thread = threading.Thread(target=self._loop, name="hipmon-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Process everything queued so far, then stop."""
        self._stop.set()
        self.source.put_nowait(None)
        if self._thread is not None:
            self._thread.join(30.0)

    def _loop(self) -> None:
        while True:
            item = self.source.get()
            if item is None:
                if self._stop.is_set():
                    # drain what is left
                    while True:
                        try:
                            item = self.source.get_nowait()
                        except queue.Empty:
                            return
                        if item is not None:
                            self.process(item)
                continue
            self.process(item)

    def session_s(self, host_ns: int) -> float:
        return (host_ns - self.origin_ns) / 1e9

    def process(self, item: Any) -> None:
        """One queued item, in arrival order: to the sinks, the stream stage and the status."""
        if isinstance(item, ConnectionEvent):
            st = self.streams.get(item.sensor_id)
            if st is not None:
                self._said(st.push(item))
            if item.kind == "message":
                self.messages.append(item.detail)
            for sink in self.event_sinks:
                sink(item)
            return
        note: RawNotification = item
        for sink in self.sinks:
            sink(note)
        self.out.put_nowait(note)
        st = self.streams.get(note.sensor_id)
        if note.role != "data":
            # a control-point message: written by the sinks like data (the recording keeps it
            # in its place); event sinks see it as a 'control' event
            if st is not None:
                self._said(st.push(note))
            event = ConnectionEvent(note.sensor_id, note.host_ns, "control", note.data.hex())
            for esink in self.event_sinks:
                esink(event)
            return
        if st is None:
            return
        got = st.push(note)
        self._said(got)
        if got.block is not None:
            if self.keep_latencies:
                if self._latency_cap is not None and not isinstance(st.latencies_ns, collections.deque):
                    st.latencies_ns = collections.deque(st.latencies_ns, maxlen=self._latency_cap)
                st.latencies_ns.append(time.monotonic_ns() - note.host_ns)
            for sink in self.block_sinks:
                sink(note.sensor_id, got.block)
        self._update_status(st)

    def _said(self, got: Any) -> None:
        """The gaps and messages of one item of the stream stage: kept, logged, to the gap sinks."""
        for msg in got.messages:
            self.messages.append(msg)
            log.warning(msg)
        for gap in got.gaps:
            self.gaps.append(gap)
            for sink in self.gap_sinks:
                sink(gap)

    def _update_status(self, st: _MonitoredStream) -> None:
        s = st.status
        if s is None:
            return
        s.notifications = st.notifications
        s.samples = st.samples
        s.samples_lost = st.lost
        s.bad_packets = st.bad
        s.gaps = sum(1 for g in self.gaps if g.sensor_id == st.sensor_id)
        if st.first_ns is not None and st.last_ns is not None and st.last_ns > st.first_ns:
            s.rate_measured_hz = st.samples / ((st.last_ns - st.first_ns) / 1e9)
        if st.latencies_ns:
            s.latency_ms_p50 = float(np.median(list(st.latencies_ns)[-500:])) / 1e6


# ============================================================================ thread


class AcquisitionThread:
    """Runs an :class:`Acquisition` (and optionally emulated sensors) in a worker thread.

    ``queue`` receives every RawNotification (decoded status in ``status()``).
    ``setup`` is an optional coroutine function ``setup(loop_ctx) -> teardown``
    run first in the worker loop (used to start emulated sensors).
    """

    def __init__(
        self,
        sensors: list[SensorSpec],
        *,
        setup: Callable[[], Any] | None = None,
        sinks: list[Callable[[RawNotification], None]] | None = None,
        event_sinks: list[Callable[[ConnectionEvent], None]] | None = None,
        gap_sinks: list[Callable[[Gap], None]] | None = None,
        block_sinks: list[Callable[[str, Any], None]] | None = None,
        origin_ns: int | None = None,
        keep_latencies: bool | int = False,
        freeze_gc: bool = True,
        **acq_kwargs: Any,
    ) -> None:
        from hipmon.profiles import get_profile

        self._freeze_gc = freeze_gc
        self.sensors = sensors
        self._setup = setup
        self._acq_kwargs = acq_kwargs
        self._raw: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.profiles = {s.sensor_id: get_profile(s.profile) for s in sensors}
        self.statuses = {
            s.sensor_id: SensorStatus(s.sensor_id, s.placement, s.profile, s.address) for s in sensors
        }
        self.monitor = StreamMonitor(
            self._raw,
            {s.sensor_id: (self.profiles[s.sensor_id], float(s.rate_hz or self.profiles[s.sensor_id].default_rate_hz)) for s in sensors},
            statuses=self.statuses,
            origin_ns=origin_ns,
            sinks=sinks,
            event_sinks=event_sinks,
            gap_sinks=gap_sinks,
            block_sinks=block_sinks,
            keep_latencies=keep_latencies,
        )
        self.queue = self.monitor.out
        self.acquisition: Acquisition | None = None
        self.context: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._done: asyncio.Event | None = None

    def start(self) -> "AcquisitionThread":
        self.monitor.start()
        self._thread = threading.Thread(target=self._run, name="hipmon-ble", daemon=True)
        self._thread.start()
        self._started.wait(60.0)
        if self._error is not None:
            raise self._error
        if self._freeze_gc:
            # Everything allocated so far (modules, the BLE stack, the simulator's
            # arrays) is long-lived: move it out of the collector's reach so that
            # a full collection while streaming does not stall decoding for tens
            # of ms (measured: a 35 ms gen-2 pass in a 20 s run otherwise).
            import gc

            gc.collect()
            gc.freeze()
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced by start()/stop()
            self._error = exc
            self._started.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        self._done = asyncio.Event()
        teardown = None
        try:
            if self._setup is not None:
                self.context, teardown = await self._setup()
            self._register_late_sensors()
            self.acquisition = Acquisition(
                self.sensors, out=self._raw,
                **self._acq_kwargs,
            )
            # share the status objects with the monitor
            for sid, sup in self.acquisition.supervisors.items():
                sup.status = self.statuses[sid]
            await self.acquisition.start()
            self._started.set()
            await self._done.wait()
            await self.acquisition.stop()
        finally:
            if teardown is not None:
                await teardown()

    def _register_late_sensors(self) -> None:
        """Sensors the setup added to ``sensors`` (emulation may add some)."""
        from hipmon.profiles import get_profile

        for s in self.sensors:
            if s.sensor_id in self.statuses:
                continue
            prof = get_profile(s.profile)
            self.profiles[s.sensor_id] = prof
            self.statuses[s.sensor_id] = SensorStatus(s.sensor_id, s.placement, s.profile, s.address)
            self.monitor.streams[s.sensor_id] = _MonitoredStream(
                s.sensor_id, prof, float(s.rate_hz or prof.default_rate_hz), self.statuses[s.sensor_id],
                self.monitor.origin_ns)

    def call(self, coro_fn: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Run ``coro_fn()`` on the acquisition loop and wait for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro_fn(), self._loop).result(timeout)

    def status(self) -> dict[str, SensorStatus]:
        return self.statuses

    def stop(self) -> None:
        """Stop sequences, unsubscribe, disconnect; then drain the monitor."""
        if self._loop is not None and self._done is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._done.set)
            self._thread.join(60.0)
        self.monitor.stop()
        if self._error is not None:
            raise self._error
