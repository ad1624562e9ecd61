"""The real chain as a dashboard source: sensors (emulated or hardware) → BLE → pipeline.

``ChainSource`` owns an ``hipmon.ble.AcquisitionThread`` (asyncio in its own
thread; for the demo, emulated sensors on the bumble stack fed by the
simulator) and a ``hipmon.pipeline.Pipeline``. The runner thread calls
``read``: it drains the acquisition queue, writes the raw notifications to the
recording when one is open, and feeds the pipeline; the resulting
``Update(frames, events, alerts)`` goes to the ``LiveState``. Nothing here runs
on the GUI thread, and this module computes nothing itself.

A session has the three sensors or one on the sacrum alone (``placements``; a
session configuration with only a ``pelvis`` sensor, or ``emulated(placements=("pelvis",))``).
A (re)connect reaches the runner in order with the notifications: the pipeline resets
that sensor's decoder and clock map there, and a recording logs it, as ``hipmon record``
does, so a replay resets at the same place.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import queue
import time
from typing import Any

import numpy as np

from hipmon.app.feeds import DEMO_PRESET, limits_of
from hipmon.buffers import CalibrationStatus, Limit, SessionInfo
from hipmon.types import PLACEMENTS, Gap, RawNotification, SensorSpec, SensorStatus

__all__ = ["DEMO_PRESET", "ChainSource"]


class ChainSource:
    """Acquisition thread + pipeline (+ recording on demand). Build with ``create`` or ``emulated``/``hardware``.

    A ``hipmon.app.model.Source``: everything it does runs on the runner thread."""

    can_record = True

    def __init__(self, specs: list[SensorSpec], *, setup: Any = None, acq_kwargs: dict | None = None,
                 label: str = "sensors", metadata: dict | None = None, max_batch: int = 2000):
        self.specs = specs
        self._setup = setup
        self._acq_kwargs = acq_kwargs or {}
        self.label = label
        self.metadata = metadata or {}
        self.max_batch = max_batch
        self.thread: Any = None
        self.pipeline: Any = None
        self.writer: Any = None
        self.origin_ns = 0
        self._session_s = 0.0
        self._first_s: float | None = None
        self._calibrated = False
        self.n_notifications = 0
        self.finished = False
        self._end_after_s: float | None = None
        # (wall s, ms): how long after the newest sample's arrival its angles were in the buffer
        self._lags: collections.deque[tuple[float, float]] = collections.deque(maxlen=2000)
        #: the pipeline's settings (``hipmon live``'s pipeline options); None: the defaults
        self.pipeline_config: Any = None
        #: the placements of this session (PLACEMENTS order): all three, or ("pelvis",)
        self.placements: tuple[str, ...] = tuple(p for p in PLACEMENTS if p in {s.placement for s in specs})

    # ------------------------------------------------------------ construction

    @classmethod
    def create(cls, kind: str, **kw: Any) -> "ChainSource":
        if kind == "demo":
            return cls.emulated(**kw)
        return cls.hardware(**kw)

    @classmethod
    def emulated(cls, seconds: float = 120.0, seed: int = 7, speed: float = 1.0, profile: str = "movesense-gsp",
                 rate_hz: float = 208.0, loss: float = 0.0, preset: str = DEMO_PRESET, kind: str = "run",
                 placements: tuple[str, ...] = PLACEMENTS,
                 off_air: dict[str, tuple[tuple[float, float], ...]] | None = None,
                 simulate_options: dict[str, Any] | None = None, disconnects: int = 0,
                 **_: Any) -> "ChainSource":
        """Emulated sensors (``profile``) over the bumble BLE stack, fed by ``simulate(kind, preset=...)``.

        ``placements``: all three (default) or ``("pelvis",)``; ``off_air``: placement ->
        ``(session time s, seconds)`` spans that sensor is gone (a thigh lost part-way);
        ``simulate_options``: more ``simulate`` keyword arguments; ``disconnects``: forced drops
        per sensor, spread over the session."""
        from hipmon.emulation.backend import BumbleBleakClient, BumbleBleakScanner  # noqa: PLC0415
        from hipmon.emulation.session import EmulationPlan, open_session  # noqa: PLC0415

        placements = tuple(p for p in PLACEMENTS if p in set(placements))
        off_air = dict(off_air or {})
        sim_kw = {"preset": preset, **dict(simulate_options or {})}
        if sim_kw.get("preset") is None:
            sim_kw.pop("preset")
        # the one emulated-sensor set-up (hipmon record --emulate's); its drop times are record's
        plan = EmulationPlan(kind=kind, seconds=seconds, seed=seed, profile=profile, rate_hz=rate_hz, loss=loss,
                             disconnects=disconnects, speed=speed, jitter_s=0.004,
                             disconnect_window_s=(2.0, max(2.5, seconds - 2.0)), placements=placements,
                             off_air=off_air, extra={"simulate": sim_kw}, log_limit=1000)
        specs = [SensorSpec(p, p, profile, rate_hz) for p in placements]
        context: dict[str, Any] = {}

        async def setup() -> Any:
            radio, sensors, _origin = await open_session(plan)  # in process (a bumble LocalLink)
            for spec in specs:
                spec.address = sensors[spec.placement].address
            context.update(radio=radio, sensors=sensors)

            async def teardown() -> None:
                await radio.close()

            return context, teardown

        src = cls(
            specs, setup=setup,
            acq_kwargs=dict(client_backend=BumbleBleakClient, scanner_backend=BumbleBleakScanner, scan_timeout_s=2.0),
            label=(f"demo: emulated {profile} sensors over bumble BLE (simulated {kind}, {sim_kw.get('preset', 'healthy')}"
                   + (", one sensor on the sacrum" if placements == ("pelvis",) else "") + ")"),
            metadata={"source": "emulation", "emulation": {
                "kind": kind, "seconds": seconds, "seed": seed, "preset": sim_kw.get("preset"), "profile": profile,
                "rate_hz": rate_hz, "speed": speed, "loss": loss, "disconnects": disconnects,
                "simulate": {k: v for k, v in sim_kw.items() if k != "preset"}, "placements": list(placements),
                **({"off_air": {p: [list(x) for x in v] for p, v in off_air.items()}} if off_air else {})}},
        )
        src.context = context
        src._end_after_s = seconds
        return src

    @classmethod
    def hardware(cls, config: str | None = None, **_: Any) -> "ChainSource":
        """Real sensors from a session configuration (TOML: sensors, placements, profiles)."""
        from hipmon.ble.config import load_config  # noqa: PLC0415

        if not config:
            raise ValueError("give --config SESSION.toml (run `hipmon scan` to find your sensors)")
        cfg = load_config(config)  # all three placements, or the pelvis alone (checked there)
        one = [s.placement for s in cfg.sensors] == ["pelvis"]
        return cls(list(cfg.sensors), label=f"live: {config}" + (" (one sensor on the sacrum)" if one else ""),
                   metadata={"source": "hardware", "config": str(config)})

    # ------------------------------------------------------------ Source protocol

    def start(self) -> None:
        from hipmon.ble.acquisition import AcquisitionThread  # noqa: PLC0415
        from hipmon.pipeline import Pipeline, PipelineConfig  # noqa: PLC0415

        self.origin_ns = time.monotonic_ns()
        acq = dict(self._acq_kwargs)
        acq["event_sinks"] = list(acq.get("event_sinks", ())) + [self._on_connection_event]
        acq["gap_sinks"] = list(acq.get("gap_sinks", ())) + [self._on_gap]
        self.thread = AcquisitionThread(self.specs, setup=self._setup, origin_ns=self.origin_ns, keep_latencies=500,
                                        **acq)
        self.pipeline = Pipeline(
            [SensorSpec(s.sensor_id, s.placement, s.profile, s.rate_hz) for s in self.specs],
            self.pipeline_config or PipelineConfig(), origin_ns=self.origin_ns,
        )
        self.thread.start()  # blocks this (runner) thread while sensors connect; never the GUI

    def stop(self) -> None:
        if self.thread is not None:
            try:
                self.thread.stop()
            except Exception:
                pass
        if self.writer is not None:
            self.stop_recording()

    def _on_connection_event(self, ev: Any) -> None:
        """Acquisition's event sink (its monitor thread, in order with the notifications it queues):
        connection events go into the same queue, so ``read`` sees them in their place."""
        from hipmon.stream import IN_BAND_KINDS  # noqa: PLC0415

        if ev.kind in IN_BAND_KINDS and self.thread is not None:
            self.thread.queue.put_nowait(ev)

    def _on_gap(self, gap: Gap) -> None:
        """Acquisition's gap sink (its monitor thread): into the same queue, so a recording gets the
        gaps ``hipmon record`` writes (the pipeline finds its own from the samples)."""
        if self.thread is not None:
            self.thread.queue.put_nowait(gap)

    def read(self, timeout: float = 0.02) -> Any:
        """What the queue holds (up to ``max_batch`` notifications): to the recording and the
        pipeline, connection events in band in their place (the pipeline resets a sensor's
        decoder and clock map at its (re)connect, as a replay of the recording does)."""
        items = self._drain(timeout)
        if not items:
            return None
        update = self._feed(items)
        self._account(update)
        return update

    def _drain(self, timeout: float) -> list[Any]:
        q = self.thread.queue
        items: list[Any] = []
        n = 0
        try:
            item = q.get(timeout=timeout) if timeout > 0 else q.get_nowait()
        except queue.Empty:
            return items
        while True:
            items.append(item)
            n += isinstance(item, RawNotification)
            if n >= self.max_batch:
                break
            try:
                item = q.get_nowait()
            except queue.Empty:
                break
        return items

    def _feed(self, items: list[Any]) -> Any:
        gaps = [i for i in items if isinstance(i, Gap)]
        items = [i for i in items if not isinstance(i, Gap)]
        if self.writer is not None:
            for item in items:
                self.writer.item(item)  # notifications and connection events, in their place
            for gap in gaps:
                self.writer.gap(gap)
        self.n_notifications += sum(isinstance(i, RawNotification) for i in items)
        return self.pipeline.feed(items)

    def finish(self) -> list[Any]:
        """End of the session (runner thread): stop acquisition, take what is still queued into
        the recording and the pipeline, and flush the pipeline (``Pipeline.finish``, as a replay
        ends), so the last updates cover exactly the data the recording holds."""
        if self.thread is None or self.pipeline is None:
            return []
        try:
            self.thread.stop()
        except Exception:
            pass
        ups = []
        while True:
            items = self._drain(0.0)
            if not items:
                break
            ups.append(self._feed(items))
        ups.append(self.pipeline.finish())
        for u in ups:
            self._account(u)
        return ups

    def _account(self, update: Any) -> None:
        """Alerts to the recording; session clock, lag, calibration and end of the emulated session."""
        if self.writer is not None:
            for a in update.alerts:
                self.writer.alert(a)
        frames = update.frames
        if frames is not None and len(frames):
            self._session_s = float(frames.time_s[-1])
            # session time = the sync's estimate of when a sample arrived (lower envelope of host arrival),
            # so now − newest frame time = arrival → angles in the buffer (decode, queue, sync hold-back, pipeline)
            now_ns = time.monotonic_ns()
            self._lags.append((now_ns / 1e9, ((now_ns - self.origin_ns) / 1e9 - self._session_s) * 1e3))
            if self._first_s is None:
                self._first_s = float(frames.time_s[0])
        if update.calibration is not None or self.pipeline.calibration is not None:
            self._calibrated = True
        if self._end_after_s is not None and self._session_s >= self._end_after_s - 0.5:
            self.finished = True

    def session_time(self) -> float:
        return self._session_s

    def pipeline_lag_ms(self, window_s: float = 5.0) -> float | None:
        """Median over the last ``window_s`` of: arrival of the newest sample → its angles in the live buffer (ms)."""
        if not self._lags:
            return None
        now = time.monotonic()
        recent = [ms for t, ms in list(self._lags) if now - t <= window_s]
        return float(np.median(recent)) if recent else None

    def sensor_status(self) -> list[SensorStatus]:
        """Copies of the supervisors' statuses (the acquisition thread keeps writing the originals)."""
        statuses = self.thread.status().values() if self.thread is not None else ()
        return [dataclasses.replace(st, messages=list(st.messages)) for st in statuses]

    def calibration_status(self) -> CalibrationStatus:
        cal = self.pipeline.calibration if self.pipeline is not None else None
        if cal is not None:
            q = float(cal.quality)
            msg = "calibrated" + ("" if cal.trusted else " — low quality: stand still 3 s and walk 10 steps again")
            return CalibrationStatus("done", 1.0, q if math.isfinite(q) else None, msg)
        if self._first_s is None:
            return CalibrationStatus("none", 0.0, None, "waiting for sensors…")
        t = self._session_s - self._first_s
        if t < 3.0:
            return CalibrationStatus("stand", t / 3.0, None, "stand still, feet apart, facing forward")
        return CalibrationStatus("walk", min(1.0, (t - 3.0) / 8.0), None, "walk (or run) 10 steps")

    def limits(self) -> list[Limit]:
        engine = self.pipeline.alert_engine if self.pipeline is not None else None
        return limits_of(engine) if engine is not None else []

    # ------------------------------------------------------------ recording (runner thread only)

    def start_recording(self, path: str, info: SessionInfo | None = None) -> None:
        from hipmon.recording import SessionRecorder  # noqa: PLC0415

        meta = dict(self.metadata)
        if info is not None:
            meta.update(athlete=info.athlete, session=info.session)
        self.writer = SessionRecorder(path, meta, self.specs, self.origin_ns)  # same session clock as live

    def stop_recording(self) -> None:
        if self.writer is not None:
            w, self.writer = self.writer, None
            w.close()

    def add_marker(self, time_s: float, label: str, condition: str = "") -> None:  # noqa: D102
        if self.writer is not None:
            self.writer.marker(time_s, label, condition)

