"""The dashboard window: the coach's live view and the analyst's replay, the same panels.

The window reads a *model* (``hipmon.app.model.DashboardModel``: ``hipmon.buffers.LiveState``
live, written by the runner thread, or ``hipmon.app.replay.ReplayModel``, a recording and a
playhead) on a ~40 Hz timer. Each redraw it asks the model's clock and alert limits once,
lets the ``AlertTracker`` read the new alerts, and hands that ``FrameView`` to every panel
(``hipmon.app.panels``); each panel reads what else it shows from the model. The window
computes nothing and decides nothing about alerts: bands, metric limits, which strides are
flagged and what the banner holds come from ``hipmon.app.model``.

Layout: header (names, source, clock · protocol and side, record, marker, sound, cue) · the
athlete's prompt (a protocol chosen) · alert banner · traces | frontal figure over calibration over
the protocol's result · per-stride bars | alert log | sensors · (replay) the ReplayBar.

A session with one sensor on the sacrum (the model's ``placements == ("pelvis",)``) shows
what it cannot measure instead of empty plots (``hipmon.app.model.Coverage``, from
``hipmon.pipeline.measurable``). A thigh lost part-way is a gap in its hip's traces (the
angles are NaN there) and "○ lost" in the sensor panel.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from hipmon.app import _qtfix, theme
from hipmon.app.feedback import FadeSchedule
from hipmon.app.figure import FrontalFigure
from hipmon.app.model import AlertTracker, Coverage, DashboardModel, ProtocolChoice, Seekable, bands_by_column
from hipmon.app.panels.alerts import AlertBanner, AlertLogPanel, Beeper
from hipmon.app.panels.bars import StrideBarsPanel
from hipmon.app.panels.base import FrameView, Panel
from hipmon.app.panels.controls import ControlsPanel, HeaderPanel
from hipmon.app.panels.protocol import ProtocolPromptPanel, ProtocolResultPanel
from hipmon.app.panels.status import CalibrationPanel, SensorPanel
from hipmon.app.panels.traces import TRACE_SECONDS, TracesPanel
from hipmon.app.session import SessionRunner

if TYPE_CHECKING:
    from hipmon.app.replay import ReplayBar

_qtfix.apply()

REFRESH_HZ = 40.0  # the redraw timer: headroom above 30 fps on a shared machine (measured: docs/benchmarks.md)
BANNER_HOLD_S = 4.0  # an alert stays on the banner this long (session time)


class Dashboard(QtWidgets.QMainWindow):
    """The main window. ``model``: a ``DashboardModel``; ``runner``: a SessionRunner (live) or None (replay).

    The panels are attributes (``header``, ``controls``, ``banner``, ``traces``, ``figure``,
    ``calibration``, ``bars``, ``alert_panel``, ``sensors``); their main widgets are also
    reachable under their old names (``curves``, ``bar_items``, ``alert_log``, ...).
    """

    def __init__(self, model: DashboardModel, runner: SessionRunner | None = None, *, muted: bool = False,
                 title: str = "hipmon", refresh_hz: float = REFRESH_HZ, trace_seconds: float = TRACE_SECONDS,
                 fade: FadeSchedule | None = None):
        super().__init__()
        pg.setConfigOptions(antialias=False, foreground=theme.FOREGROUND, background=theme.BACKGROUND)
        self.model = model
        self.runner = runner
        self.coverage = Coverage.of(model.placements)
        self.beeper = Beeper(muted, fade)
        self.alert_tracker = AlertTracker(hold_s=BANNER_HOLD_S)
        self.setWindowTitle(title)
        self.resize(1600, 940)
        self._frame_times: list[float] = []
        self.n_redraws = 0
        self._status_key: tuple[str, str | None] | None = None
        self._status_wall = 0.0

        # ---- the panels
        self.header = HeaderPanel(model)
        self.protocol_choice = ProtocolChoice()
        self.controls = ControlsPanel(model, runner, self.beeper, fade or FadeSchedule(), self.header.session_edit,
                                      self.protocol_choice)
        self.protocol_result = ProtocolResultPanel(model, self.protocol_choice)
        self.prompt = ProtocolPromptPanel(model, self.protocol_choice, self.protocol_result)
        self.banner = AlertBanner(self.coverage, self.model.calibration)
        self.traces = TracesPanel(model, self.coverage, trace_seconds)
        self.figure = FrontalFigure(model)
        self.figure.setMinimumWidth(380)
        if not self.coverage.hips_measured:
            self.figure.thigh_note = "needs a\nthigh sensor"
        self.calibration = CalibrationPanel(model)
        self.bars = StrideBarsPanel(model, self.coverage)
        self.alert_panel = AlertLogPanel(self._seek_to_alert if isinstance(model, Seekable) else None)
        self.sensors = SensorPanel(model, self.coverage)
        self.panels: list[Panel] = [self.header, self.controls, self.traces, self.figure, self.bars,
                                    self.banner, self.alert_panel, self.sensors, self.calibration,
                                    self.protocol_result, self.prompt]

        # ---- layout
        central = QtWidgets.QWidget()
        self.setCentralWidget(central)
        root = QtWidgets.QVBoxLayout(central)
        root.setContentsMargins(8, 6, 8, 6)
        root.setSpacing(6)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.header, stretch=1)
        top.addSpacing(10)
        top.addWidget(self.controls)
        root.addLayout(top)
        root.addWidget(self.prompt)
        root.addWidget(self.banner)
        middle = QtWidgets.QHBoxLayout()
        middle.addWidget(self.traces, stretch=3)
        right = QtWidgets.QVBoxLayout()
        right.addWidget(self.figure, stretch=1)
        right.addWidget(self.calibration)
        right.addWidget(self.protocol_result)
        middle.addLayout(right, stretch=1)
        root.addLayout(middle, stretch=3)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.bars, stretch=5)
        bottom.addWidget(self.alert_panel, stretch=3)
        bottom.addWidget(self.sensors, stretch=3)
        root.addLayout(bottom, stretch=2)
        self.replay_bar: ReplayBar | None = None
        self.statusBar().showMessage("")
        QtGui.QShortcut(QtGui.QKeySequence("M"), self, activated=self.controls.add_marker)

        # ---- the panels' widgets under their old names (tests, benchmarks)
        self.placements = self.coverage.placements
        self.hips_measured = self.coverage.hips_measured
        self.notes = {**self.traces.notes, **self.bars.notes}
        self.trace_seconds = trace_seconds
        self.curves, self.trace_plots, self.playhead_lines = self.traces.curves, self.traces.plots, \
            self.traces.playhead_lines
        self.bar_items, self.bar_flags = self.bars.items, self.bars.flags
        self.alert_log = self.alert_panel.list
        self.sensor_table = self.sensors.table
        self.athlete_edit, self.session_edit = self.header.athlete_edit, self.header.session_edit
        self.clock_label = self.header.clock_label
        self.record_button, self.marker_button = self.controls.record_button, self.controls.marker_button
        self.mute_button, self.cue_box = self.controls.mute_button, self.controls.cue_box

        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.setInterval(int(1000 / refresh_hz))
        self.timer.timeout.connect(self.refresh)

    @property
    def recordings_dir(self) -> str:
        """Where the Record button writes NAME-YYYYmmdd-HHMMSS.hipmon."""
        return self.controls.recordings_dir

    @recordings_dir.setter
    def recordings_dir(self, path: str) -> None:
        self.controls.recordings_dir = path

    def set_protocol(self, name: str | None, side: str | None = None) -> None:
        """Pick a protocol and side (as the controls' picker does): the prompt and result panel follow."""
        self.controls.set_protocol(name, side)

    @property
    def library(self) -> str | None:
        """The athlete library the Record button writes to when an athlete is named."""
        return self.controls.library

    @library.setter
    def library(self, path: str | None) -> None:
        self.controls.library = path

    def add_replay_bar(self, bar: ReplayBar) -> None:
        """Replay controls go under the panels (``hipmon.app.replay.ReplayBar``)."""
        self.replay_bar = bar
        self.centralWidget().layout().addWidget(bar)

    def add_marker(self) -> None:
        self.controls.add_marker()

    def _seek_to_alert(self, time_s: float) -> None:
        self.model.seek(time_s - 1.0)
        self.refresh()

    # ------------------------------------------------------------------ redraw

    def start(self) -> None:
        self.timer.start()

    def measured_fps(self) -> float:
        ts = self._frame_times
        if len(ts) < 2:
            return 0.0
        return (len(ts) - 1) / (ts[-1] - ts[0])

    def refresh(self) -> None:
        """One redraw from the model (the timer calls this ~30×/s)."""
        m = self.model
        m.tick()
        now = m.now_s()
        delta = self.alert_tracker.poll(m, now)
        if delta.new and not delta.reset and m.audible:
            self.beeper.cue([a.time_s for a in delta.new])
        elif delta.reset:
            self.beeper.gate.reset()  # a replay's seek: no beeps, the fading schedule starts over
        frame = FrameView(now, bands_by_column(m.limits()), delta)
        for panel in self.panels:
            panel.refresh(frame)
        self._show_status()
        if self.replay_bar is not None:
            self.replay_bar.refresh()
        self.n_redraws += 1
        self._frame_times.append(time.perf_counter())
        if len(self._frame_times) > 60:
            del self._frame_times[:-60]

    def _show_status(self) -> None:
        msg, rec = self.model.message(), self.model.recording()
        wall = time.perf_counter()
        if (msg, rec) != self._status_key or wall - self._status_wall > 0.5:
            self._status_key, self._status_wall = (msg, rec), wall
            fps = self.measured_fps()
            self.statusBar().showMessage(
                "  ·  ".join(s for s in (f"● REC {rec}" if rec else "", msg, f"{fps:.0f} fps" if fps else "") if s)
            )

    # ------------------------------------------------------------------ output

    def save_screenshot(self, path: str) -> bool:
        """Render the window (works offscreen) and save a PNG."""
        self.refresh()
        QtWidgets.QApplication.processEvents()
        return self.grab().save(str(path))

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:  # noqa: N802
        self.timer.stop()
        if self.runner is not None:
            self.runner.stop()
        super().closeEvent(ev)
