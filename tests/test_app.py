"""The dashboard and the replay, offscreen (pytest-qt): content, not only existence.

Screenshots are checked for the pen colours of the traces and the figure, in
the widgets' own regions; the alert path is checked from a faulty stride to the
banner, the log, the beep and the stride bars; replay is checked from a
recording to the jumps between its alerts.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtGui  # noqa: E402

from hipmon.app import theme  # noqa: E402
from hipmon.app.dashboard import Dashboard  # noqa: E402
from hipmon.app.feeds import FixedLimitAlerts, SimulatedFeed, synthetic_run  # noqa: E402
from hipmon.app.figure import frontal_points  # noqa: E402
from hipmon.app.main import build_live, build_replay  # noqa: E402
from hipmon.app.replay import ReplayModel  # noqa: E402
from hipmon.app.session import SessionRunner  # noqa: E402
from hipmon.buffers import COL, LiveState  # noqa: E402
from hipmon.types import ANGLE_COLUMNS, Event  # noqa: E402


def colour_pixels(img: QtGui.QImage, hex_colour: str, rect: QtCore.QRect | None = None, tol: int = 40) -> int:
    """Pixels of ``img`` (inside ``rect``) within ``tol`` of ``hex_colour`` per channel."""
    img = img.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8).reshape(h, img.bytesPerLine() // 4, 4)[:, :w, :3]
    if rect is not None:
        arr = arr[rect.top() : rect.bottom(), rect.left() : rect.right()]
    r, g, b = theme.rgb(hex_colour)
    target = np.array([b, g, r])  # BGRA in memory
    return int(np.all(np.abs(arr.astype(int) - target) <= tol, axis=-1).sum())


def region(win: Dashboard, widget) -> QtCore.QRect:
    top_left = widget.mapTo(win, QtCore.QPoint(0, 0))
    ratio = 1  # offscreen: device pixel ratio 1
    return QtCore.QRect(top_left * ratio, widget.size() * ratio)


def run_until(qtbot, win, cond, timeout_s: float):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        win.refresh()
        qtbot.wait(30)
        if cond():
            return True
    return False


# ---------------------------------------------------------------- pure geometry


def test_minmax_decimation_keeps_every_bin_extreme_in_time_order():
    from hipmon.app.panels.traces import minmax_decimate

    rng = np.random.default_rng(1)
    x = np.arange(1000) / 200.0
    y = np.cumsum(rng.standard_normal(1000))
    y[500:507] = np.nan  # a gap
    xd, yd = minmax_decimate(x, y, 5, phase=3)
    assert xd.size < 0.45 * x.size and np.all(np.diff(xd) >= 0)  # a subset, in time order
    idx = np.round(xd * 200.0).astype(int)
    ok = np.isfinite(yd)
    np.testing.assert_array_equal(yd[ok], y[idx[ok]])
    for b in range((x.size - 2) // 5):  # every whole bin (aligned to phase 3 → starting at index 2) keeps min and max
        seg = y[2 + 5 * b: 2 + 5 * b + 5]
        if np.isfinite(seg).all():
            assert seg.max() in yd and seg.min() in yd
    assert np.isnan(yd[(xd >= x[500]) & (xd <= x[506])]).all()  # the gap stays a gap
    # the bins follow the sample clock: one sample later, the same picks (shifted window)
    xd2, _ = minmax_decimate(x[1:], y[1:], 5, phase=4)
    common = np.intersect1d(xd, xd2)
    assert common.size > 0.95 * min(xd.size, xd2.size)
    assert minmax_decimate(x, y, 1)[0] is x


def test_frontal_figure_geometry_follows_the_sign_conventions():
    # right side up: the right hip is higher than the left (seen from behind: right is screen right)
    p = frontal_points(8.0, {"left": 0.0, "right": 0.0})
    assert p["right_hip"][1] > p["left_hip"][1] and p["right_hip"][0] > 0 > p["left_hip"][0]
    # adduction brings the knee toward the midline on both sides
    p0 = frontal_points(0.0, {"left": 0.0, "right": 0.0})
    p1 = frontal_points(0.0, {"left": 10.0, "right": 10.0})
    assert p1["left_knee"][0] > p0["left_knee"][0] and p1["right_knee"][0] < p0["right_knee"][0]
    assert p1["left_knee"][0] - p0["left_knee"][0] == pytest.approx(1.6 * math.sin(math.radians(10)))


# ---------------------------------------------------------------- live dashboard


@pytest.fixture
def fast_feed():
    t, a, ev = synthetic_run(60.0, rate_hz=200.0, fatigue_after_s=15.0, seed=3)
    return SimulatedFeed(t, a, ev, speed=40.0, alerter=FixedLimitAlerts())


def test_dashboard_draws_traces_figure_and_bars(qtbot, fast_feed, tmp_path):
    win, runner, state = build_live(fast_feed, athlete="A. Runner", session="baseline", muted=True)
    qtbot.addWidget(win)
    win.show()
    runner.start()
    assert run_until(qtbot, win, lambda: runner.finished.is_set(), 30.0)
    win.refresh()
    # the state holds what the feed sent
    t, a = state.angles_window(10.0)
    assert t.size > 1000 and t[-1] == pytest.approx(fast_feed.time_s[-1], abs=0.01)
    np.testing.assert_allclose(a[-1], fast_feed.angles_deg[-1])
    # the traces show exactly the buffered window, on the relative axis (0 = now, −10 s at the left)
    x, y = win.curves["hip_adduction_left_deg"].getData()
    col = a[:, COL["hip_adduction_left_deg"]]
    # decimated to ~1 point per pixel (minmax_decimate): a subset of the buffered samples at t − now,
    # keeping the window's extremes
    assert 0 < x.size < t.size and x[-1] == pytest.approx(0.0) and x[0] >= -10.0
    idx = np.searchsorted(t - t[-1], x)
    np.testing.assert_allclose(t[idx] - t[-1], x)
    np.testing.assert_allclose(col[idx], y)
    assert np.nanmax(y) == np.nanmax(col) > 10.0 and np.nanmin(y) == np.nanmin(col)
    assert win.trace_plots[0].viewRange()[0] == pytest.approx([-10.0, 0.0])
    # stance bands: one rectangle per completed stance of that side inside the window
    stances = state.events(kind="stance")[-80:]
    n_left = sum(1 for e in stances if e.side == "left" and e.end_s >= t[-1] - 12.0)
    assert n_left > 10
    assert win.traces.stance_items[0]["left"].path().elementCount() == 5 * n_left  # addRect: 5 elements
    assert win.traces.stance_items[0]["left"].pos().x() == pytest.approx(-t[-1])
    # stride bars: 20 per side, heights = event peaks
    evs = [e for e in fast_feed.events if e.side == "left"][-20:]
    bars = win.bar_items[(0, "left")].opts
    np.testing.assert_allclose(bars["height"], [e.peak_pelvic_drop_deg for e in evs])
    # screenshot content: trace pens in the trace area, thighs and pelvis in the figure
    path = tmp_path / "live.png"
    assert win.save_screenshot(str(path))
    img = QtGui.QImage(str(path))
    assert img.width() >= 1200
    traces = region(win, win.traces)
    for colour in (theme.PELVIS, theme.LEFT, theme.RIGHT):
        assert colour_pixels(img, colour, traces) > 300, colour
    fig = region(win, win.figure)
    assert colour_pixels(img, theme.PELVIS, fig, tol=30) + colour_pixels(img, theme.ALERT, fig, tol=30) > 200
    assert colour_pixels(img, theme.LEFT, fig, tol=30) + colour_pixels(img, theme.RIGHT, fig, tol=30) > 300
    bars_area = region(win, win.bars)
    assert colour_pixels(img, theme.LEFT, bars_area) > 300 and colour_pixels(img, theme.RIGHT, bars_area) > 300
    # names and sensors
    assert win.athlete_edit.text() == "A. Runner" and state.info.session == "baseline"
    assert win.sensor_table.rowCount() == 3 and "on" in win.sensor_table.item(0, 1).text()
    assert win.sensor_table.item(0, 2).text() == "208"
    runner.stop()


def test_a_faulty_stride_raises_the_alert_banner_log_beep_and_flags(qtbot):
    # 30 clean strides, then one stride with a 12° contralateral drop on the left stance
    rate = 200.0
    t = np.arange(int(12 * rate)) / rate
    a = np.zeros((t.size, len(ANGLE_COLUMNS)))
    events = []
    for k in range(30):
        side = "left" if k % 2 == 0 else "right"
        start = 0.35 * k
        drop = 12.0 if k == 24 else 4.0
        i0, i1 = int(start * rate), int((start + 0.14) * rate)
        sign = -1.0 if side == "left" else 1.0  # left stance: the right side drops (obliquity < 0)
        a[i0:i1, COL["pelvis_obliquity_deg"]] = sign * drop * np.sin(np.linspace(0, np.pi, i1 - i0))
        events.append(Event("stance", side, start, start + 0.14, drop, 8.0, 2.0))
    feed = SimulatedFeed(t, a, events, speed=20.0, alerter=FixedLimitAlerts())
    win, runner, state = build_live(feed, muted=False)
    qtbot.addWidget(win)
    win.show()
    assert "No alert" in win.banner.text()
    runner.start()
    assert run_until(qtbot, win, lambda: state.alert_seq > 0, 20.0)
    win.refresh()
    (alert,) = state.alerts()
    assert alert.rule == "pelvic_drop" and alert.side == "left"
    assert alert.time_s == pytest.approx(events[24].end_s)
    assert "LEFT stance" in win.banner.text() and "12.0°" in win.banner.text()
    assert theme.ALERT in win.banner.styleSheet()
    assert win.alert_log.count() == 1 and "pelvic drop" in win.alert_log.item(0).text()
    assert win.beeper.count == 1
    # the alerted stride carries a red flag above its bar in the drop plot
    fx, fy = win.bar_flags[0].getData()
    assert len(fx) == 1 and fy[0] > 12.0
    # the alert band is drawn at the limit on the obliquity trace
    bands = [b for b in win.traces.bands if b[1] == "pelvis_obliquity_deg" and b[3].isVisible()]
    assert {round(b[4].value(), 3) for b in bands} == {7.0, -7.0}
    # muting stops the cue
    win.mute_button.click()
    assert win.beeper.muted and "off" in win.mute_button.text()
    runner.stop()


def test_marker_goes_through_the_runner(qtbot, fast_feed):
    win, runner, state = build_live(fast_feed, muted=True)
    qtbot.addWidget(win)
    runner.start()
    assert run_until(qtbot, win, lambda: state.now_s() is not None and state.now_s() > 2.0, 20.0)
    asked = []
    real_add = runner.add_marker
    runner.add_marker = lambda label="", condition="": (asked.append((label, condition)), real_add(label, condition))
    win.controls.condition_edit.setText(" shoe A ")
    qtbot.mouseClick(win.marker_button, QtCore.Qt.MouseButton.LeftButton)
    assert run_until(qtbot, win, lambda: len(state.markers()) == 1, 30.0)
    assert state.markers()[0][0] > 2.0
    assert asked == [("marker 1", "shoe A")]  # the condition typed in the header goes with the marker
    # a truth feed cannot record: the button is disabled, the state says why if asked
    assert not win.record_button.isEnabled()
    runner.stop()


@pytest.mark.slow
def test_demo_chain_shows_data_from_emulated_sensors(qtbot):
    """Emulated sensors over the bumble BLE stack -> pipeline -> buffers -> window."""
    pytest.importorskip("bumble")
    from hipmon.app.chain import ChainSource

    source = ChainSource.emulated(seconds=40.0, seed=7)
    win, runner, state = build_live(source, muted=True)
    qtbot.addWidget(win)
    win.show()
    runner.start()
    # wait for at least a second of calibrated angles (what is asserted below), not the first one
    ok = run_until(qtbot, win, lambda: state.calibration().stage == "done" and
                   np.isfinite(state.angles_window(2.0)[1]).any(axis=-1).sum() > 100, 60.0)
    assert runner.error is None, runner.error
    sensors = {s.placement: s for s in state.sensors()}
    assert set(sensors) == {"pelvis", "left_thigh", "right_thigh"}
    assert all(s.connected for s in sensors.values())
    assert all(180 < s.rate_measured_hz < 240 for s in sensors.values())
    assert state.stats()["frames"] > 500 and source.n_notifications > 100
    assert ok, f"no calibrated angles from the chain: {state.calibration()}"
    win.refresh()
    x, y = win.curves["pelvis_obliquity_deg"].getData()
    assert np.isfinite(y).sum() > 50
    runner.stop()


@pytest.mark.slow
def test_record_from_the_window_on_the_emulated_chain(qtbot, tmp_path):
    """Record ● on the emulated chain, a marker, ■ stop: the session file has the sensors, their raw
    notifications, the marker and the names; the sensor panel shows latency and battery."""
    pytest.importorskip("bumble")
    from hipmon.app.chain import ChainSource
    from hipmon.recording import SessionReader

    source = ChainSource.emulated(seconds=40.0, seed=3)
    win, runner, state = build_live(source, athlete="Rec Runner", session="rec test", muted=True)
    win.recordings_dir = str(tmp_path)
    qtbot.addWidget(win)
    win.show()
    runner.start()
    assert run_until(qtbot, win, lambda: (state.now_s() or 0.0) > 1.0, 60.0), runner.error
    assert win.record_button.isEnabled()
    qtbot.mouseClick(win.record_button, QtCore.Qt.MouseButton.LeftButton)
    assert run_until(qtbot, win, lambda: state.recording() is not None, 30.0)
    path = state.recording()
    assert path.startswith(str(tmp_path)) and "■" in win.record_button.text()
    t_start = state.now_s()
    assert run_until(qtbot, win, lambda: state.now_s() > t_start + 2.0, 20.0)
    qtbot.mouseClick(win.marker_button, QtCore.Qt.MouseButton.LeftButton)
    assert run_until(qtbot, win, lambda: len(state.markers()) == 1, 30.0)
    t_marker = state.now_s()
    assert run_until(qtbot, win, lambda: state.now_s() > t_marker + 1.0, 20.0)
    # the sensor panel: acquisition latency per sensor (ms) and the emulated Battery Service's level
    sensors = state.sensors()
    assert all(0.0 <= s.latency_ms_p50 < 1000.0 for s in sensors), sensors  # NaN until measured
    assert all(s.battery_pct is not None for s in sensors), sensors
    assert win.sensor_table.item(0, 4).text().endswith(" ms") and win.sensor_table.item(0, 5).text().endswith(" %")
    qtbot.mouseClick(win.record_button, QtCore.Qt.MouseButton.LeftButton)
    # the runner thread clears the recording, then says "saved": wait for both (a loaded machine)
    assert run_until(qtbot, win, lambda: state.recording() is None and "saved" in state.message(), 30.0), \
        state.message()
    assert run_until(qtbot, win, lambda: "Record" in win.record_button.text(), 10.0)
    runner.stop()
    with SessionReader(path) as reader:
        assert {s.placement for s in reader.sensors.values()} == {"pelvis", "left_thigh", "right_thigh"}
        for sid in reader.sensors:
            # ~3 s of Movesense notifications at 208 Hz (4 samples each: 52/s)
            assert reader.notification_count(sid) > 100, sid
            assert len(reader.samples(sid)) > 400, sid
        (marker,) = reader.markers
        assert marker.label == "marker 1" and marker.time_s == pytest.approx(state.markers()[0][0])
        meta = reader.metadata
        assert meta["athlete"] == "Rec Runner" and meta["session"] == "rec test"
        # the recording shares the live session clock: the marker lies within the recorded span
        t0, t1 = reader.time_span_s
        assert t0 - 0.5 <= marker.time_s <= t1 + 0.5


def test_faded_feedback_schedule():
    from hipmon.app.feedback import CueGate, FadeSchedule

    sched = FadeSchedule.parse("1,2,4/5")
    assert sched == FadeSchedule((1, 2, 4), 300.0) and FadeSchedule.parse("1,3") == FadeSchedule((1, 3), 300.0)
    with pytest.raises(ValueError):
        FadeSchedule.parse("1,0")
    with pytest.raises(ValueError):
        FadeSchedule.parse("every")
    gate = CueGate(sched)
    # 8 alerts in each stage: all, every 2nd, every 4th (the first of a stage always sounds); the last stage holds
    fired = {stage: [gate.allow(stage * 300.0 + 10.0 + i) for i in range(8)] for stage in range(4)}
    assert fired[0] == [True] * 8
    assert fired[1] == [True, False] * 4
    assert fired[2] == fired[3] == [True, False, False, False] * 2
    assert all(CueGate(None).allow(t) for t in range(20))  # default: every alert


def test_faded_cue_in_the_window_keeps_every_alert_on_screen(qtbot):
    from hipmon.app.feedback import FadeSchedule
    from hipmon.app.feeds import SimpleAlert

    state = LiveState(seconds=30, rate_hz=100)
    win = Dashboard(state, None, muted=False, fade=FadeSchedule((1, 2), 10.0))
    qtbot.addWidget(win)
    assert win.cue_box.currentIndex() == 1
    state.push_frames(np.array([0.0, 25.0]), np.zeros((2, len(ANGLE_COLUMNS))))
    for t in (1.0, 2.0, 3.0, 11.0, 12.0, 13.0, 14.0):  # stage 0: every alert; from 10 s: every 2nd
        state.push_alerts([SimpleAlert("pelvic_drop", "left", t, {"peak_pelvic_drop_deg": 9.0})])
        win.refresh()
    assert win.beeper.count == 3 + 2 and win.beeper.withheld == 2
    assert win.alert_log.count() == 7  # the coach still sees all of them
    # switching the menu back to "every alert" cues each one again
    win.cue_box.setCurrentIndex(0)
    state.push_alerts([SimpleAlert("pelvic_drop", "left", 15.0, {"peak_pelvic_drop_deg": 9.0})])
    win.refresh()
    state.push_alerts([SimpleAlert("pelvic_drop", "left", 16.0, {"peak_pelvic_drop_deg": 9.0})])
    win.refresh()
    assert win.beeper.count == 7


def test_banner_stays_on_an_active_rule_when_a_newer_alert_has_cleared(qtbot):
    """The engine labels a stride with its first active rule only; the banner must not go green while it is active."""
    from hipmon.app.feeds import SimpleAlert

    state = LiveState(seconds=30, rate_hz=100)
    win = Dashboard(state, None, muted=True)
    qtbot.addWidget(win)
    state.push_frames(np.array([0.0, 1.0]), np.zeros((2, len(ANGLE_COLUMNS))))
    state.push_alerts([SimpleAlert("pelvic_drop", "right", 1.0, {"peak_pelvic_drop_deg": 9.0})])
    state.push_alerts([SimpleAlert("valgus", "right", 1.0, {"peak_hip_adduction_deg": 18.0})])
    win.refresh()
    assert "knee valgus" in win.banner.text()
    # 10 s later the right strides still carry pelvic_drop (valgus not in their label)
    state.push_events([Event("stance", "right", 9.5, 9.8, 9.0, 10.0, 2.0, "pelvic_drop")])
    state.push_frames(np.array([10.0]), np.zeros((1, len(ANGLE_COLUMNS))))
    win.refresh()
    assert "pelvic drop" in win.banner.text() and theme.ALERT in win.banner.styleSheet()
    # and once no rule is active on that side, it goes green
    state.push_events([Event("stance", "right", 10.5, 10.8, 3.0, 10.0, 2.0, "")])
    state.push_frames(np.array([11.0]), np.zeros((1, len(ANGLE_COLUMNS))))
    win.refresh()
    assert "No alert" in win.banner.text()


# ---------------------------------------------------------------- replay


def _replay_model():
    t, a, ev = synthetic_run(60.0, rate_hz=100.0, fatigue_after_s=15.0, seed=5)
    alerts = FixedLimitAlerts().update(ev)
    assert len(alerts) >= 3
    return ReplayModel(t, a, None, ev, alerts), alerts


def test_replay_jumps_to_alerts_and_events(qtbot):
    model, alerts = _replay_model()
    win = build_replay(model, muted=True)
    qtbot.addWidget(win)
    win.show()
    model.seek(0.0)
    win.refresh()
    assert win.alert_log.count() == 0
    bar = win.replay_bar
    times = sorted(a.time_s for a in alerts)
    qtbot.mouseClick(bar.buttons["next_alert"], QtCore.Qt.MouseButton.LeftButton)
    assert model.playhead == pytest.approx(times[0] + 0.5)
    assert win.alert_log.count() == 1 and "⚠" in win.banner.text()
    qtbot.mouseClick(bar.buttons["next_alert"], QtCore.Qt.MouseButton.LeftButton)
    assert model.playhead == pytest.approx(times[1] + 0.5)
    assert win.alert_log.count() == 2
    qtbot.mouseClick(bar.buttons["prev_alert"], QtCore.Qt.MouseButton.LeftButton)
    assert model.playhead == pytest.approx(times[0] + 0.5) and win.alert_log.count() == 1
    # strides: the next event's end lands just behind the playhead, bars grow by one
    n0 = len(model.events())
    qtbot.mouseClick(bar.buttons["next_event"], QtCore.Qt.MouseButton.LeftButton)
    assert len(model.events()) == n0 + 1
    # the figure shows the pose at the playhead
    i = int(np.searchsorted(model.time_s, model.playhead, side="right")) - 1
    np.testing.assert_allclose(model.current_angles(), model.angles_deg[i])
    # the trace window is around the playhead, with the playhead line drawn
    x, _ = win.curves["pelvis_obliquity_deg"].getData()
    assert x[0] >= -win.trace_seconds - 0.02 and x[-1] <= model.lookahead_s + 0.02  # relative to the playhead
    assert win.trace_plots[0].viewRange()[0] == pytest.approx([-win.trace_seconds, model.lookahead_s])
    assert win.playhead_lines and win.playhead_lines[0].value() == 0.0
    # scrubbing the timeline seeks
    bar._seek(30.0)
    assert model.playhead == pytest.approx(30.0) and win.clock_label.text() == "t = 0:30.0"


def test_replay_plays_at_speed(qtbot):
    model, _ = _replay_model()
    win = build_replay(model, muted=True)
    qtbot.addWidget(win)
    model.seek(10.0)
    idx = win.replay_bar.speed_box.findData(8.0)
    win.replay_bar.speed_box.setCurrentIndex(idx)
    assert model.speed == 8.0
    t0 = time.monotonic()
    win.replay_bar.play_button.click()
    assert model.playing
    win.refresh()
    qtbot.wait(300)
    win.refresh()
    elapsed = time.monotonic() - t0
    # the playhead moved by the wall time between play and the last refresh x speed: at least
    # the 0.3 s waited, at most all the time since before the click (however slow the redraws are)
    assert 10.0 + 8.0 * 0.25 <= model.playhead <= 10.0 + 8.0 * elapsed + 1e-6
    win.replay_bar.play_button.click()
    assert not model.playing


@pytest.mark.slow
def test_replay_of_a_recording(qtbot, tmp_path):
    """A real session file (simulator CSVs imported) through the pipeline into the replay views."""
    simulate = pytest.importorskip("hipmon.simulate").simulate
    from hipmon.recording.csvio import import_csv_session

    sim = simulate("run", 30.0, 7, preset="right_hip_tires")
    d = sim.write_dir(tmp_path / "sim")
    path = tmp_path / "run.hipmon"
    import_csv_session({p: d / f"{p}.csv" for p in ("pelvis", "left_thigh", "right_thigh")}, path,
                       metadata={"athlete": "Sim", "session": "t"})
    model = ReplayModel.from_session(str(path))
    assert model.end_s == pytest.approx(30.0, abs=0.5)
    assert model.info.athlete == "Sim"  # the recording's metadata, shown in the header
    assert np.isfinite(model.angles_deg).all(axis=1).mean() > 0.5
    assert len(model.events_all) > 20
    win = build_replay(model, muted=True)
    qtbot.addWidget(win)
    win.show()
    model.seek(20.0)
    # jumps work on the recording's own events (and alerts, if the pipeline raised any)
    t_next = model.next_event()
    assert t_next is not None and t_next > 20.0 and model.events()[-1].end_s == pytest.approx(t_next)
    if model.alerts_all:
        model.seek(model.start_s)
        assert model.next_alert() == pytest.approx(model.alerts_all[0].time_s)
    shot = tmp_path / "replay.png"
    assert win.save_screenshot(str(shot))
    img = QtGui.QImage(str(shot))
    traces = region(win, win.traces)
    for colour in (theme.PELVIS, theme.LEFT, theme.RIGHT):
        assert colour_pixels(img, colour, traces) > 200, colour


# ---------------------------------------------------------------- the commands


def test_demo_command_saves_a_screenshot_with_content(tmp_path):
    png = tmp_path / "demo.png"
    env_cmd = [sys.executable, "-m", "hipmon", "demo", "--source", "truth", "--speed", "8", "--duration", "4",
               "--mute", "--screenshot", str(png)]
    res = subprocess.run(env_cmd, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert res.returncode == 0, res.stderr
    img = QtGui.QImage(str(png))
    assert img.width() >= 1200 and img.height() >= 800
    # the traces are drawn (left third of the window, under the banner)
    traces = QtCore.QRect(40, 100, img.width() * 2 // 3 - 40, img.height() // 2 - 100)
    for colour in (theme.PELVIS, theme.LEFT, theme.RIGHT):
        assert colour_pixels(img, colour, traces) > 300, colour
    # the figure is drawn (right third, top half): both thighs
    fig = QtCore.QRect(img.width() * 3 // 4, 100, img.width() // 4 - 10, img.height() // 2 - 100)
    assert colour_pixels(img, theme.LEFT, fig, tol=30) > 150 and colour_pixels(img, theme.RIGHT, fig, tol=30) > 150


def test_live_no_gui_prints_one_line_per_stride():
    import io

    from hipmon.commands.live import run_terminal

    t, a, ev = synthetic_run(30.0, rate_hz=100.0, fatigue_after_s=5.0, seed=1)
    feed = SimulatedFeed(t, a, ev, speed=60.0, alerter=FixedLimitAlerts())
    out = io.StringIO()
    assert run_terminal(feed, duration=20.0, out=out) == 0
    lines = out.getvalue().splitlines()
    strides = [ln for ln in lines if "s  stance " in ln]
    alerts = [ln for ln in lines if " ALERT " in ln]
    assert len(strides) == len(ev)
    first = ev[0]
    assert f"{first.end_s:8.2f} s" in strides[0] and f"drop {first.peak_pelvic_drop_deg:5.1f}°" in strides[0]
    assert alerts and any("[pelvic_drop]" in ln or "[hip_adduction]" in ln for ln in strides)
