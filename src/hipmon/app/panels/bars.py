"""The per-event metrics: one bar plot per panel metric (``hipmon.metric_registry.PANEL_METRICS``),
the last ``N_STRIDES`` strides per side, each side's current metric limit as a dashed line,
and a red flag over the strides an alert was active on.

The values, the flags and the limits come from ``hipmon.app.model.metric_bars`` (the registry
turns the trace bands back into metric limits: a left stance's pelvic-drop limit is the
obliquity band's low edge, negated); this panel only draws them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from hipmon import metric_registry, uncertainty
from hipmon.app import theme
from hipmon.app.model import STRIDE_KINDS, Coverage, DashboardModel, metric_bars
from hipmon.app.panels.base import FrameView, note

N_STRIDES = 20

#: the per-stride panels: (title, metric), from ``hipmon.metric_registry``
BARS = tuple((metric_registry.get(name).title, name) for name in metric_registry.PANEL_METRICS)


def bar_title(title: str, metric: str) -> str:
    """A per-stride panel's title with one stance's real-world uncertainty (``hipmon.uncertainty``)."""
    u = uncertainty.per_event_deg(metric)
    if u is None:
        return title
    return f"{title}<br><span style='font-size:8pt'>±{u:.1f}° {uncertainty.LABEL}, per stance</span>"


class StrideBarsPanel(QtWidgets.QGroupBox):
    """``items[(i, side)]``: the bars of panel ``i``; ``flags[i]``: its alert flags; ``plots``: the PlotItems."""

    def __init__(self, model: DashboardModel, coverage: Coverage, n: int = N_STRIDES):
        super().__init__(f"Last {n} strides per side")
        self.model = model
        self.n = n
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.plots: list[pg.PlotItem] = []
        self.items: dict[tuple[int, str], pg.BarGraphItem] = {}
        self.flags: list[pg.ScatterPlotItem] = []
        self.notes: dict[str, pg.TextItem] = {}  # "bars:<metric>" -> what the panel would need
        self._limit_lines: list[dict[str, pg.InfiniteLine]] = []
        self._measured: list[bool] = []
        self._key: Any = None
        for i, (title, metric) in enumerate(BARS):
            p = self.layout_widget.addPlot(row=0, col=i)
            p.setTitle(bar_title(title, metric), size="10pt")
            p.setMouseEnabled(False, False)
            p.hideButtons()
            p.setMenuEnabled(False)
            p.showGrid(y=True, alpha=theme.GRID_ALPHA)
            p.setXRange(-0.7, n - 0.3, padding=0)
            p.getAxis("bottom").setTicks([[(0, f"−{n - 1}"), (n - 16, "−15"), (n - 11, "−10"), (n - 6, "−5"),
                                           (n - 1, "last")]])
            p.getAxis("left").setWidth(30)
            for ax in ("left", "bottom"):
                p.getAxis(ax).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            for side in ("left", "right"):
                item = pg.BarGraphItem(x=[], height=[], width=0.4, brush=theme.SIDE_COLOR[side], pen=None)
                p.addItem(item)
                self.items[(i, side)] = item
            flags = pg.ScatterPlotItem(symbol="t", size=9, pen=pg.mkPen(None), brush=pg.mkBrush(theme.ALERT))
            p.addItem(flags)
            self.flags.append(flags)
            lines = {}
            for side in ("left", "right"):
                lim = pg.InfiniteLine(angle=0, pen=pg.mkPen(theme.SIDE_COLOR[side], width=1.5,
                                                            style=QtCore.Qt.PenStyle.DashLine))
                lim.setVisible(False)
                p.addItem(lim)
                lines[side] = lim
            self._limit_lines.append(lines)
            self.plots.append(p)
            why = coverage.why_not(metric_registry.quantity(metric))
            self._measured.append(why is None)
            if why is not None:
                p.setYRange(0, 5, padding=0)
                self.notes[f"bars:{metric}"] = note(p, "needs thigh\nsensors" if "thigh" in why else why,
                                                    (n - 1) / 2, 2.5, size=10)
        legend = self.plots[0].addLegend(offset=(4, 2), labelTextSize="8pt")
        legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        for side in ("left", "right"):
            legend.addItem(pg.BarGraphItem(x=[0], height=[0], width=1, brush=theme.SIDE_COLOR[side]), f"{side} stance")
        legend.addItem(pg.ScatterPlotItem(symbol="t", size=9, pen=pg.mkPen(None), brush=pg.mkBrush(theme.ALERT)),
                       "alert active")
        v = QtWidgets.QVBoxLayout(self)
        v.setContentsMargins(4, 4, 4, 4)
        v.addWidget(self.layout_widget)

    def refresh(self, frame: FrameView) -> None:
        events = self.model.events()
        strides = [e for e in events if e.kind in STRIDE_KINDS]
        key = (len(strides), id(strides[-1]) if strides else None, tuple(sorted(frame.bands.items())))
        if key == self._key:
            return
        self._key = key
        data = metric_bars(strides, self.model.alerts(), frame.bands, self.n, [m for _, m in BARS])
        for i, panel in enumerate(data):
            if not self._measured[i]:
                continue
            flag_x: list[float] = []
            flag_y: list[float] = []
            top = panel.recent_max
            for side, offset in (("left", -0.21), ("right", 0.21)):
                b = panel.sides[side]
                x = b.slots + offset
                self.items[(i, side)].setOpts(x=x, height=b.values, width=0.4)
                flag_x.extend(x[b.alerted])
                flag_y.extend(b.values[b.alerted])
                line = self._limit_lines[i][side]
                line.setVisible(b.limit is not None)
                if b.limit is not None:
                    line.setPos(b.limit)
                    top = max(top, b.limit)
            y_top = max(5.0, 5.0 * math.ceil(top * 1.15 / 5.0))  # 5° steps: the axis rarely re-lays out
            if self.plots[i].viewRange()[1] != [0.0, y_top]:
                self.plots[i].setYRange(0, y_top, padding=0)
            self.flags[i].setData(flag_x, np.asarray(flag_y) + 0.04 * y_top)
