"""The alert banner, the alert log and the audible cue.

Which alerts are new, whether a replay's seek rewrote the history, and which alert the
banner holds are decided by ``hipmon.app.model.AlertTracker`` (``FrameView.alerts``); the
texts are the model's (``hipmon.buffers.alert_message`` of each ``hipmon.types.Alert``).
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6 import QtCore, QtGui, QtWidgets

from hipmon.app import theme
from hipmon.app.feedback import CueGate, FadeSchedule
from hipmon.app.model import Coverage, idle_banner
from hipmon.app.panels.base import FrameView
from hipmon.buffers import alert_message
from hipmon.types import Alert

MAX_LOG = 300


class Beeper:
    """The audible cue: ``QApplication.beep()`` (QtMultimedia is not in PySide6-Essentials); never fails offscreen.

    ``gate`` (``hipmon.app.feedback.CueGate``) thins the cues out on a faded-feedback schedule;
    every alert still reaches the banner and the log.
    """

    def __init__(self, muted: bool = False, fade: FadeSchedule | None = None):
        self.muted = muted
        self.gate = CueGate(fade)
        self.count = 0  # cues given (tests read this)
        self.withheld = 0  # alerts the fading schedule kept silent

    def cue(self, alert_times_s: list[float] | None = None) -> bool:
        """One cue for the alerts just raised (their session times); False when muted or faded out."""
        if self.muted:
            return False
        times = alert_times_s if alert_times_s else [0.0]
        allowed = [self.gate.allow(t) for t in times]  # every alert counts in the schedule
        if not any(allowed):
            self.withheld += 1
            return False
        self.count += 1
        try:
            QtWidgets.QApplication.beep()
        except Exception:  # pragma: no cover - a platform without a bell (Qt's, not ours)
            pass
        return True


class AlertBanner(QtWidgets.QLabel):
    """The big line under the header: the alert the tracker holds, or "No alert"."""

    def __init__(self, coverage: Coverage, calibration: Callable[[], Any] | None = None):
        super().__init__()
        self.coverage = coverage
        self.calibration = calibration  # the model's calibration status (what lets "within limits" be said)
        self.idle_text, self.idle_ok = idle_banner(None if calibration is None else calibration(),
                                                   coverage.hips_measured)
        f = self.font()
        f.setPointSize(17)
        f.setBold(True)
        self.setFont(f)
        self.setMinimumHeight(44)
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._key: object = "unset"
        self.show_alert(None)

    def show_alert(self, a: Alert | None) -> None:
        if a is self._key:  # the model hands out the same Alert object each time
            return  # a style sheet change re-polishes the label: only when the banner changes
        self._key = a
        if a is None:
            self.setText(self.idle_text)
            self.setStyleSheet(theme.BANNER_IDLE if self.idle_ok else theme.BANNER_UNSURE)
        else:
            self.setText(f"⚠  {alert_message(a)}")
            self.setStyleSheet(theme.BANNER_ALERT)

    def refresh(self, frame: FrameView) -> None:
        if self.calibration is not None:
            idle = idle_banner(self.calibration(), self.coverage.hips_measured)
            if idle != (self.idle_text, self.idle_ok):
                self.idle_text, self.idle_ok = idle
                self._key = "unset"  # redraw the idle banner
        self.show_alert(frame.alerts.banner)


class AlertLogPanel(QtWidgets.QGroupBox):
    """Every alert, newest on top, in its side's colour; ``on_activate(time_s)`` when one is clicked."""

    def __init__(self, on_activate: Callable[[float], None] | None = None):
        super().__init__("Alert log")
        self.list = QtWidgets.QListWidget()
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._on_activate = on_activate
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        QtWidgets.QVBoxLayout(self).addWidget(self.list)

    def refresh(self, frame: FrameView) -> None:
        delta = frame.alerts
        if delta.reset:
            self.list.clear()
        for a in delta.new:
            text = alert_message(a)
            item = QtWidgets.QListWidgetItem(f"{a.time_s:6.1f} s  {text}")
            item.setToolTip(text)
            item.setForeground(QtGui.QColor(theme.SIDE_COLOR.get(a.side, theme.FOREGROUND)))
            item.setData(QtCore.Qt.ItemDataRole.UserRole, a.time_s)
            self.list.insertItem(0, item)
        while self.list.count() > MAX_LOG:
            self.list.takeItem(self.list.count() - 1)

    def _activated(self, item: QtWidgets.QListWidgetItem) -> None:
        t = item.data(QtCore.Qt.ItemDataRole.UserRole)
        if t is not None and self._on_activate is not None:
            self._on_activate(float(t))
