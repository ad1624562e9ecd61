"""The header row: names, source and session clock (``HeaderPanel``); record, marker, sound
and cue mode (``ControlsPanel``). Record and marker requests go to the ``SessionRunner``
(its thread does the disk and BLE work); a replay has none and they are disabled."""

from __future__ import annotations

import os
import time

from PySide6 import QtWidgets

from hipmon.app import theme
from hipmon.app.feedback import CueGate, FadeSchedule
from hipmon.app.model import DashboardModel, ProtocolChoice, protocol_options
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
        self.athlete_edit.setMinimumWidth(110)
        self.athlete_edit.setMaximumWidth(180)
        self.athlete_edit.textChanged.connect(lambda s: setattr(self.model.info, "athlete", s))
        h.addWidget(self.athlete_edit)
        h.addWidget(QtWidgets.QLabel("Session"))
        self.session_edit = QtWidgets.QLineEdit(info.session)
        self.session_edit.setPlaceholderText("e.g. baseline, week 4")
        self.session_edit.setMinimumWidth(110)
        self.session_edit.setMaximumWidth(200)
        self.session_edit.textChanged.connect(lambda s: setattr(self.model.info, "session", s))
        h.addWidget(self.session_edit)
        h.addSpacing(12)
        # the source can be long (an emulated session's description): elided, whole in the tooltip,
        # so the names and the controls keep their room
        short = info.source if len(info.source) <= 48 else info.source[:47] + "…"
        self.source_label = QtWidgets.QLabel(short)
        self.source_label.setToolTip(info.source)
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
    """Protocol and side (the picker, from ``hipmon.protocols``), ● Record / ■ Stop, Marker (M),
    Sound on/off, cue mode (every alert or faded).

    Record writes ``LIBRARY/<athlete>/<date>_<protocol>_<n>.hipmon`` when an athlete is named and
    ``library`` is set (``hipmon.library``), else ``recordings_dir/NAME-YYYYmmdd-HHMMSS.hipmon``; the
    recording keeps the protocol, its side and the athlete."""

    def __init__(self, model: DashboardModel, runner: SessionRunner | None, beeper: Beeper,
                 fade: FadeSchedule, session_name: QtWidgets.QLineEdit, choice: ProtocolChoice | None = None):
        super().__init__()
        self.model = model
        self.runner = runner
        self.beeper = beeper
        self.session_name = session_name
        self.recordings_dir = "."  # where Record writes NAME-YYYYmmdd-HHMMSS.hipmon
        self.library: str | None = None  # the athlete library (Record writes there when an athlete is named)
        self.choice = choice if choice is not None else ProtocolChoice()
        h = QtWidgets.QHBoxLayout(self)
        h.setContentsMargins(0, 0, 0, 0)
        self.protocol_box = QtWidgets.QComboBox()
        for label, name, _has_side in protocol_options():
            self.protocol_box.addItem(label, name)
        self.protocol_box.setToolTip("The test protocol: the athlete's prompt and the result panel follow it; "
                                     "a recording keeps it")
        h.addWidget(self.protocol_box)
        self.side_box = QtWidgets.QComboBox()
        for label, side in (("both sides", None), ("left", "left"), ("right", "right")):
            self.side_box.addItem(label, side)
        self.side_box.setToolTip("The tested (standing) leg of a one-leg protocol")
        h.addWidget(self.side_box)
        self.set_protocol(self.choice.name, self.choice.side)
        self.protocol_box.currentIndexChanged.connect(self._on_protocol)
        self.side_box.currentIndexChanged.connect(self._on_protocol)
        h.addSpacing(8)
        self.record_button = QtWidgets.QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.toggled.connect(self._on_record)
        self.record_button.setEnabled(runner is not None and runner.source.can_record)
        h.addWidget(self.record_button)
        self.marker_button = QtWidgets.QPushButton("Marker (M)")
        self.marker_button.clicked.connect(self.add_marker)
        self.marker_button.setEnabled(runner is not None)
        h.addWidget(self.marker_button)
        # the condition the next markers carry (e.g. "shoe A", "after fatigue"): recorded with them,
        # exported in every format, and what `hipmon compare --by-condition` splits the session by
        self.condition_edit = QtWidgets.QLineEdit()
        self.condition_edit.setPlaceholderText("condition (e.g. shoe A)")
        self.condition_edit.setToolTip("The condition the next markers carry: kept in the recording and every "
                                       "export; hipmon compare --by-condition compares the parts")
        self.condition_edit.setMinimumWidth(120)
        self.condition_edit.setMaximumWidth(170)
        self.condition_edit.setEnabled(runner is not None)
        h.addWidget(self.condition_edit)
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

    def set_protocol(self, name: str | None, side: str | None = None) -> None:
        """Select a protocol and side in the picker (and the shared choice)."""
        i = max(0, self.protocol_box.findData(name))
        self.protocol_box.setCurrentIndex(i)
        self.side_box.setCurrentIndex(max(0, self.side_box.findData(side)))
        self._on_protocol()

    def _on_protocol(self, *_: object) -> None:
        name = self.protocol_box.currentData()
        has_side = next((s for _l, n, s in protocol_options() if n == name), False)
        self.side_box.setEnabled(bool(has_side))
        self.choice.name = name
        self.choice.side = self.side_box.currentData() if has_side else None

    def recording_target(self) -> str:
        """Where Record writes now: the athlete library when an athlete is named, else ``recordings_dir``."""
        athlete = (self.model.info.athlete or "").strip()
        if athlete and self.library:
            from hipmon.library import new_session_path  # noqa: PLC0415

            return str(new_session_path(self.library, athlete, self.choice.name))
        return recording_path(self.recordings_dir, self.session_name.text())

    def _on_mute(self, muted: bool) -> None:
        self.beeper.muted = muted
        self.mute_button.setText("Sound: off" if muted else "Sound: on")

    def _on_record(self, on: bool) -> None:
        if self.runner is None:
            return
        if on:
            meta = self.choice.metadata()
            if (self.model.info.athlete or "").strip():
                meta["athlete"] = self.model.info.athlete.strip()
            try:
                path = self.recording_target()
            except Exception as exc:  # noqa: BLE001 - a library folder that cannot be made: say so, do not record
                QtWidgets.QToolTip.showText(self.record_button.mapToGlobal(self.record_button.rect().center()),
                                            f"cannot record: {exc}")
                self.record_button.setChecked(False)
                return
            self.runner.start_recording(path, metadata=meta)
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
            self.runner.add_marker(f"marker {len(self.model.markers()) + 1}", self.condition_edit.text().strip())
