"""The analyst's replay: a recording in the dashboard's views, with a playhead.

``ReplayModel`` holds a whole session as the pipeline computed it
(``hipmon.pipeline.process_session``: the same causal chain as live, so the
same angles, events and alerts) and answers the dashboard's reads *at the
playhead*: traces end a few seconds after it, bars and the alert log show what
had happened by then, the frontal figure shows the pose at that instant.
``ReplayBar`` is the control strip: play/pause, 0.25×–8×, a whole-session
timeline to click or drag, and jumps to the previous/next alert or event.
"""

from __future__ import annotations

import bisect
import copy
import math
import time
from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from hipmon.alerts import AlertEngine, load_rules
from hipmon.app import theme
from hipmon.app.feeds import limits_of
from hipmon.buffers import COL, CalibrationStatus, Limit, SessionInfo
from hipmon.types import PLACEMENTS, Alert, Event, SensorStatus

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class ReplayModel:
    """A session and a playhead: a ``hipmon.app.model.DashboardModel`` (as ``LiveState``) that is ``Seekable``."""

    lookahead_s = 2.0  # traces show this much after the playhead
    audible = True

    def __init__(
        self,
        time_s: np.ndarray,
        angles_deg: np.ndarray,
        valid: np.ndarray | None = None,
        events: Sequence[Event] = (),
        alerts: Sequence[Alert] = (),
        *,
        markers: Sequence[tuple[float, str]] = (),
        sensors: Sequence[SensorStatus] = (),
        calibration: CalibrationStatus | None = None,
        info: SessionInfo | None = None,
        rules: Any = None,
        placements: Sequence[str] | None = None,
    ):
        #: the placements the session has sensors for (the dashboard says what the others would measure)
        have = set(placements) if placements is not None else {s.placement for s in sensors} or set(PLACEMENTS)
        self.placements = tuple(p for p in PLACEMENTS if p in have)
        self.time_s = np.asarray(time_s, dtype=float)
        a = np.array(angles_deg, dtype=float, copy=True)
        if valid is not None:
            a[~np.asarray(valid, bool)] = np.nan
        self.angles_deg = a
        self.events_all = sorted(events, key=lambda e: e.end_s)
        self._event_ends = [e.end_s for e in self.events_all]
        self.alerts_all = sorted(alerts, key=lambda x: x.time_s)  # the n-th has seq n
        self._alert_times = [x.time_s for x in self.alerts_all]
        self._markers = sorted((float(t), str(lab)) for t, lab in markers)
        self._sensors = list(sensors)
        self._calibration = calibration or CalibrationStatus()
        self.info = info or SessionInfo()
        self.start_s = float(self.time_s[0]) if self.time_s.size else 0.0
        self.end_s = float(self.time_s[-1]) if self.time_s.size else 0.0
        # a window of pelvis data (a sacrum-only session has no hip columns at all)
        finite = np.flatnonzero(np.isfinite(self.angles_deg[:, :3]).all(axis=1)) if self.time_s.size else []
        self.playhead = float(self.time_s[finite[0]]) + 8.0 if len(finite) else self.start_s  # a window of data
        self.playhead = min(self.playhead, self.end_s)
        self.playing = False
        self.speed = 1.0
        self._wall: float | None = None
        self._alerts_reset = False
        self._limit_times, self._limit_sets = self._limit_history(rules)

    # -------------------------------------------------------------- construction

    @classmethod
    def from_session(cls, path: str, config: Any = None) -> "ReplayModel":
        """Run the pipeline over a recording (``hipmon.pipeline.process_session``) and wrap the result."""
        from hipmon.pipeline import process_session  # noqa: PLC0415
        from hipmon.recording import SessionReader  # noqa: PLC0415

        reader = SessionReader(path)
        try:
            result = process_session(reader, config)
            markers = [(m.time_s, m.label) for m in reader.markers]
            meta = dict(reader.metadata or {})  # what the writer was given: athlete, session, ...
            sensors = []
            placements = [s.placement for s in reader.sensors.values()]
            gaps = list(result.gaps)
            for sid, s in reader.sensors.items():
                lost = sum(g.samples_lost for g in gaps if g.sensor_id == sid)
                expected = int(round((s.rate_hz or 0.0) * float(reader.duration_s or 0.0)))
                sensors.append(SensorStatus(sid, placement=s.placement or sid, profile=s.profile or "",
                                            connected=True, state="stopped", rate_measured_hz=float(s.rate_hz or 0.0),
                                            samples=max(0, expected - lost), samples_lost=min(lost, expected)))
        finally:
            reader.close()
        cal = result.calibration
        calib = CalibrationStatus("done", 1.0, float(cal.quality), "calibrated") if cal is not None else \
            CalibrationStatus("none", 0.0, None, "this recording never calibrated")
        info = SessionInfo(str(meta.get("athlete", "")), str(meta.get("session", "")), f"replay {path}")
        f = result.frames
        # angles are NaN per column where their sensors have no data: rows are blanked only where the
        # pelvis has none, so a lost thigh is a gap in its hip's traces alone (as live: session.per_column_gaps)
        valid = (f.valid_sensor or {}).get("pelvis", f.valid)
        return cls(f.time_s, f.angles_deg, valid, result.events, result.alerts, markers=markers, sensors=sensors,
                   calibration=calib, info=info, placements=placements)

    def _limit_history(self, rules: Any) -> tuple[list[float], list[tuple[Limit, ...]]]:
        """Alert limits as they stood after each event (the baseline forms during the session)."""
        engine = AlertEngine(rules if rules is not None else load_rules(None))
        times, sets = [-math.inf], [tuple(limits_of(engine))]
        for ev in self.events_all:
            engine.update([copy.copy(ev)])  # copies: the engine writes Event.alert
            times.append(ev.end_s)
            sets.append(tuple(limits_of(engine, ev.kind if ev.kind != "hold" else "stance")))
        return times, sets

    # -------------------------------------------------------------- playhead

    def tick(self) -> None:
        """Advance the playhead by the wall time since the last tick × speed (the dashboard calls this)."""
        now = time.monotonic()
        if self.playing and self._wall is not None:
            self.playhead = min(self.end_s, self.playhead + (now - self._wall) * self.speed)
            if self.playhead >= self.end_s:
                self.playing = False
        self._wall = now

    def play(self) -> None:
        if self.playhead >= self.end_s:
            self.seek(self.start_s)
        self.playing = True
        self._wall = time.monotonic()

    def pause(self) -> None:
        self.playing = False

    def set_speed(self, speed: float) -> None:
        self.speed = float(min(max(speed, SPEEDS[0]), SPEEDS[-1]))

    def seek(self, t: float) -> None:
        self.playhead = float(min(max(t, self.start_s), self.end_s))
        self._alerts_reset = True

    def _jump(self, times: Sequence[float], direction: int, margin_s: float) -> float | None:
        """Seek to the next/previous of ``times`` relative to the one shown ``margin_s`` behind the playhead.

        The playhead lands ``margin_s`` after the target, so the target is just
        inside the past (the log, the bars and the banner show it). Returns the
        target time, or None (and no seek) when there is none.
        """
        ref = self.playhead - margin_s
        if direction > 0:
            i = bisect.bisect_right(times, ref + 1e-6)
            if i >= len(times):
                return None
        else:
            i = bisect.bisect_left(times, ref - 1e-6) - 1
            if i < 0:
                return None
        self.seek(times[i] + margin_s)
        return times[i]

    def next_alert(self) -> float | None:
        """Jump so the next alert is 0.5 s behind the playhead (on screen, in the log); returns its time."""
        return self._jump(self._alert_times, +1, 0.5)

    def prev_alert(self) -> float | None:
        return self._jump(self._alert_times, -1, 0.5)

    def next_event(self) -> float | None:
        """Jump to the end of the next stride/landing/rep (it then appears in the bars)."""
        return self._jump(self._event_ends, +1, 0.0)

    def prev_event(self) -> float | None:
        return self._jump(self._event_ends, -1, 0.0)

    # -------------------------------------------------------------- the dashboard's reads

    def take_alerts_reset(self) -> bool:
        """True once after a seek: the alert history up to the playhead is rewritten."""
        reset, self._alerts_reset = self._alerts_reset, False
        return reset

    def now_s(self) -> float | None:
        return self.playhead if self.time_s.size else None

    def angles_window(self, seconds: float, end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        end = self.playhead if end_s is None else end_s
        lo = int(np.searchsorted(self.time_s, end - seconds, side="left"))
        hi = int(np.searchsorted(self.time_s, end, side="right"))
        return self.time_s[lo:hi], self.angles_deg[lo:hi]

    def current_angles(self) -> np.ndarray | None:
        if not self.time_s.size:
            return None
        i = int(np.searchsorted(self.time_s, self.playhead, side="right")) - 1
        return self.angles_deg[max(i, 0)]

    def events(self, kind: str | None = None, side: str | None = None, last: int | None = None) -> list[Event]:
        n = bisect.bisect_right(self._event_ends, self.playhead)
        evs = self.events_all[:n]
        if kind is not None:
            evs = [e for e in evs if e.kind == kind]
        if side is not None:
            evs = [e for e in evs if e.side == side]
        return evs[-last:] if last else evs

    def alerts(self) -> list[Alert]:
        return self.alerts_all[:bisect.bisect_right(self._alert_times, self.playhead)]

    def alerts_since(self, since_seq: int = 0) -> list[tuple[int, Alert]]:
        n = bisect.bisect_right(self._alert_times, self.playhead)
        return [(i + 1, a) for i, a in enumerate(self.alerts_all[:n]) if i + 1 > since_seq]

    def sensors(self) -> list[SensorStatus]:
        return self._sensors

    def calibration(self) -> CalibrationStatus:
        return self._calibration

    def limits(self) -> tuple[Limit, ...]:
        if not self._limit_times:
            return ()
        i = bisect.bisect_right(self._limit_times, self.playhead) - 1
        return self._limit_sets[max(i, 0)]

    def markers(self) -> list[tuple[float, str]]:
        return list(self._markers)

    def recording(self) -> str | None:
        return None

    def lag_ms(self) -> float | None:
        return None  # the angles were computed before the replay

    def message(self) -> str:
        return f"replay {'▶' if self.playing else '❚❚'} {self.speed:g}×  ·  {len(self.alerts_all)} alerts, {len(self.events_all)} events"


class ReplayBar(QtWidgets.QWidget):
    """Play/pause, speed, previous/next alert and event, and a whole-session timeline to scrub."""

    def __init__(self, model: ReplayModel, dashboard: Any = None):
        super().__init__()
        self.model = model
        self.dashboard = dashboard
        h = QtWidgets.QHBoxLayout(self)
        h.setContentsMargins(0, 0, 0, 0)
        self.play_button = QtWidgets.QPushButton("▶ Play")
        self.play_button.setShortcut("Space")
        self.play_button.clicked.connect(self.toggle)
        h.addWidget(self.play_button)
        self.speed_box = QtWidgets.QComboBox()
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.currentIndexChanged.connect(lambda i: model.set_speed(self.speed_box.itemData(i)))
        h.addWidget(self.speed_box)
        self.buttons = {}
        for key, text, fn in (
            ("prev_alert", "◀◀ alert", model.prev_alert),
            ("next_alert", "alert ▶▶", model.next_alert),
            ("prev_event", "◀ stride", model.prev_event),
            ("next_event", "stride ▶", model.next_event),
        ):
            b = QtWidgets.QPushButton(text)
            b.clicked.connect(lambda _=False, fn=fn: self._jump(fn))
            h.addWidget(b)
            self.buttons[key] = b
        self.timeline = pg.PlotWidget(background=theme.BACKGROUND)
        self.timeline.setFixedHeight(70)
        self.timeline.setMenuEnabled(False)
        self.timeline.setMouseEnabled(False, False)
        self.timeline.hideButtons()
        self.timeline.getPlotItem().hideAxis("left")
        t, a = model.time_s, model.angles_deg[:, COL["pelvis_obliquity_deg"]] if model.time_s.size else np.zeros(0)
        step = max(1, t.size // 4000)
        self.timeline.plot(t[::step], a[::step], pen=pg.mkPen(theme.PELVIS, width=1), connect="finite")
        if model.alerts_all:
            ys = np.zeros(len(model.alerts_all))
            lo = np.nanmin(a) if np.isfinite(a).any() else 0.0
            ys[:] = lo
            self.timeline.plot([x.time_s for x in model.alerts_all], ys, pen=None, symbol="t", symbolSize=9,
                               symbolBrush=theme.ALERT, symbolPen=None)
        for tm, _label in model.markers():
            self.timeline.addItem(pg.InfiniteLine(tm, angle=90, pen=pg.mkPen("#555555", style=QtCore.Qt.PenStyle.DotLine)))
        self.timeline.setXRange(model.start_s, model.end_s, padding=0.01)
        self.cursor = pg.InfiniteLine(model.playhead, angle=90, movable=True, pen=pg.mkPen("#000000", width=2),
                                      hoverPen=pg.mkPen(theme.ALERT, width=3))
        self.cursor.sigDragged.connect(lambda line: self._seek(line.value()))
        self.timeline.addItem(self.cursor)
        self.timeline.scene().sigMouseClicked.connect(self._on_click)
        h.addWidget(self.timeline, stretch=1)
        self.time_label = QtWidgets.QLabel()
        h.addWidget(self.time_label)

    def toggle(self) -> None:
        if self.model.playing:
            self.model.pause()
        else:
            self.model.play()
        self.refresh()

    def _seek(self, t: float) -> None:
        self.model.seek(t)
        if self.dashboard is not None:
            self.dashboard.refresh()

    def _jump(self, fn: Any) -> None:
        fn()
        if self.dashboard is not None:
            self.dashboard.refresh()

    def _on_click(self, ev: Any) -> None:
        vb = self.timeline.getPlotItem().vb
        if vb.sceneBoundingRect().contains(ev.scenePos()):
            self._seek(vb.mapSceneToView(ev.scenePos()).x())

    def refresh(self) -> None:
        m = self.model
        self.play_button.setText("❚❚ Pause" if m.playing else "▶ Play")
        if not self.cursor.moving:
            self.cursor.setValue(m.playhead)
        self.time_label.setText(f"{m.playhead:7.1f} / {m.end_s:.1f} s")
