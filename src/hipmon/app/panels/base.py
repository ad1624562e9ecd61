"""What every panel gets each frame, and the helpers they share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pyqtgraph as pg
from PySide6 import QtGui

from hipmon.app import theme
from hipmon.app.model import AlertDelta, Bands


@dataclass(frozen=True)
class FrameView:
    """One redraw: the model's clock (None before any data), its alert bands, the alert changes."""

    now: float | None
    bands: Bands
    alerts: AlertDelta


@runtime_checkable
class Panel(Protocol):
    def refresh(self, frame: FrameView) -> None: ...


def fmt(v: float | None, spec: str, unit: str = "") -> str:
    """A number for a table cell, ``—`` when not reported."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:{spec}}{unit}"


def note(plot: pg.PlotItem, text: str, x: float, y: float, size: int = 12) -> pg.TextItem:
    """A centred grey note in a plot (what a view would need to show data)."""
    item = pg.TextItem(text, color=theme.MUTED, anchor=(0.5, 0.5))
    f = QtGui.QFont()
    f.setPointSize(size)
    item.setFont(f)
    item.setPos(x, y)
    plot.addItem(item)
    return item
