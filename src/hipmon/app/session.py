"""The glue between a source and the dashboard: source → (pipeline) → ``LiveState``.

``SessionRunner`` is a worker thread that loops: read an ``Update`` from the
source, push it into the ``LiveState`` ring buffers, refresh sensor and
calibration status twice a second, and carry out the GUI's requests (record
start/stop, markers) off the GUI thread. The GUI only reads the ``LiveState``;
it never waits on BLE, the pipeline or the disk.

A *source* is any object with::

    start() / stop()
    read(timeout: float) -> Update | None          # frames, events, alerts due now
    session_time() -> float                        # for markers
    sensor_status() -> list[SensorStatus]
    calibration_status() -> CalibrationStatus
    limits() -> list[Limit]                        # alert bands
    pipeline_lag_ms() -> float | None              # optional: sample arrival -> angles buffered (ms)
    finish() -> list[Update]                       # optional: at the end, what is still queued and the
                                                   # pipeline's flush (before the recording closes)
    can_record: bool; start_recording(path, info); stop_recording(); add_marker(t, label)   (optional)

``hipmon.app.feeds.SimulatedFeed`` (truth angles, no sensors) and
``hipmon.app.chain.ChainSource`` (emulated or real sensors → ``hipmon.pipeline``)
are the two; ``make_source`` picks one, so swapping is one line.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable

from hipmon.buffers import LiveState


class SessionRunner(threading.Thread):
    """Drains ``source`` into ``state`` until ``stop()``; requests from the GUI go through ``request``."""

    def __init__(self, source: Any, state: LiveState, status_period_s: float = 0.5, name: str = "hipmon-session"):
        super().__init__(name=name, daemon=True)
        self.source = source
        self.state = state
        self.status_period_s = status_period_s
        self._stop_evt = threading.Event()
        self._requests: "queue.SimpleQueue[tuple[Callable[..., Any], tuple]]" = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.n_updates = 0
        self.finished = threading.Event()

    # -- called from the GUI thread (never block)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_evt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def request(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the runner thread (disk and BLE work stay off the GUI thread)."""
        self._requests.put((fn, args))

    def add_marker(self, label: str = "") -> None:
        def _do() -> None:
            t = float(self.source.session_time())
            self.state.add_marker(t, label)
            if getattr(self.source, "can_record", False) and self.state.recording():
                self.source.add_marker(t, label)

        self.request(_do)

    def start_recording(self, path: str) -> None:
        def _do() -> None:
            if not getattr(self.source, "can_record", False):
                self.state.set_message("this source cannot record (no raw sensor data)")
                return
            self.source.start_recording(path, self.state.info)
            self.state.set_recording(path)
            self.state.set_message(f"recording to {path}")

        self.request(_do)

    def stop_recording(self) -> None:
        def _do() -> None:
            if self.state.recording():
                self.source.stop_recording()
                self.state.set_message(f"saved {self.state.recording()}")
                self.state.set_recording(None)

        self.request(_do)

    # -- the thread

    def run(self) -> None:
        try:
            self.source.start()
            self._refresh_status()
            next_status = time.monotonic() + self.status_period_s
            while not self._stop_evt.is_set():
                self._serve_requests()
                update = self.source.read(0.02)
                if update is not None:
                    self.state.push_update(per_column_gaps(update))
                    self.n_updates += 1
                now = time.monotonic()
                if now >= next_status:
                    self._refresh_status()
                    next_status = now + self.status_period_s
                if getattr(self.source, "finished", False):
                    self._refresh_status()
                    break
        except BaseException as exc:  # shown in the GUI, not lost in a thread
            self.error = exc
            self.state.set_message(f"source stopped: {exc}")
        finally:
            try:
                self._serve_requests()
                finish = getattr(self.source, "finish", None)  # optional: the last updates at the end
                if finish is not None and self.error is None:
                    for update in finish():
                        if update is not None:
                            self.state.push_update(per_column_gaps(update))
                            self.n_updates += 1
                    self._refresh_status()
                if self.state.recording():
                    self.source.stop_recording()
                    self.state.set_recording(None)
                self.source.stop()
            except Exception as exc:  # pragma: no cover - best effort on shutdown
                self.state.set_message(f"stop failed: {exc}")
            self.finished.set()

    def _serve_requests(self) -> None:
        while True:
            try:
                fn, args = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                fn(*args)
            except Exception as exc:
                self.state.set_message(f"{getattr(fn, '__name__', 'request')} failed: {exc}")

    def _refresh_status(self) -> None:
        self.state.set_sensors(self.source.sensor_status())
        self.state.set_calibration(self.source.calibration_status())
        self.state.set_limits(self.source.limits())  # baseline-relative limits move as the baseline forms
        lag = getattr(self.source, "pipeline_lag_ms", None)
        if lag is not None:
            self.state.set_lag_ms(lag())


def per_column_gaps(update: Any) -> Any:
    """``update`` with its frames' ``valid`` set to where the pelvis has data.

    The pipeline's angles are already NaN per column where their sensors have no data (a
    hip needs the pelvis and that thigh); its ``valid`` is False wherever *any* sensor lacks
    data, and the live buffer blanks whole rows by it. With the pelvis' own validity a lost
    thigh is a gap in its hip's traces only, and the pelvis keeps flowing (as in replay)."""
    import dataclasses  # noqa: PLC0415

    def fix(frames: Any) -> Any:
        vs = getattr(frames, "valid_sensor", None) or {}
        if frames is None or "pelvis" not in vs or not dataclasses.is_dataclass(frames):
            return frames
        return dataclasses.replace(frames, valid=vs["pelvis"])

    if not dataclasses.is_dataclass(update):
        return update
    changes = {}
    for name in ("frames", "backfill"):
        if getattr(update, name, None) is not None:
            changes[name] = fix(getattr(update, name))
    return dataclasses.replace(update, **changes) if changes else update


def make_source(kind: str = "demo", **kw: Any) -> Any:
    """The one place that picks the source.

    - ``demo``: emulated sensors over the BLE stack → pipeline (``ChainSource``)
      when those modules import, else the simulator's truth (``SimulatedFeed``).
    - ``truth``: always ``SimulatedFeed`` (tests, benchmarks, ``--source truth``).
    - ``live``: real sensors (``ChainSource`` with a session configuration or a scan).
    """
    from hipmon.app import feeds  # noqa: PLC0415

    if kind == "truth":
        return feeds.demo_feed(**kw)
    if kind in ("demo", "live"):
        try:
            from hipmon.app.chain import ChainSource  # noqa: PLC0415

            return ChainSource.create(kind, **kw)
        except ImportError as exc:
            if kind == "live":
                raise
            src = feeds.demo_feed(**{k: v for k, v in kw.items() if k in ("seconds", "seed", "speed", "loop")})
            src.label += f" — BLE chain unavailable: {exc}"
            return src
    raise ValueError(f"unknown source kind {kind!r}")
