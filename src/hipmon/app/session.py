"""The glue between a source and the dashboard: source → (pipeline) → ``LiveState``.

``SessionRunner`` is a worker thread that loops: read an update from the source
(``hipmon.app.model.Source``), push it into the ``LiveState`` ring buffers, refresh
sensor and calibration status twice a second, and carry out the GUI's requests
(record start/stop, markers) off the GUI thread. The GUI only reads the
``LiveState`` (``hipmon.app.model.DashboardModel``); it never waits on BLE, the
pipeline or the disk.

``hipmon.app.feeds.SimulatedFeed`` (truth angles, no sensors) and
``hipmon.app.chain.ChainSource`` (emulated or real sensors → ``hipmon.pipeline``)
are the two sources; ``make_source`` picks one, so swapping is one line.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
import time
from typing import Any, Callable

from hipmon.app.model import AngleFrames, Source, SourceUpdate
from hipmon.buffers import LiveState


class SessionRunner(threading.Thread):
    """Drains ``source`` into ``state`` until ``stop()``; requests from the GUI go through ``request``."""

    def __init__(self, source: Source, state: LiveState, status_period_s: float = 0.5, name: str = "hipmon-session",
                 sinks: "list[Callable[[SourceUpdate], None]] | None" = None,
                 marker_sinks: "list[Callable[[float, str, str], None]] | None" = None):
        super().__init__(name=name, daemon=True)
        self.source = source
        self.state = state
        #: more consumers of every update, on this thread, in order (e.g. ``hipmon.lsl.LiveLsl``)
        self.sinks = list(sinks or [])
        #: consumers of every marker placed live, (session time s, label, condition), on this thread
        #: (``hipmon.lsl.LiveLsl.marker``: the marker outlet)
        self.marker_sinks = list(marker_sinks or [])
        self.status_period_s = status_period_s
        self._stop_evt = threading.Event()
        self._requests: "queue.SimpleQueue[tuple[Callable[..., Any], tuple, str]]" = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.n_updates = 0
        self.finished = threading.Event()
        self._recording_metadata: dict = {}

    # -- called from the GUI thread (never block)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_evt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def request(self, fn: Callable[..., Any], *args: Any, what: str = "request") -> None:
        """Run ``fn(*args)`` on the runner thread (disk and BLE work stay off the GUI thread);
        a failure shows in the status line as ``"<what> failed: <error>"``."""
        self._requests.put((fn, args, what))

    def add_marker(self, label: str = "", condition: str = "") -> None:
        """A marker at the source's session time; recorded (with its condition) while recording."""
        def _do() -> None:
            t = float(self.source.session_time())
            self.state.add_marker(t, label)
            if self.source.can_record and self.state.recording():
                self.source.add_marker(t, label, condition)
            for sink in self.marker_sinks:
                sink(t, label, condition)

        self.request(_do, what="marker")

    def start_recording(self, path: str, metadata: dict | None = None) -> None:
        """Record to ``path``; ``metadata`` (protocol, its side, athlete) is stored once the file closes
        (``hipmon.recording.writer.amend_metadata``: the source's recorder takes the names it knows)."""
        def _do() -> None:
            if not self.source.can_record:
                self.state.set_message("this source cannot record (no raw sensor data)")
                return
            self.source.start_recording(path, self.state.info)
            self._recording_metadata = dict(metadata or {})
            self.state.set_recording(path)
            self.state.set_message(f"recording to {path}")

        self.request(_do, what="start recording")

    def stop_recording(self) -> None:
        def _do() -> None:
            if self.state.recording():
                path = self.state.recording()
                self._close_recording()
                self.state.set_message(f"saved {path}")

        self.request(_do, what="stop recording")

    def _close_recording(self) -> None:
        path = self.state.recording()
        self.source.stop_recording()
        self.state.set_recording(None)
        meta, self._recording_metadata = self._recording_metadata, {}
        if meta and path and os.path.exists(path):
            from hipmon.recording.writer import amend_metadata  # noqa: PLC0415

            amend_metadata(path, **meta)

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
                    self._push(update)
                now = time.monotonic()
                if now >= next_status:
                    self._refresh_status()
                    next_status = now + self.status_period_s
                if self.source.finished:
                    self._refresh_status()
                    break
        except BaseException as exc:  # shown in the GUI, not lost in a thread
            self.error = exc
            self.state.set_message(f"source stopped: {exc}")
        finally:
            try:
                self._serve_requests()
                if self.error is None:  # the last updates: what is still queued, the pipeline's flush
                    for update in self.source.finish():
                        if update is not None:
                            self._push(update)
                    self._refresh_status()
                if self.state.recording():
                    self._close_recording()
                self.source.stop()
            except Exception as exc:  # pragma: no cover - best effort on shutdown
                self.state.set_message(f"stop failed: {exc}")
            self.finished.set()

    def _push(self, update: SourceUpdate) -> None:
        self.state.push_update(per_column_gaps(update))
        self.n_updates += 1
        for sink in self.sinks:
            sink(update)

    def _serve_requests(self) -> None:
        while True:
            try:
                fn, args, what = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                fn(*args)
            except Exception as exc:
                self.state.set_message(f"{what} failed: {exc}")

    def _refresh_status(self) -> None:
        self.state.set_sensors(self.source.sensor_status())
        self.state.set_calibration(self.source.calibration_status())
        self.state.set_limits(self.source.limits())  # baseline-relative limits move as the baseline forms
        self.state.set_lag_ms(self.source.pipeline_lag_ms())


def per_column_gaps(update: SourceUpdate) -> SourceUpdate:
    """``update`` with its frames' ``valid`` set to where the pelvis has data.

    The pipeline's angles are already NaN per column where their sensors have no data (a
    hip needs the pelvis and that thigh); its ``valid`` is False wherever *any* sensor lacks
    data, and the live buffer blanks whole rows by it. With the pelvis' own validity a lost
    thigh is a gap in its hip's traces only, and the pelvis keeps flowing (as in replay)."""

    def fix(frames: AngleFrames | None) -> AngleFrames | None:
        if frames is None or "pelvis" not in frames.valid_sensor:
            return frames
        return dataclasses.replace(frames, valid=frames.valid_sensor["pelvis"])

    return dataclasses.replace(update, frames=fix(update.frames), backfill=fix(update.backfill))


def make_source(kind: str = "demo", **kw: Any) -> Source:
    """The one place that picks the source.

    - ``demo``: emulated sensors over the BLE stack → pipeline (``ChainSource.emulated``).
    - ``truth``: the simulator's true angles (``SimulatedFeed``; tests, benchmarks, ``--source truth``).
    - ``live``: real sensors (``ChainSource.hardware`` with a session configuration).
    """
    from hipmon.app import feeds  # noqa: PLC0415
    from hipmon.app.chain import ChainSource  # noqa: PLC0415

    if kind == "truth":
        return feeds.demo_feed(**kw)
    if kind in ("demo", "live"):
        return ChainSource.create(kind, **kw)
    raise ValueError(f"unknown source kind {kind!r}")
