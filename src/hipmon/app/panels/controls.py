"""The header row: names, source and session clock (``HeaderPanel``); record, marker, sound
and cue mode (``ControlsPanel``). Record and marker requests go to the ``SessionRunner``
(its thread does the disk and BLE work); a replay has none and they are disabled."""

from __future__ import annotations

import os
import time

from PySide6 import QtWidgets

from hipmon.app import theme
from hipmon.app.feedback import CueGate, FadeSchedule
from hipmon.app.model import DashboardModel
from hipmon.app.panels.alerts import Beeper
from hipmon.app.panels.base import FrameView
from hipmon.app.session import SessionRunner


def clock_text(now: float | None) -> str:
    return "t = —" if now is None else f"t = {int(now // 60):d}:{now % 60:04.1f}"


def recording_path(directory: str, session_name: str) -> str:
    """``DIR/NAME-YYYYmmdd-HHMMSS.hipmon`` for the session named ``session_name`` (spaces → ``_``)."""
    name = (session_name or "session").strip().replace(" ", "_")
    return os.path.join(directory, time.strftime(f"{name}-%Y%m%d-%H%M%S.hipmon"))


class HeaderPanel(QtWidgets.QWidget):
    """Logo, athlete and session names (edited into ``model.info``), the source, the session clock."""

    def __init__(self, model: DashboardModel):
        super().__init__()
        self.model = model
        info = model.info
        h = QtWidgets.QHBoxLayout(self)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(QtWidgets.QLabel("<b style='font-size:15pt; color:%s'>hipmon</b>" % theme.PELVIS))
        h.addSpacing(12)
        h.addWidget(QtWidgets.QLabel("Athlete"))
        self.athlete_edit = QtWidgets.QLineEdit(info.athlete)
        self.athlete_edit.setPlaceholderText("name")
        self.athlete_edit.setMaximumWidth(180)
        self.athlete_edit.textChanged.connect(lambda s: setattr(self.model.info, "athlete", s))
        h.addWidget(self.athlete_edit)
        h.addWidget(QtWidgets.QLabel("Session"))
        self.session_edit = QtWidgets.QLineEdit(info.session)
        self.session_edit.setPlaceholderText("e.g. baseline, week 4")
        self.session_edit.setMaximumWidth(200)
        self.session_edit.textChanged.connect(lambda s: setattr(self.model.info, "session", s))
        h.addWidget(self.session_edit)
        h.addSpacing(12)
        self.source_label = QtWidgets.QLabel(info.source)
        self.source_label.setStyleSheet(f"color:{theme.MUTED}")
        h.addWidget(self.source_label)
        h.addStretch(1)
        self.clock_label = QtWidgets.QLabel(clock_text(None))
        f = self.clock_label.font()
        f.setPointSize(13)
        self.clock_label.setFont(f)
        h.addWidget(self.clock_label)

    def refresh(self, frame: FrameView) -> None:
        text = clock_text(frame.now)
        if self.clock_label.text() != text:
            self.clock_label.setText(text)


class ControlsPanel(QtWidgets.QWidget):
    """● Record / ■ Stop, Marker (M), Sound on/off, cue mode (every alert or faded)."""

    def __init__(self, model: DashboardModel, runner: SessionRunner | None, beeper: Beeper,
                 fade: FadeSchedule, session_name: QtWidgets.QLineEdit):
        super().__init__()
        self.model = model
        self.runner = runner
        self.beeper = beeper
        self.session_name = session_name
        self.recordings_dir = "."  # where Record writes NAME-YYYYmmdd-HHMMSS.hipmon
        h = QtWidgets.QHBoxLayout(self)
        h.setContentsMargins(0, 0, 0, 0)
        self.record_button = QtWidgets.QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.toggled.connect(self._on_record)
        self.record_button.setEnabled(runner is not None and runner.source.can_record)
        h.addWidget(self.record_button)
        self.marker_button = QtWidgets.QPushButton("Marker (M)")
        self.marker_button.clicked.connect(self.add_marker)
        self.marker_button.setEnabled(runner is not None)
        h.addWidget(self.marker_button)
        self.mute_button = QtWidgets.QPushButton()
        self.mute_button.setCheckable(True)
        self.mute_button.setChecked(beeper.muted)
        self.mute_button.toggled.connect(self._on_mute)
        self._on_mute(beeper.muted)
        h.addWidget(self.mute_button)
        # faded feedback (off by default): the cue thins out over the session, the screen keeps every alert
        self.cue_box = QtWidgets.QComboBox()
        self.cue_box.addItem("Cue: every alert", None)
        self.cue_box.addItem(f"Cue: faded {'→'.join(map(str, fade.every))}", fade)
        self.cue_box.setToolTip(f"Faded feedback: the audible cue on every {', '.join(map(str, fade.every))}"
                                f"-th alert in stages of {fade.step_s / 60:g} min of session time; "
                                "banner, log and bars still show every alert.")
        self.cue_box.setCurrentIndex(1 if beeper.gate.schedule is not None else 0)
        self.cue_box.currentIndexChanged.connect(self._on_cue_mode)
        h.addWidget(self.cue_box)

    def refresh(self, frame: FrameView) -> None:
        pass  # the buttons show their own state

    def _on_mute(self, muted: bool) -> None:
        self.beeper.muted = muted
        self.mute_button.setText("Sound: off" if muted else "Sound: on")

    def _on_record(self, on: bool) -> None:
        if self.runner is None:
            return
        if on:
            self.runner.start_recording(recording_path(self.recordings_dir, self.session_name.text()))
            self.record_button.setText("■ Stop")
            self.record_button.setStyleSheet(f"color:white; background:{theme.ALERT}")
        else:
            self.runner.stop_recording()
            self.record_button.setText("● Record")
            self.record_button.setStyleSheet("")

    def _on_cue_mode(self, index: int) -> None:
        self.beeper.gate = CueGate(self.cue_box.itemData(index))

    def add_marker(self) -> None:
        if self.runner is not None:
            self.runner.add_marker(f"marker {len(self.model.markers()) + 1}")
