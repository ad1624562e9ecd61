"""The chosen test protocol: the athlete's prompt (big) and the protocol's result panel.

Both read a ``hipmon.app.model.ProtocolChoice`` (written by the picker in ``ControlsPanel``) and the
model; the prompt text and the result come from ``hipmon.app.model.protocol_prompt`` /
``protocol_result`` (which call ``hipmon.protocols``). No physics here: the panels show strings.
"""

from __future__ import annotations

import time

from PySide6 import QtCore, QtGui, QtWidgets

from hipmon.app import theme
from hipmon.app.model import DashboardModel, ProtocolChoice, protocol_prompt, protocol_result
from hipmon.app.panels.base import FrameView

#: the result is recomputed at most this often (wall seconds), or when the event count changes
RESULT_PERIOD_S = 1.0


class ProtocolPromptPanel(QtWidgets.QLabel):
    """The athlete's instruction, large enough to read from a few metres; hidden for a free session."""

    def __init__(self, model: DashboardModel, choice: ProtocolChoice, result_panel: "ProtocolResultPanel"):
        super().__init__("")
        self.model = model
        self.choice = choice
        self.result_panel = result_panel
        f = self.font()
        f.setPointSize(22)
        f.setBold(True)
        self.setFont(f)
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet(f"background:#eef1f8; color:{theme.PELVIS}; border-radius:6px; padding:6px;")
        self.setVisible(False)

    def refresh(self, frame: FrameView) -> None:
        text = protocol_prompt(self.choice, self.model.calibration().stage, self.result_panel.result)
        if text != self.text():
            self.setText(text)
        if self.isVisible() != bool(text):
            self.setVisible(bool(text))


class ProtocolResultPanel(QtWidgets.QGroupBox):
    """The chosen protocol's result so far: one line per hold / side / landing, and the notes."""

    def __init__(self, model: DashboardModel, choice: ProtocolChoice):
        super().__init__("Protocol result")
        self.model = model
        self.choice = choice
        self.result = None
        self._key: tuple | None = None
        self._wall = 0.0
        v = QtWidgets.QVBoxLayout(self)
        self.text = QtWidgets.QLabel("")
        self.text.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.text.setWordWrap(True)
        f = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        f.setPointSize(10)
        self.text.setFont(f)
        self.text.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        v.addWidget(self.text)
        self.setVisible(False)

    def refresh(self, frame: FrameView) -> None:
        if not self.choice.name:
            if self.isVisible():
                self.setVisible(False)
            self.result = None
            return
        if not self.isVisible():
            self.setVisible(True)
        key = (self.choice.name, self.choice.side, len(self.model.events()))
        wall = time.monotonic()
        if key == self._key and wall - self._wall < RESULT_PERIOD_S:
            return
        self._key, self._wall = key, wall
        self.result = protocol_result(self.model, self.choice)
        lines = self.result.lines() if self.result is not None else []
        self.setTitle(f"{lines[0]}: result" if lines else "Protocol result")
        body = "\n".join(line.strip() for line in lines[1:]) or "waiting for the first event"
        if body != self.text.text():
            self.text.setText(body)
