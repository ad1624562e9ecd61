"""The dashboard window: the coach's live view and the analyst's replay, the same views.

The window reads a *model* on a ~30 Hz timer and draws; it computes nothing.
A model is ``hipmon.buffers.LiveState`` (live, written by the runner thread)
or ``hipmon.app.replay.ReplayModel`` (a whole recording and a playhead); both
offer: ``now_s``, ``angles_window``, ``current_angles``, ``events``,
``alerts``, ``sensors``, ``calibration``, ``limits``, ``markers``,
``recording``, ``message``, ``info``.

Views: alert banner (with a mutable beep) · scrolling traces of pelvic
obliquity, hip adduction and hip internal rotation per side with the alert
bands · frontal-plane figure (seen from behind) · per-stride bars of the last 20
strides per side · alert log · sensor panel · calibration guidance · record,
marker, athlete and session names.

Each angle's real-world uncertainty (``hipmon.uncertainty``, the one table: a real walk
against optical markers) is shown with its numbers: in each trace's title (sample RMSE)
and in the per-stride panel (one stance's peak, with the latest peak per side).

A session with one sensor on the sacrum (``placements == ("pelvis",)``: the model's
``placements``, or the ``placements`` argument) shows what it cannot measure instead of
empty plots: the hip traces, the hip bars and the figure's thighs say they need thigh
sensors (``hipmon.pipeline.measurable``). A thigh lost part-way is a gap in its hip's
traces (the angles are NaN there) and "○ lost" in the sensor panel.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from hipmon.app import _qtfix, theme
from hipmon.app.feedback import CueGate, FadeSchedule
from hipmon.app.figure import FrontalFigure
from hipmon import metric_registry, uncertainty
from hipmon.buffers import COL, AlertRecord, Limit
from hipmon.types import PLACEMENTS

_qtfix.apply()

TRACE_SECONDS = 10.0
N_STRIDES = 20
REFRESH_HZ = 40.0  # the redraw timer: headroom above 30 fps on a shared machine (measured: docs/benchmarks.md)
TRACE_PEN_WIDTH = 2.0  # readable from the treadmill; 2 px lines cost ~1.4 ms per 2000-point curve, hence POINTS_PER_PX
POINTS_PER_PX = 1.0  # traces are decimated to about this density, keeping every bin's min and max (minmax_decimate)
BANNER_HOLD_S = 4.0  # an alert stays on the banner this long (session time)
STRIDE_KINDS = ("stance", "landing", "rep")
STANCE_EVENTS = 80  # newest stance events looked at for the bands (10 s of running is ~30)

TRACES = (
    # title, y range, [(column, colour, legend)]
    ("Pelvic obliquity (°)  + right side up", (-14, 14), [("pelvis_obliquity_deg", theme.PELVIS, "pelvis")]),
    (
        "Hip adduction (°)",
        (-15, 25),
        [("hip_adduction_left_deg", theme.LEFT, "left"), ("hip_adduction_right_deg", theme.RIGHT, "right")],
    ),
    (
        "Hip internal rotation (°)",
        (-15, 20),
        [
            ("hip_internal_rotation_left_deg", theme.LEFT, "left"),
            ("hip_internal_rotation_right_deg", theme.RIGHT, "right"),
        ],
    ),
)

#: the per-stride panels: (title, metric, trace column template), from ``hipmon.metric_registry``
BARS = tuple((m.title, m.name, m.trace) for m in map(metric_registry.METRICS.get, metric_registry.PANEL_METRICS))


def trace_title(title: str, columns: list[str]) -> str:
    """A trace's title with the real-world uncertainty of its angle (sample RMSE, ``hipmon.uncertainty``)."""
    u = uncertainty.angle_rmse_deg(columns[0])
    return title if u is None else f"{title}  ·  ±{u:.1f}° {uncertainty.LABEL}"


def bar_title(title: str, metric: str) -> str:
    """A per-stride panel's title with one stance's real-world uncertainty (``hipmon.uncertainty``)."""
    u = uncertainty.per_event_deg(metric)
    if u is None:
        return title
    return f"{title}<br><span style='font-size:8pt'>±{u:.1f}° {uncertainty.LABEL}, per stance</span>"


def minmax_decimate(x: np.ndarray, y: np.ndarray, ds: int, phase: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """At most 2 of every ``ds`` samples: each bin's minimum and maximum, in time order, with their own times.

    The curve passes through real samples only, keeps every extreme (no peak is lost or
    flattened, unlike plain subsampling) and stays smooth (unlike drawing min→max at one x,
    which zigzags). Bins are aligned to the sample clock (``phase``: the index of ``x[0]``), so
    the picks do not change as the window scrolls. A bin holding a NaN becomes a NaN pair, so
    gaps stay visible.
    """
    n = y.size
    if ds <= 1 or n < 4 * ds:
        return x, y
    head = (-phase) % ds
    m = (n - head - 1) // ds  # the newest sample is always drawn as is (the trace reaches 'now')
    end = head + m * ds
    yb = y[head:end].reshape(m, ds)
    bad = ~np.isfinite(yb)
    lo = np.where(bad, np.inf, yb).argmin(axis=1)
    hi = np.where(bad, -np.inf, yb).argmax(axis=1)
    base = head + np.arange(m) * ds
    idx = np.empty(2 * m, dtype=np.intp)
    idx[0::2] = base + np.minimum(lo, hi)
    idx[1::2] = base + np.maximum(lo, hi)
    yd = y[idx]
    gap = bad.any(axis=1)
    if gap.any():
        yd = yd.copy()
        yd[np.repeat(gap, 2)] = np.nan
    return (np.concatenate([x[:head], x[idx], x[end:]]), np.concatenate([y[:head], yd, y[end:]]))


def _angle_name(column: str) -> str:
    """``hip_adduction_left_deg`` -> ``hip_adduction`` (the names of ``hipmon.pipeline.measurable``)."""
    return uncertainty.angle_of_column(column)


def limits_by_column(limits: tuple[Limit, ...] | list[Limit]) -> dict[str, tuple[float | None, float | None]]:
    out: dict[str, tuple[float | None, float | None]] = {}
    for lim in limits:
        lo, hi = out.get(lim.column, (None, None))
        if lim.low is not None:
            lo = lim.low if lo is None else max(lo, lim.low)
        if lim.high is not None:
            hi = lim.high if hi is None else min(hi, lim.high)
        out[lim.column] = (lo, hi)
    return out


def _fmt(v: float | None, spec: str, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:{spec}}{unit}"


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
        except Exception:  # pragma: no cover
            pass
        return True


class Dashboard(QtWidgets.QMainWindow):
    """The main window. ``model``: a LiveState or a ReplayModel; ``runner``: a SessionRunner (live) or None."""

    def __init__(self, model: Any, runner: Any = None, *, muted: bool = False, title: str = "hipmon",
                 refresh_hz: float = REFRESH_HZ, trace_seconds: float = TRACE_SECONDS, fade: FadeSchedule | None = None,
                 placements: Any = None):
        super().__init__()
        pg.setConfigOptions(antialias=False, foreground=theme.FOREGROUND, background=theme.BACKGROUND)
        self.model = model
        self.runner = runner
        from hipmon.pipeline import measurable  # noqa: PLC0415  (a table of words, no kinematics)

        have = placements if placements is not None else getattr(model, "placements", None)
        #: the placements this session has sensors for; hip views say what they need when thighs are absent
        self.placements: tuple[str, ...] = tuple(p for p in PLACEMENTS if p in set(have or PLACEMENTS))
        self.not_measurable: dict[str, str] = dict(measurable(self.placements)["not_measurable"])
        self.hips_measured = "hip_adduction" not in self.not_measurable
        self.notes: dict[str, Any] = {}  # view -> the "needs thigh sensors" text shown instead of its data
        self.trace_seconds = trace_seconds
        self.recordings_dir = "."  # where Record writes NAME-YYYYmmdd-HHMMSS.hipmon
        self._lookahead = float(getattr(model, "lookahead_s", 0.0))
        self.beeper = Beeper(muted, fade)
        self._fade = fade or FadeSchedule()  # offered in the cue menu
        self.setWindowTitle(title)
        self.resize(1600, 940)
        self._last_alert_seq = 0
        self._banner_alert: AlertRecord | None = None
        self._frame_times: list[float] = []
        self.n_redraws = 0
        self._stride_cache_key: Any = None
        self._status_key: Any = None
        self._status_wall = 0.0

        central = QtWidgets.QWidget()
        self.setCentralWidget(central)
        root = QtWidgets.QVBoxLayout(central)
        root.setContentsMargins(8, 6, 8, 6)
        root.setSpacing(6)
        root.addLayout(self._build_header())
        self.banner = QtWidgets.QLabel()
        f = self.banner.font()
        f.setPointSize(17)
        f.setBold(True)
        self.banner.setFont(f)
        self.banner.setMinimumHeight(44)
        self.banner.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        root.addWidget(self.banner)

        middle = QtWidgets.QHBoxLayout()
        middle.addWidget(self._build_traces(), stretch=3)
        right = QtWidgets.QVBoxLayout()
        self.figure = FrontalFigure()
        self.figure.setMinimumWidth(380)
        if not self.hips_measured:
            self.figure.thigh_note = "needs a\nthigh sensor"
        right.addWidget(self.figure, stretch=1)
        right.addWidget(self._build_calibration())
        middle.addLayout(right, stretch=1)
        root.addLayout(middle, stretch=3)

        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self._build_bars(), stretch=5)
        log_box = QtWidgets.QGroupBox("Alert log")
        lb = QtWidgets.QVBoxLayout(log_box)
        self.alert_log = QtWidgets.QListWidget()
        self.alert_log.setWordWrap(True)
        self.alert_log.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.alert_log.itemActivated.connect(self._on_log_activated)
        self.alert_log.itemClicked.connect(self._on_log_activated)
        lb.addWidget(self.alert_log)
        bottom.addWidget(log_box, stretch=3)
        bottom.addWidget(self._build_sensors(), stretch=3)
        root.addLayout(bottom, stretch=2)

        self.replay_bar: QtWidgets.QWidget | None = None
        self.statusBar().showMessage("")
        self._set_banner(None)

        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.setInterval(int(1000 / refresh_hz))
        self.timer.timeout.connect(self.refresh)

    # ------------------------------------------------------------------ building

    def _build_header(self) -> QtWidgets.QHBoxLayout:
        h = QtWidgets.QHBoxLayout()
        logo = QtWidgets.QLabel("<b style='font-size:15pt; color:%s'>hipmon</b>" % theme.PELVIS)
        h.addWidget(logo)
        h.addSpacing(12)
        info = getattr(self.model, "info", None)
        h.addWidget(QtWidgets.QLabel("Athlete"))
        self.athlete_edit = QtWidgets.QLineEdit(getattr(info, "athlete", "") or "")
        self.athlete_edit.setPlaceholderText("name")
        self.athlete_edit.setMaximumWidth(180)
        self.athlete_edit.textChanged.connect(lambda s: setattr(self.model.info, "athlete", s))
        h.addWidget(self.athlete_edit)
        h.addWidget(QtWidgets.QLabel("Session"))
        self.session_edit = QtWidgets.QLineEdit(getattr(info, "session", "") or "")
        self.session_edit.setPlaceholderText("e.g. baseline, week 4")
        self.session_edit.setMaximumWidth(200)
        self.session_edit.textChanged.connect(lambda s: setattr(self.model.info, "session", s))
        h.addWidget(self.session_edit)
        h.addSpacing(12)
        self.source_label = QtWidgets.QLabel(getattr(info, "source", "") or "")
        self.source_label.setStyleSheet(f"color:{theme.MUTED}")
        h.addWidget(self.source_label)
        h.addStretch(1)
        self.clock_label = QtWidgets.QLabel("t = —")
        f = self.clock_label.font()
        f.setPointSize(13)
        self.clock_label.setFont(f)
        h.addWidget(self.clock_label)
        h.addSpacing(10)
        self.record_button = QtWidgets.QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.toggled.connect(self._on_record)
        self.record_button.setEnabled(self.runner is not None and getattr(self.runner.source, "can_record", False))
        h.addWidget(self.record_button)
        self.marker_button = QtWidgets.QPushButton("Marker (M)")
        self.marker_button.clicked.connect(self.add_marker)
        self.marker_button.setEnabled(self.runner is not None)
        h.addWidget(self.marker_button)
        self.mute_button = QtWidgets.QPushButton()
        self.mute_button.setCheckable(True)
        self.mute_button.setChecked(self.beeper.muted)
        self.mute_button.toggled.connect(self._on_mute)
        self._on_mute(self.beeper.muted)
        h.addWidget(self.mute_button)
        # faded feedback (off by default): the cue thins out over the session, the screen keeps every alert
        self.cue_box = QtWidgets.QComboBox()
        self.cue_box.addItem("Cue: every alert", None)
        self.cue_box.addItem(f"Cue: faded {'→'.join(map(str, self._fade.every))}", self._fade)
        self.cue_box.setToolTip(f"Faded feedback: the audible cue on every {', '.join(map(str, self._fade.every))}"
                                f"-th alert in stages of {self._fade.step_s / 60:g} min of session time; "
                                "banner, log and bars still show every alert.")
        self.cue_box.setCurrentIndex(1 if self.beeper.gate.schedule is not None else 0)
        self.cue_box.currentIndexChanged.connect(self._on_cue_mode)
        h.addWidget(self.cue_box)
        QtGui.QShortcut(QtGui.QKeySequence("M"), self, activated=self.add_marker)
        return h

    def _build_traces(self) -> QtWidgets.QWidget:
        """Three plots on a fixed *relative* time axis (−10 s … now, or … +2 s after a replay's playhead).

        Nothing about the axes changes from frame to frame: the curves are drawn at ``t − now``,
        the ranges are fixed (y widened in 5° steps only when data leave them), so every axis is
        painted once into a pixmap (``DeviceCoordinateCache``) and blitted afterwards. Tick text
        was >50 % of a frame when the axes followed the session clock.
        """
        back = self.trace_seconds
        fwd = self._lookahead
        self.traces = pg.GraphicsLayoutWidget()
        self.trace_plots: list[pg.PlotItem] = []
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._bands: list[tuple[pg.PlotItem, str, str, QtWidgets.QGraphicsRectItem, pg.InfiniteLine]] = []
        self._alert_lines: list[list[pg.InfiniteLine]] = []
        self._marker_lines: list[list[pg.InfiniteLine]] = []
        self._stance_items: list[dict[str, QtWidgets.QGraphicsPathItem]] = []
        self._y_ranges: list[tuple[float, float]] = []
        self._band_key: Any = None
        self._ds = 1
        self._stance_key: Any = None
        step = 2 if back <= 12 else 5
        ticks = [(float(x), "now" if x == 0 and not fwd else f"{x:+d}".replace("-", "−") if x else "0")
                 for x in range(-int(back), int(fwd) + 1) if x % step == 0]
        for row, (title, yr, curves) in enumerate(TRACES):
            p = self.traces.addPlot(row=row, col=0)
            p.setTitle(trace_title(title, [c for c, _, _ in curves]), size="11pt")
            p.showGrid(x=False, y=True, alpha=theme.GRID_ALPHA)
            p.setMouseEnabled(False, False)
            p.hideButtons()
            p.setMenuEnabled(False)
            p.getViewBox().disableAutoRange()
            p.setXRange(-back, fwd, padding=0)
            p.setYRange(*yr, padding=0)
            self._y_ranges.append(tuple(yr))
            left, bottom = p.getAxis("left"), p.getAxis("bottom")
            left.setWidth(36)
            left.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            # vertical grid: one static path (the axis' own x grid would clip "−10" and "now" at the edges)
            grid = QtGui.QPainterPath()
            for x, _label in ticks:
                grid.moveTo(x, -500.0)
                grid.lineTo(x, 500.0)
            grid_item = QtWidgets.QGraphicsPathItem(grid)
            grid_pen = pg.mkPen(*theme.rgb(theme.FOREGROUND), int(255 * theme.GRID_ALPHA), width=1)
            grid_pen.setCosmetic(True)
            grid_item.setPen(grid_pen)
            grid_item.setZValue(-15)  # over the stance bands
            p.addItem(grid_item)
            if row < len(TRACES) - 1:
                p.hideAxis("bottom")  # one labelled time axis
            else:
                bottom.setTicks([ticks, []])
                bottom.setStyle(hideOverlappingLabels=False)  # "−10" and "now" sit on the plot's edges
                bottom.setLabel("seconds before now" if not fwd else "seconds from the playhead")
                bottom.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            if len(curves) > 1 and _angle_name(curves[0][0]) not in self.not_measurable:
                legend = p.addLegend(offset=(6, 4), labelTextSize="9pt")
                legend.setBrush(pg.mkBrush(255, 255, 255, 200))
                legend.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            for col, colour, name in curves:
                c = p.plot([], [], pen=pg.mkPen(colour, width=TRACE_PEN_WIDTH), name=name, connect="finite")
                self.curves[col] = c
            why = self.not_measurable.get(_angle_name(curves[0][0]))
            if why is not None:  # e.g. hip adduction in a sacrum-only session: say so instead of an empty plot
                self.notes[f"trace:{curves[0][0]}"] = self._note(
                    p, f"{title.split(' (')[0]} {why}\n(this session: {self._sensors_text()})", -back / 2 + fwd / 2,
                    0.5 * (yr[0] + yr[1]))
            # stance of each side (from the detector's events) as light bands behind the traces,
            # one path per side in session time, shifted by −now each frame (rebuilt on new events)
            stance = {}
            for side in ("left", "right"):
                item = QtWidgets.QGraphicsPathItem()
                # opaque (pre-blended on the background): blending translucent bands cost 2 ms a frame
                item.setBrush(pg.mkBrush(theme.tint(theme.SIDE_COLOR[side], theme.STANCE_ALPHA)))
                item.setPen(pg.mkPen(None))
                item.setZValue(-20)
                p.addItem(item)
                stance[side] = item
            self._stance_items.append(stance)
            zero = pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("#888888", width=1))
            p.addItem(zero)
            for col, colour, _ in curves:
                if _angle_name(col) in self.not_measurable:
                    continue  # no bands on a trace this session cannot draw
                # the red band beyond each limit, edged by a dashed line in the trace's colour
                for which in (("high", "low") if col == "pelvis_obliquity_deg" else ("high",)):
                    region = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
                    region.setBrush(pg.mkBrush(*theme.ALERT_BAND))
                    region.setPen(pg.mkPen(None))
                    region.setZValue(-10)
                    region.setVisible(False)
                    line = pg.InfiniteLine(angle=0, pen=pg.mkPen(colour, width=1.5, style=QtCore.Qt.PenStyle.DashLine))
                    line.setVisible(False)
                    p.addItem(region)
                    p.addItem(line)
                    self._bands.append((p, col, which, region, line))
            self._alert_lines.append([])
            self._marker_lines.append([])
            self.trace_plots.append(p)
        self.playhead_lines = []
        if fwd:
            for p in self.trace_plots:
                ln = pg.InfiniteLine(pos=0.0, angle=90, pen=pg.mkPen("#000000", width=1.5))
                p.addItem(ln)
                self.playhead_lines.append(ln)
        return self.traces

    def _build_calibration(self) -> QtWidgets.QWidget:
        box = QtWidgets.QGroupBox("Calibration")
        v = QtWidgets.QVBoxLayout(box)
        self.calib_steps = QtWidgets.QLabel()
        self.calib_steps.setTextFormat(QtCore.Qt.TextFormat.RichText)
        v.addWidget(self.calib_steps)
        self.calib_progress = QtWidgets.QProgressBar()
        self.calib_progress.setRange(0, 100)
        self.calib_progress.setTextVisible(False)
        self.calib_progress.setMaximumHeight(10)
        v.addWidget(self.calib_progress)
        return box

    def _build_bars(self) -> QtWidgets.QWidget:
        self.bars = pg.GraphicsLayoutWidget()
        self.bar_plots: list[pg.PlotItem] = []
        self.bar_items: dict[tuple[int, str], pg.BarGraphItem] = {}
        self.bar_flags: list[pg.ScatterPlotItem] = []
        self._bar_limit_lines: list[dict[str, pg.InfiniteLine]] = []
        self._bar_measured: list[bool] = []
        for i, (title, metric, _col) in enumerate(BARS):
            p = self.bars.addPlot(row=0, col=i)
            p.setTitle(bar_title(title, metric), size="10pt")
            p.setMouseEnabled(False, False)
            p.hideButtons()
            p.setMenuEnabled(False)
            p.showGrid(y=True, alpha=theme.GRID_ALPHA)
            p.setXRange(-0.7, N_STRIDES - 0.3, padding=0)
            p.getAxis("bottom").setTicks([[(0, "−19"), (4, "−15"), (9, "−10"), (14, "−5"), (N_STRIDES - 1, "last")]])
            p.getAxis("left").setWidth(30)
            for ax in ("left", "bottom"):
                p.getAxis(ax).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            for side in ("left", "right"):
                item = pg.BarGraphItem(x=[], height=[], width=0.4, brush=theme.SIDE_COLOR[side], pen=None)
                p.addItem(item)
                self.bar_items[(i, side)] = item
            flags = pg.ScatterPlotItem(symbol="t", size=9, pen=pg.mkPen(None), brush=pg.mkBrush(theme.ALERT))
            p.addItem(flags)
            self.bar_flags.append(flags)
            lines = {}
            for side in ("left", "right"):
                lim = pg.InfiniteLine(angle=0, pen=pg.mkPen(theme.SIDE_COLOR[side], width=1.5,
                                                            style=QtCore.Qt.PenStyle.DashLine))
                lim.setVisible(False)
                p.addItem(lim)
                lines[side] = lim
            self._bar_limit_lines.append(lines)
            self.bar_plots.append(p)
            why = self.not_measurable.get(metric_registry.quantity(metric))
            self._bar_measured.append(why is None)
            if why is not None:
                p.setYRange(0, 5, padding=0)
                self.notes[f"bars:{metric}"] = self._note(p, "needs thigh\nsensors" if "thigh" in why else why,
                                                          (N_STRIDES - 1) / 2, 2.5, size=10)
        legend = self.bar_plots[0].addLegend(offset=(4, 2), labelTextSize="8pt")
        legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        for side in ("left", "right"):
            legend.addItem(pg.BarGraphItem(x=[0], height=[0], width=1, brush=theme.SIDE_COLOR[side]), f"{side} stance")
        legend.addItem(pg.ScatterPlotItem(symbol="t", size=9, pen=pg.mkPen(None), brush=pg.mkBrush(theme.ALERT)),
                       "alert active")
        box = QtWidgets.QGroupBox(f"Last {N_STRIDES} strides per side")
        v = QtWidgets.QVBoxLayout(box)
        v.setContentsMargins(4, 4, 4, 4)
        v.addWidget(self.bars)
        return box

    def _sensors_text(self) -> str:
        one = self.placements == ("pelvis",)
        return "one sensor, on the sacrum" if one else ", ".join(p.replace("_", " ") for p in self.placements)

    @staticmethod
    def _note(plot: pg.PlotItem, text: str, x: float, y: float, size: int = 12) -> pg.TextItem:
        """A centred grey note in a plot (what a view would need to show data)."""
        item = pg.TextItem(text, color=theme.MUTED, anchor=(0.5, 0.5))
        f = QtGui.QFont()
        f.setPointSize(size)
        item.setFont(f)
        item.setPos(x, y)
        plot.addItem(item)
        return item

    def _build_sensors(self) -> QtWidgets.QWidget:
        box = QtWidgets.QGroupBox("Sensors")
        v = QtWidgets.QVBoxLayout(box)
        self.sensor_table = QtWidgets.QTableWidget(0, 6)
        self.sensor_table.setHorizontalHeaderLabels(["sensor", "link", "Hz", "loss", "lag", "batt."])
        self.sensor_table.verticalHeader().setVisible(False)
        self.sensor_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.sensor_table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        hh = self.sensor_table.horizontalHeader()
        hh.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        hh.setStretchLastSection(True)
        tips = {2: "samples per second measured over the connection", 3: "samples lost (gaps), % of expected",
                4: "BLE arrival → decoded, median of the last ~10 s", 5: "battery level read at connection"}
        for c, tip in tips.items():
            self.sensor_table.horizontalHeaderItem(c).setToolTip(tip)
        v.addWidget(self.sensor_table)
        self.lag_label = QtWidgets.QLabel("")
        self.lag_label.setStyleSheet(f"color:{theme.MUTED}")
        self.lag_label.setToolTip("from a sample's arrival over BLE to its angles in the live buffer (sync, fusion, "
                                  "kinematics, events), median of the last 5 s; the screen adds up to one frame (33 ms)")
        v.addWidget(self.lag_label)
        return box

    def add_replay_bar(self, bar: QtWidgets.QWidget) -> None:
        """Replay controls go under the views (``hipmon.app.replay``)."""
        self.replay_bar = bar
        self.centralWidget().layout().addWidget(bar)

    # ------------------------------------------------------------------ actions

    def _on_mute(self, muted: bool) -> None:
        self.beeper.muted = muted
        self.mute_button.setText("Sound: off" if muted else "Sound: on")

    def _on_record(self, on: bool) -> None:
        if self.runner is None:
            return
        if on:
            name = (self.session_edit.text() or "session").strip().replace(" ", "_")
            path = os.path.join(self.recordings_dir, time.strftime(f"{name}-%Y%m%d-%H%M%S.hipmon"))
            self.runner.start_recording(path)
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

    def _on_log_activated(self, item: QtWidgets.QListWidgetItem) -> None:
        t = item.data(QtCore.Qt.ItemDataRole.UserRole)
        if t is not None and hasattr(self.model, "seek"):
            self.model.seek(float(t) - 1.0)
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
        if hasattr(m, "tick"):
            m.tick()
        now = m.now_s()
        limits = limits_by_column(m.limits())
        self._draw_traces(now, limits)
        self.figure.set_angles(m.current_angles(), limits)
        self._draw_bars(limits)
        self._draw_alerts(now)
        self._draw_sensors()
        self._draw_calibration()
        self.clock_label.setText("t = —" if now is None else f"t = {int(now // 60):d}:{now % 60:04.1f}")
        msg = m.message()
        rec = m.recording()
        wall = time.perf_counter()
        if (msg, rec) != self._status_key or wall - self._status_wall > 0.5:
            self._status_key, self._status_wall = (msg, rec), wall
            fps = self.measured_fps()
            self.statusBar().showMessage(
                "  ·  ".join(s for s in (f"● REC {rec}" if rec else "", msg, f"{fps:.0f} fps" if fps else "") if s)
            )
        if self.replay_bar is not None and hasattr(self.replay_bar, "refresh"):
            self.replay_bar.refresh()
        self.n_redraws += 1
        self._frame_times.append(time.perf_counter())
        if len(self._frame_times) > 60:
            del self._frame_times[:-60]

    def _draw_traces(self, now: float | None, limits: dict) -> None:
        """Curves at ``t − now`` on the fixed axes; bands and ranges only when they change."""
        if now is None:
            return
        back = self.trace_seconds
        fwd = self._lookahead
        t, a = self.model.angles_window(back + fwd, end_s=now + fwd if fwd else None)
        x = t - now
        width_px = self.trace_plots[0].getViewBox().width()
        ds, phase = 1, 0
        if t.size > 1 and width_px > 0 and t[-1] > t[0]:
            rate = (t.size - 1) / (t[-1] - t[0])
            ds = max(1, int(2.0 * rate * (back + fwd) / (width_px * POINTS_PER_PX)))
            phase = int(round(t[0] * rate))  # bins fixed to the sample clock: the picks do not shimmer as it scrolls
        self._ds = ds
        for col, curve in self.curves.items():
            if t.size:
                xd, yd = minmax_decimate(x, a[:, COL[col]], ds, phase)
                curve.setData(xd, yd, skipFiniteCheck=True)
            elif curve.xData is not None and len(curve.xData):
                curve.setData([], [])
        # fixed ranges (no jumping axes) widened in 5° steps only when the data leave them
        for k, (p, (_title, (y0, y1), cols)) in enumerate(zip(self.trace_plots, TRACES)):
            if t.size:
                vals = a[:, [COL[c] for c, _, _ in cols]]
                if np.isfinite(vals).any():
                    y0 = min(y0, 5.0 * math.floor(np.nanmin(vals) / 5.0))
                    y1 = max(y1, 5.0 * math.ceil(np.nanmax(vals) / 5.0))
            if self._y_ranges[k] != (y0, y1):
                self._y_ranges[k] = (y0, y1)
                p.setYRange(y0, y1, padding=0)
        key = tuple(sorted(limits.items()))
        if key != self._band_key:
            self._band_key = key
            for p, col, which, region, line in self._bands:
                lo, hi = limits.get(col, (None, None))
                v = hi if which == "high" else lo
                if v is None:
                    region.setVisible(False)
                    line.setVisible(False)
                    continue
                region.setRect(QtCore.QRectF(-back - 1.0, v if which == "high" else v - 500.0, back + fwd + 2.0, 500.0))
                line.setPos(v)
                region.setVisible(True)
                line.setVisible(True)
        self._draw_stance(now)
        # alert and marker lines inside the window
        x0, x1 = now - back, now + fwd
        alerts = [a.time_s - now for a in self.model.alerts() if x0 <= a.time_s <= x1]
        markers = [mk[0] - now for mk in self.model.markers() if x0 <= mk[0] <= x1]
        for i, p in enumerate(self.trace_plots):
            self._place_lines(p, self._alert_lines[i], alerts, pg.mkPen(theme.ALERT, width=2))
            self._place_lines(p, self._marker_lines[i], markers,
                              pg.mkPen("#555555", width=1.5, style=QtCore.Qt.PenStyle.DotLine))

    def _draw_stance(self, now: float) -> None:
        """Light bands where each side was in stance (completed stance events, so they trail by the detector's delay)."""
        horizon = now - self.trace_seconds - 2.0
        evs = [e for e in self.model.events(kind="stance", last=STANCE_EVENTS) if e.end_s >= horizon]
        key = (len(evs), evs[-1].end_s if evs else None, evs[0].start_s if evs else None)
        if key != self._stance_key:
            self._stance_key = key
            paths = {"left": QtGui.QPainterPath(), "right": QtGui.QPainterPath()}
            for e in evs:
                if e.side in paths and e.end_s > e.start_s:
                    paths[e.side].addRect(QtCore.QRectF(e.start_s, -500.0, e.end_s - e.start_s, 1000.0))
            for items in self._stance_items:
                for side, item in items.items():
                    item.setPath(paths[side])
        for items in self._stance_items:
            for item in items.values():
                if item.pos().x() != -now:
                    item.setPos(-now, 0.0)

    @staticmethod
    def _place_lines(plot: pg.PlotItem, pool: list[pg.InfiniteLine], xs: list[float], pen: QtGui.QPen) -> None:
        while len(pool) < len(xs):
            ln = pg.InfiniteLine(angle=90, pen=pen)
            plot.addItem(ln)
            pool.append(ln)
        for ln, x in zip(pool, xs):
            ln.setPos(x)
            ln.setVisible(True)
        for ln in pool[len(xs):]:
            ln.setVisible(False)

    def _draw_bars(self, limits: dict) -> None:
        events = [e for e in self.model.events() if e.kind in STRIDE_KINDS]
        key = (len(events), id(events[-1]) if events else None, tuple(sorted(limits.items())))
        if key == self._stride_cache_key:
            return
        self._stride_cache_key = key
        alerted_ids = {id(a.event) for a in self.model.alerts() if a.event is not None}
        flag_x: list[list[float]] = [[] for _ in BARS]
        flag_y: list[list[float]] = [[] for _ in BARS]
        for side, offset in (("left", -0.21), ("right", 0.21)):
            evs = [e for e in events if e.side == side][-N_STRIDES:]
            x = np.arange(N_STRIDES - len(evs), N_STRIDES) + offset
            alerted = np.array([bool(e.alert) or id(e) in alerted_ids for e in evs], dtype=bool)
            for i, (_title, metric, col) in enumerate(BARS):
                if not self._bar_measured[i]:
                    continue
                h = np.nan_to_num(np.array([getattr(e, metric) for e in evs], dtype=float), nan=0.0)
                self.bar_items[(i, side)].setOpts(x=x, height=h, width=0.4)
                flag_x[i].extend(x[alerted])
                flag_y[i].extend(h[alerted])
        for i, (_title, metric, col) in enumerate(BARS):
            if not self._bar_measured[i]:
                continue
            top = 0.0
            for side in ("left", "right"):
                lo, hi = limits.get(col.format(side=side), (None, None))
                # the band as a metric limit (left stance: the right side drops, obliquity < low)
                v = metric_registry.limit_from_band(metric, side, lo, hi)
                line = self._bar_limit_lines[i][side]
                line.setVisible(v is not None)
                if v is not None:
                    line.setPos(v)
                    top = max(top, v)
            vals = [getattr(e, metric) for e in events[-2 * N_STRIDES:]]
            vals = [v for v in vals if math.isfinite(v)]
            top = max([top] + vals)
            y_top = max(5.0, 5.0 * math.ceil(top * 1.15 / 5.0))  # 5° steps: the axis rarely re-lays out
            if self.bar_plots[i].viewRange()[1] != [0.0, y_top]:
                self.bar_plots[i].setYRange(0, y_top, padding=0)
            self.bar_flags[i].setData(flag_x[i], np.asarray(flag_y[i]) + 0.04 * y_top)

    def _draw_alerts(self, now: float | None) -> None:
        new = self.model.alerts(self._last_alert_seq)
        reset = getattr(self.model, "alerts_reset", False)
        if reset:  # replay seek: rebuild the log, no beeps
            self.model.alerts_reset = False
            self.alert_log.clear()
            self._banner_alert = None
            self.beeper.gate.reset()
            new = self.model.alerts()
        for a in new:
            item = QtWidgets.QListWidgetItem(f"{a.time_s:6.1f} s  {a.message}")
            item.setToolTip(a.message)
            item.setForeground(QtGui.QColor(theme.SIDE_COLOR.get(a.side, theme.FOREGROUND)))
            item.setData(QtCore.Qt.ItemDataRole.UserRole, a.time_s)
            self.alert_log.insertItem(0, item)
            self._last_alert_seq = max(self._last_alert_seq, a.seq)
        while self.alert_log.count() > 300:
            self.alert_log.takeItem(self.alert_log.count() - 1)
        if new:
            self._banner_alert = new[-1]
            if not reset and getattr(self.model, "audible", True):
                self.beeper.cue([a.time_s for a in new])
        if reset and new:
            self._last_alert_seq = max(a.seq for a in new)
        a = self._banner_alert
        if a is not None and now is not None and (now - a.time_s) > BANNER_HOLD_S and not self._still_active(a):
            # the engine labels a stride with its first active rule only: an older alert may be the active one
            a = self._banner_alert = next((b for b in reversed(self.model.alerts()[-50:]) if self._still_active(b)),
                                          None)
        self._set_banner(a)

    def _still_active(self, a: AlertRecord) -> bool:
        """The rule is still active on that side: its latest stride carries the alert (``Event.alert``)."""
        evs = [e for e in self.model.events(side=a.side, last=4) if e.kind in STRIDE_KINDS]
        return bool(evs) and evs[-1].alert == a.rule

    def _set_banner(self, a: AlertRecord | None) -> None:
        key = None if a is None else a.seq
        if key == getattr(self, "_banner_key", "unset"):
            return  # a style sheet change re-polishes the label: only when the banner changes
        self._banner_key = key
        if a is None:
            self.banner.setText("No alert — pelvis and knees within limits" if self.hips_measured else
                                "No alert — pelvis within limits (one sensor on the sacrum: no hip or knee alerts)")
            self.banner.setStyleSheet(theme.BANNER_IDLE)
        else:
            self.banner.setText(f"⚠  {a.message}")
            self.banner.setStyleSheet(theme.BANNER_ALERT)

    def _draw_sensors(self) -> None:
        lag = getattr(self.model, "lag_ms", None)
        lag = lag() if callable(lag) else None
        text = "" if lag is None else f"angles on screen {lag:.0f} ms after the samples arrive (median, 5 s)"
        if self.lag_label.text() != text:
            self.lag_label.setText(text)
        sensors = self.model.sensors()
        tbl = self.sensor_table
        have = {s.placement for s in sensors}
        absent = [p for p in PLACEMENTS if p not in self.placements and p not in have] if sensors else []
        if tbl.rowCount() != len(sensors) + len(absent):
            tbl.setRowCount(len(sensors) + len(absent))
        for r, p in enumerate(absent, start=len(sensors)):  # what the session does not have, and what that costs
            for c, text in enumerate([p, "— none", "", "", "", "hip angles need it"]):
                item = tbl.item(r, c)
                if item is None:
                    item = QtWidgets.QTableWidgetItem()
                    item.setForeground(QtGui.QColor(theme.MUTED))
                    tbl.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)
        for r, s in enumerate(sensors):
            cells = [
                s.placement or s.sensor_id,
                "● on" if s.connected else "○ lost",
                _fmt(s.rate_hz, ".0f"),
                _fmt(None if s.loss is None else 100 * s.loss, ".1f", " %"),
                _fmt(s.latency_ms, ".1f" if (s.latency_ms or 0) < 10 else ".0f", " ms"),
                _fmt(s.battery_pct, ".0f", " %"),
            ]
            for c, text in enumerate(cells):
                item = tbl.item(r, c)
                if item is None:
                    item = QtWidgets.QTableWidgetItem()
                    tbl.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)
                colour = None
                if c == 1:
                    colour = theme.OK if s.connected else theme.ALERT
                elif c == 3 and s.loss is not None:
                    colour = theme.ALERT if s.loss > 0.05 else theme.WARN if s.loss > 0.01 else theme.FOREGROUND
                if colour is not None and item.foreground().color().name() != colour:
                    item.setForeground(QtGui.QColor(colour))

    def _draw_calibration(self) -> None:
        c = self.model.calibration()
        steps = [("stand", "1. Stand still 3 s"), ("walk", "2. Walk 10 steps"), ("done", "3. Calibrated")]
        order = {"none": -1, "stand": 0, "walk": 1, "done": 2}
        cur = order.get(c.stage, -1)
        parts = []
        for i, (_key, text) in enumerate(steps):
            if i == 2 and c.stage == "done" and c.quality is not None:
                text += f" (quality {c.quality:.2f})"
            if i < cur or (i == cur == 2):
                parts.append(f"<span style='color:{theme.OK}'>✔ {text}</span>")
            elif i == cur:
                parts.append(f"<b style='color:{theme.FOREGROUND}'>▶ {text}</b>")
            else:
                parts.append(f"<span style='color:{theme.MUTED}'>{text}</span>")
        html = "&nbsp;&nbsp;".join(parts)
        if c.message and c.stage != "done":
            html += f"<br><span style='color:{theme.FOREGROUND}'>{c.message}</span>"
        elif c.message:
            html += f"<br><span style='color:{theme.MUTED}'>{c.message}</span>"
        if self.calib_steps.text() != html:
            self.calib_steps.setText(html)
        self.calib_progress.setValue(int(100 * (1.0 if c.stage == "done" else max(0.0, min(1.0, c.progress)))))

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
