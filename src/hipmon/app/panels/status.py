"""Per-sensor status and the calibration steps, as the model reports them."""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from hipmon.app import theme
from hipmon.app.model import Coverage, DashboardModel, link_level
from hipmon.app.panels.base import FrameView, fmt
from hipmon.types import PLACEMENTS

#: ``hipmon.app.model.link_level`` -> colour of the loss cell
LEVEL_COLOUR = {"ok": theme.FOREGROUND, "warn": theme.WARN, "bad": theme.ALERT}


class SensorPanel(QtWidgets.QGroupBox):
    """One row per sensor (link, rate, loss, lag, battery), a grey row per placement the session lacks,
    and the measured arrival → angles lag under the table."""

    def __init__(self, model: DashboardModel, coverage: Coverage):
        super().__init__("Sensors")
        self.model = model
        self.coverage = coverage
        v = QtWidgets.QVBoxLayout(self)
        self.table = QtWidgets.QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["sensor", "link", "Hz", "loss", "lag", "batt."])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        hh.setStretchLastSection(True)
        tips = {2: "samples per second measured over the connection", 3: "samples lost (gaps), % of expected",
                4: "BLE arrival → decoded, median of the last ~10 s", 5: "battery level read at connection"}
        for c, tip in tips.items():
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        v.addWidget(self.table)
        self.lag_label = QtWidgets.QLabel("")
        self.lag_label.setStyleSheet(f"color:{theme.MUTED}")
        self.lag_label.setToolTip("from a sample's arrival over BLE to its angles in the live buffer (sync, fusion, "
                                  "kinematics, events), median of the last 5 s; the screen adds up to one frame (33 ms)")
        v.addWidget(self.lag_label)

    def _cell(self, r: int, c: int, text: str, colour: str | None = None) -> Any:
        item = self.table.item(r, c)
        if item is None:
            item = QtWidgets.QTableWidgetItem()
            self.table.setItem(r, c, item)
        if item.text() != text:
            item.setText(text)
        if colour is not None and item.foreground().color().name() != colour:
            item.setForeground(QtGui.QColor(colour))
        return item

    def refresh(self, frame: FrameView) -> None:
        lag = self.model.lag_ms()
        text = "" if lag is None else f"angles on screen {lag:.0f} ms after the samples arrive (median, 5 s)"
        if self.lag_label.text() != text:
            self.lag_label.setText(text)
        sensors = self.model.sensors()
        have = {s.placement for s in sensors}
        absent = [p for p in PLACEMENTS if p not in self.coverage.placements and p not in have] if sensors else []
        if self.table.rowCount() != len(sensors) + len(absent):
            self.table.setRowCount(len(sensors) + len(absent))
        for r, p in enumerate(absent, start=len(sensors)):  # what the session does not have, and what that costs
            for c, text in enumerate([p, "— none", "", "", "", "hip angles need it"]):
                self._cell(r, c, text, theme.MUTED)
        for r, s in enumerate(sensors):
            self._cell(r, 0, s.placement or s.sensor_id)
            self._cell(r, 1, "● on" if s.connected else "○ lost", theme.OK if s.connected else theme.ALERT)
            self._cell(r, 2, fmt(s.rate_measured_hz or None, ".0f"))  # 0: not measured yet
            self._cell(r, 3, fmt(None if s.loss is None else 100 * s.loss, ".1f", " %"),
                       LEVEL_COLOUR.get(link_level(s.loss)))
            lat = s.latency_ms_p50  # NaN until known
            self._cell(r, 4, fmt(lat, ".1f" if not lat >= 10 else ".0f", " ms"))
            self._cell(r, 5, fmt(s.battery_pct, ".0f", " %"))


class CalibrationPanel(QtWidgets.QGroupBox):
    """Stand still → walk → calibrated, the model's stage highlighted, its message and progress under it."""

    STEPS = (("stand", "1. Stand still 3 s"), ("walk", "2. Walk 10 steps"), ("done", "3. Calibrated"))
    ORDER = {"none": -1, "stand": 0, "walk": 1, "done": 2}

    def __init__(self, model: DashboardModel):
        super().__init__("Calibration")
        self.model = model
        v = QtWidgets.QVBoxLayout(self)
        self.steps = QtWidgets.QLabel()
        self.steps.setTextFormat(QtCore.Qt.TextFormat.RichText)
        v.addWidget(self.steps)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        v.addWidget(self.progress)

    def refresh(self, frame: FrameView) -> None:
        c = self.model.calibration()
        cur = self.ORDER.get(c.stage, -1)
        parts = []
        for i, (_key, text) in enumerate(self.STEPS):
            if i == 2 and c.stage == "done" and c.quality is not None:
                text += f" (quality {c.quality:.2f})"
            if i < cur or (i == cur == 2):
                parts.append(f"<span style='color:{theme.OK}'>✔ {text}</span>")
            elif i == cur:
                parts.append(f"<b style='color:{theme.FOREGROUND}'>▶ {text}</b>")
            else:
                parts.append(f"<span style='color:{theme.MUTED}'>{text}</span>")
        html = "&nbsp;&nbsp;".join(parts)
        if c.message:
            html += f"<br><span style='color:{theme.FOREGROUND if c.stage != 'done' else theme.MUTED}'>{c.message}</span>"
        if self.steps.text() != html:
            self.steps.setText(html)
        self.progress.setValue(int(100 * (1.0 if c.stage == "done" else max(0.0, min(1.0, c.progress)))))
