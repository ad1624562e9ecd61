"""Scrolling angle traces: pelvic obliquity, hip adduction and hip internal rotation per side.

Three plots on a fixed *relative* time axis (−10 s … now, or … +2 s after a replay's
playhead). Nothing about the axes changes from frame to frame: the curves are drawn at
``t − now``, the ranges are fixed (y widened in 5° steps only when data leave them), so
every axis is painted once into a pixmap (``DeviceCoordinateCache``) and blitted afterwards.
Tick text was >50 % of a frame when the axes followed the session clock.

Drawn from the model: the angle window, the alert bands (``FrameView.bands``: red beyond
each limit), the stance of each side (completed stance events), alert and marker lines.
Each trace's title carries its angle's real-world uncertainty (``hipmon.uncertainty``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from hipmon import uncertainty
from hipmon.app import theme
from hipmon.app.model import Coverage, DashboardModel
from hipmon.app.panels.base import FrameView, note
from hipmon.buffers import COL

TRACE_SECONDS = 10.0
TRACE_PEN_WIDTH = 2.0  # readable from the treadmill; 2 px lines cost ~1.4 ms per 2000-point curve, hence POINTS_PER_PX
POINTS_PER_PX = 1.0  # traces are decimated to about this density, keeping every bin's min and max (minmax_decimate)
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


def trace_title(title: str, columns: list[str]) -> str:
    """A trace's title with the real-world uncertainty of its angle (sample RMSE, ``hipmon.uncertainty``)."""
    u = uncertainty.angle_rmse_deg(columns[0])
    return title if u is None else f"{title}  ·  ±{u:.1f}° {uncertainty.LABEL}"


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


class TracesPanel(pg.GraphicsLayoutWidget):
    """The three trace plots. ``curves``: column -> curve; ``plots``: the PlotItems, top to bottom."""

    def __init__(self, model: DashboardModel, coverage: Coverage, seconds: float = TRACE_SECONDS):
        super().__init__()
        self.model = model
        self.seconds = back = seconds
        self.lookahead = fwd = model.lookahead_s
        self.plots: list[pg.PlotItem] = []
        self.curves: dict[str, pg.PlotDataItem] = {}
        #: (plot, column, "high"|"low", red region, dashed limit line)
        self.bands: list[tuple[pg.PlotItem, str, str, QtWidgets.QGraphicsRectItem, pg.InfiniteLine]] = []
        self.stance_items: list[dict[str, QtWidgets.QGraphicsPathItem]] = []
        self.notes: dict[str, pg.TextItem] = {}  # "trace:<column>" -> what the trace would need
        self.playhead_lines: list[pg.InfiniteLine] = []
        self._alert_lines: list[list[pg.InfiniteLine]] = []
        self._marker_lines: list[list[pg.InfiniteLine]] = []
        self._y_ranges: list[tuple[float, float]] = []
        self._band_key: Any = None
        self._stance_key: Any = None
        self.decimation = 1
        step = 2 if back <= 12 else 5
        ticks = [(float(x), "now" if x == 0 and not fwd else f"{x:+d}".replace("-", "−") if x else "0")
                 for x in range(-int(back), int(fwd) + 1) if x % step == 0]
        for row, (title, yr, curves) in enumerate(TRACES):
            p = self.addPlot(row=row, col=0)
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
            why = coverage.why_not(uncertainty.angle_of_column(curves[0][0]))
            if len(curves) > 1 and why is None:
                legend = p.addLegend(offset=(6, 4), labelTextSize="9pt")
                legend.setBrush(pg.mkBrush(255, 255, 255, 200))
                legend.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            for col, colour, name in curves:
                self.curves[col] = p.plot([], [], pen=pg.mkPen(colour, width=TRACE_PEN_WIDTH), name=name,
                                          connect="finite")
            if why is not None:  # e.g. hip adduction in a sacrum-only session: say so instead of an empty plot
                self.notes[f"trace:{curves[0][0]}"] = note(
                    p, f"{title.split(' (')[0]} {why}\n(this session: {coverage.sensors_text()})", -back / 2 + fwd / 2,
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
            self.stance_items.append(stance)
            p.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("#888888", width=1)))
            if why is None:  # no bands on a trace this session cannot draw
                for col, colour, _ in curves:
                    # the red band beyond each limit the model gives, edged by a dashed line in the trace's colour
                    for which in ("high", "low"):
                        region = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
                        region.setBrush(pg.mkBrush(*theme.ALERT_BAND))
                        region.setPen(pg.mkPen(None))
                        region.setZValue(-10)
                        region.setVisible(False)
                        line = pg.InfiniteLine(angle=0,
                                               pen=pg.mkPen(colour, width=1.5, style=QtCore.Qt.PenStyle.DashLine))
                        line.setVisible(False)
                        p.addItem(region)
                        p.addItem(line)
                        self.bands.append((p, col, which, region, line))
            self._alert_lines.append([])
            self._marker_lines.append([])
            self.plots.append(p)
        if fwd:
            for p in self.plots:
                ln = pg.InfiniteLine(pos=0.0, angle=90, pen=pg.mkPen("#000000", width=1.5))
                p.addItem(ln)
                self.playhead_lines.append(ln)

    def refresh(self, frame: FrameView) -> None:
        """Curves at ``t − now`` on the fixed axes; bands and ranges only when they change."""
        now = frame.now
        if now is None:
            return
        back, fwd = self.seconds, self.lookahead
        t, a = self.model.angles_window(back + fwd, end_s=now + fwd if fwd else None)
        x = t - now
        width_px = self.plots[0].getViewBox().width()
        ds, phase = 1, 0
        if t.size > 1 and width_px > 0 and t[-1] > t[0]:
            rate = (t.size - 1) / (t[-1] - t[0])
            ds = max(1, int(2.0 * rate * (back + fwd) / (width_px * POINTS_PER_PX)))
            phase = int(round(t[0] * rate))  # bins fixed to the sample clock: the picks do not shimmer as it scrolls
        self.decimation = ds
        for col, curve in self.curves.items():
            if t.size:
                xd, yd = minmax_decimate(x, a[:, COL[col]], ds, phase)
                curve.setData(xd, yd, skipFiniteCheck=True)
            elif curve.xData is not None and len(curve.xData):
                curve.setData([], [])
        # fixed ranges (no jumping axes) widened in 5° steps only when the data leave them
        for k, (p, (_title, (y0, y1), cols)) in enumerate(zip(self.plots, TRACES)):
            if t.size:
                vals = a[:, [COL[c] for c, _, _ in cols]]
                if np.isfinite(vals).any():
                    y0 = min(y0, 5.0 * math.floor(np.nanmin(vals) / 5.0))
                    y1 = max(y1, 5.0 * math.ceil(np.nanmax(vals) / 5.0))
            if self._y_ranges[k] != (y0, y1):
                self._y_ranges[k] = (y0, y1)
                p.setYRange(y0, y1, padding=0)
        self._draw_bands(frame.bands)
        self._draw_stance(now)
        # alert and marker lines inside the window
        x0, x1 = now - back, now + fwd
        alerts = [al.time_s - now for al in self.model.alerts() if x0 <= al.time_s <= x1]
        markers = [mk[0] - now for mk in self.model.markers() if x0 <= mk[0] <= x1]
        for i, p in enumerate(self.plots):
            _place_lines(p, self._alert_lines[i], alerts, pg.mkPen(theme.ALERT, width=2))
            _place_lines(p, self._marker_lines[i], markers,
                         pg.mkPen("#555555", width=1.5, style=QtCore.Qt.PenStyle.DotLine))

    def _draw_bands(self, bands: dict) -> None:
        key = tuple(sorted(bands.items()))
        if key == self._band_key:
            return
        self._band_key = key
        back, fwd = self.seconds, self.lookahead
        for _p, col, which, region, line in self.bands:
            lo, hi = bands.get(col, (None, None))
            v = hi if which == "high" else lo
            region.setVisible(v is not None)
            line.setVisible(v is not None)
            if v is not None:
                region.setRect(QtCore.QRectF(-back - 1.0, v if which == "high" else v - 500.0, back + fwd + 2.0, 500.0))
                line.setPos(v)

    def _draw_stance(self, now: float) -> None:
        """Light bands where each side was in stance (completed stance events, so they trail by the detector's delay)."""
        horizon = now - self.seconds - 2.0
        evs = [e for e in self.model.events(kind="stance", last=STANCE_EVENTS) if e.end_s >= horizon]
        key = (len(evs), evs[-1].end_s if evs else None, evs[0].start_s if evs else None)
        if key != self._stance_key:
            self._stance_key = key
            paths = {"left": QtGui.QPainterPath(), "right": QtGui.QPainterPath()}
            for e in evs:
                if e.side in paths and e.end_s > e.start_s:
                    paths[e.side].addRect(QtCore.QRectF(e.start_s, -500.0, e.end_s - e.start_s, 1000.0))
            for items in self.stance_items:
                for side, item in items.items():
                    item.setPath(paths[side])
        for items in self.stance_items:
            for item in items.values():
                if item.pos().x() != -now:
                    item.setPos(-now, 0.0)


def _place_lines(plot: pg.PlotItem, pool: list[pg.InfiniteLine], xs: list[float], pen: QtGui.QPen) -> None:
    """Vertical lines at ``xs``, reusing (and hiding the rest of) ``pool``."""
    while len(pool) < len(xs):
        ln = pg.InfiniteLine(angle=90, pen=pen)
        plot.addItem(ln)
        pool.append(ln)
    for ln, x in zip(pool, xs):
        ln.setPos(x)
        ln.setVisible(True)
    for ln in pool[len(xs):]:
        ln.setVisible(False)
