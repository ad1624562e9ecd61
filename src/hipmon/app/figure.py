"""Frontal-plane figure of the pelvis and thighs, drawn from the current angles.

Seen **from behind** (a coach behind the treadmill): the athlete's left is on
the screen's left. Units are pelvis widths; the hip joints sit ±0.5 from the
pelvis centre.

What is drawn, and only that (no kinematics here, the angles are given):

- the pelvis as a line tilted by ``pelvis_obliquity`` (right side up +), so a
  contralateral drop shows as the unsupported side going down;
- each thigh from its hip joint at ``hip_adduction`` from the pelvis' own
  vertical (adduction brings the knee toward the midline), length 1.6;
- ``hip_internal_rotation`` as a kneecap marker shifted medially from the knee
  by ``sin(IR)`` × 0.25 (a knee that turns in);
- a light-grey neutral pose (level pelvis, vertical thighs) behind it, and the
  parts beyond their alert bands in red (which parts: ``hipmon.app.model.out_of_band``);
- a thigh without angles (no thigh sensor, or one lost part-way) is not drawn: its
  readout says why (``thigh_note``), the pelvis and the other thigh stay.

Hip flexion (sagittal) is not shown: this is the frontal-plane projection at
zero flexion, an honest picture of the two angles that define the drop and the
valgus, not a 3D avatar.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from hipmon.app import theme
from hipmon.app.model import DashboardModel, obliquity_words, out_of_band
from hipmon.app.panels.base import FrameView
from hipmon.buffers import COL

#: the columns the figure draws (and colours red beyond their bands)
FIGURE_COLUMNS = ("pelvis_obliquity_deg", "hip_adduction_left_deg", "hip_adduction_right_deg",
                  "hip_internal_rotation_left_deg", "hip_internal_rotation_right_deg")

READOUT_PERIOD_S = 0.125  # the numbers change at most 8×/s: readable, and cheaper than 40×/s
THIGH_LENGTH = 1.6
HIP_HALF_WIDTH = 0.5
KNEECAP_OFFSET = 0.25


def frontal_points(obliquity_deg: float, adduction_deg: dict[str, float]) -> dict[str, np.ndarray]:
    """Screen points (x right, y up; seen from behind) of hips and knees.

    Pure geometry of the figure, tested on its own: ``{"left_hip", "right_hip",
    "left_knee", "right_knee"}`` → (2,) arrays.
    """
    th = math.radians(obliquity_deg)
    across = np.array([math.cos(th), math.sin(th)])  # left hip -> right hip
    hips = {"left": -HIP_HALF_WIDTH * across, "right": HIP_HALF_WIDTH * across}
    out = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        # pelvis "down" rotated toward the midline by the adduction angle
        a = th + sign * math.radians(adduction_deg.get(side, 0.0))
        down = np.array([math.sin(a), -math.cos(a)])
        out[f"{side}_hip"] = hips[side]
        out[f"{side}_knee"] = hips[side] + THIGH_LENGTH * down
    return out


class FrontalFigure(pg.PlotWidget):
    """The figure panel: ``refresh(frame)`` draws the model's current angles (``set_angles`` does the drawing)."""

    def __init__(self, model: DashboardModel | None = None, parent=None):
        super().__init__(parent=parent, background=theme.BACKGROUND)
        self.model = model
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        pi = self.getPlotItem()
        pi.hideAxis("left")
        pi.hideAxis("bottom")
        self.setAspectLocked(True)
        self.setXRange(-1.4, 1.4, padding=0)
        self.setYRange(-2.35, 0.8, padding=0)
        self.setTitle("Frontal plane — seen from behind", color=theme.FOREGROUND, size="11pt")

        ghost = pg.mkPen(theme.NEUTRAL_GHOST, width=3, style=QtCore.Qt.PenStyle.DashLine)
        self._ghost_pelvis = self.plot([-0.5, 0.5], [0, 0], pen=ghost)
        self._ghost_l = self.plot([-0.5, -0.5], [0, -THIGH_LENGTH], pen=ghost)
        self._ghost_r = self.plot([0.5, 0.5], [0, -THIGH_LENGTH], pen=ghost)

        self._pelvis = self.plot([], [], pen=pg.mkPen(theme.PELVIS, width=9))
        self._thigh = {
            s: self.plot([], [], pen=pg.mkPen(theme.SIDE_COLOR[s], width=10)) for s in ("left", "right")
        }
        self._joints = pg.ScatterPlotItem(size=20, pen=pg.mkPen("#333333", width=2), brush=pg.mkBrush("#ffffff"))
        self.addItem(self._joints)
        self._kneecap = pg.ScatterPlotItem(size=14, symbol="s", pen=pg.mkPen("#333333", width=1.5))
        self.addItem(self._kneecap)

        font = QtGui.QFont()
        font.setPointSize(16)
        font.setBold(True)
        self._side_labels = {}
        for s, x in (("left", -1.2), ("right", 1.2)):
            lab = pg.TextItem(s[0].upper(), color=theme.SIDE_COLOR[s], anchor=(0.5, 0.5))
            lab.setFont(font)
            lab.setPos(x, 0.0)
            self.addItem(lab)
            self._side_labels[s] = lab
        self._readout = {}
        for key in ("pelvis", "left", "right"):
            t = pg.TextItem("", color=theme.FOREGROUND, anchor=(0.5, 0.0))
            small = QtGui.QFont()
            small.setPointSize(12)
            small.setBold(key == "pelvis")
            t.setFont(small)
            self.addItem(t)
            self._readout[key] = t
        self._readout["pelvis"].setPos(0.0, 0.68)
        self._readout["left"].setPos(-0.75, -1.75)
        self._readout["right"].setPos(0.75, -1.75)
        self.last_points: dict[str, np.ndarray] = {}
        self._style: dict[str, object] = {}  # what each part was last drawn with (pens/brushes only on change)
        self._readout_wall = 0.0
        self._pens = {
            ("pelvis", False): pg.mkPen(theme.PELVIS, width=9), ("pelvis", True): pg.mkPen(theme.ALERT, width=9),
            **{(s, bad): pg.mkPen(theme.ALERT if bad else theme.SIDE_COLOR[s], width=10)
               for s in ("left", "right") for bad in (False, True)},
        }
        self._cap_brushes = {False: pg.mkBrush("#ffd54f"), True: pg.mkBrush(theme.ALERT)}
        #: shown under a thigh that has no angles ("needs a thigh sensor" in a sacrum-only session)
        self.thigh_note = "no data\n(thigh sensor lost)"

    def _set_style(self, key: str, value: object, apply) -> None:
        if self._style.get(key) is not value:
            self._style[key] = value
            apply(value)

    def _set_text(self, key: str, text: str, colour: str) -> None:
        item = self._readout[key]
        if self._style.get(("text", key)) != (text, colour):
            self._style[("text", key)] = (text, colour)
            item.setText(text)
            item.setColor(colour)

    def refresh(self, frame: FrameView) -> None:
        angles = self.model.current_angles()
        bad = {} if angles is None else out_of_band({c: float(angles[COL[c]]) for c in FIGURE_COLUMNS}, frame.bands)
        self.set_angles(angles, bad)

    def set_angles(self, angles_deg: np.ndarray | None, bad: dict[str, bool] | None = None) -> None:
        """Redraw from one row of the nine angles (degrees); NaN/None blanks the figure.

        ``bad``: column -> beyond its alert band (``hipmon.app.model.out_of_band``): drawn red."""
        bad = bad or {}
        if angles_deg is None or not np.isfinite(angles_deg[COL["pelvis_obliquity_deg"]]):
            for item in (self._pelvis, *self._thigh.values()):
                item.setData([], [])
            self._joints.setData([], [])
            self._kneecap.setData([], [])
            for key in ("left", "right"):
                self._set_text(key, "", theme.FOREGROUND)
            self._set_text("pelvis", "no valid data", theme.FOREGROUND)
            return
        obl = float(angles_deg[COL["pelvis_obliquity_deg"]])
        add = {s: float(angles_deg[COL[f"hip_adduction_{s}_deg"]]) for s in ("left", "right")}
        ir = {s: float(angles_deg[COL[f"hip_internal_rotation_{s}_deg"]]) for s in ("left", "right")}
        has = {s: math.isfinite(add[s]) and math.isfinite(ir[s]) for s in ("left", "right")}
        p = frontal_points(obl, {s: (add[s] if has[s] else 0.0) for s in add})
        self.last_points = p

        pelvis_bad = bad.get("pelvis_obliquity_deg", False)
        self._pelvis.setData(
            [p["left_hip"][0], p["right_hip"][0]],
            [p["left_hip"][1], p["right_hip"][1]],
        )
        self._set_style("pelvis", self._pens[("pelvis", pelvis_bad)], self._pelvis.setPen)
        wall = time.monotonic()
        readouts = wall - self._readout_wall >= READOUT_PERIOD_S
        if readouts:
            self._readout_wall = wall

        knees, caps, cap_brushes = [], [], []
        for side, medial in (("left", 1.0), ("right", -1.0)):
            hip, knee = p[f"{side}_hip"], p[f"{side}_knee"]
            if not has[side]:  # no thigh angles: no thigh drawn, the readout says why
                self._thigh[side].setData([], [])
                self._set_text(side, self.thigh_note, theme.MUTED)
                continue
            bad_add = bad.get(f"hip_adduction_{side}_deg", False)
            bad_ir = bad.get(f"hip_internal_rotation_{side}_deg", False)
            self._thigh[side].setData([hip[0], knee[0]], [hip[1], knee[1]])
            self._set_style(side, self._pens[(side, bad_add)], self._thigh[side].setPen)
            knees.append(knee)
            caps.append(knee + np.array([medial * KNEECAP_OFFSET * math.sin(math.radians(ir[side])), 0.0]))
            cap_brushes.append(self._cap_brushes[bad_ir])
            if readouts or (bad_add or bad_ir) != (self._style.get(("text", side), ("", ""))[1] == theme.ALERT):
                self._set_text(side, f"ADD {add[side]:+.1f}°\nIR {ir[side]:+.1f}°",
                               theme.ALERT if (bad_add or bad_ir) else theme.SIDE_COLOR[side])
        pts = np.array([p["left_hip"], p["right_hip"], *knees])
        self._joints.setData(pts[:, 0], pts[:, 1])
        if caps:
            caps_a = np.array(caps)
            self._kneecap.setData(caps_a[:, 0], caps_a[:, 1], brush=cap_brushes)
        else:
            self._kneecap.setData([], [])
        low = obliquity_words(obl)
        if readouts or pelvis_bad != (self._style.get(("text", "pelvis"), ("", ""))[1] == theme.ALERT):
            self._set_text("pelvis", f"obliquity {obl:+.1f}° ({low})", theme.ALERT if pelvis_bad else theme.PELVIS)
