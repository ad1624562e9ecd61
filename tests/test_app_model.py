"""The declared seams of the app (``hipmon.app.model``): live and replay satisfy ``DashboardModel``,
both sources satisfy ``Source``, and the judgements the panels display (bands, per-stride bars,
the banner's alert, out-of-band parts, link levels) follow the sign conventions of DESIGN section 2.

Every member of the protocols is exercised on both implementations, not only ``isinstance``
(which checks names only)."""

from __future__ import annotations

import numpy as np
import pytest

from hipmon.app.feeds import FeedUpdate, FixedLimitAlerts, SimpleAlert, SimulatedFeed, synthetic_run
from hipmon.app.model import (
    AlertTracker, AngleFrames, Coverage, DashboardModel, Seekable, Source, SourceUpdate, bands_by_column,
    link_level, metric_bars, obliquity_words, out_of_band,
)
from hipmon.app.replay import ReplayModel
from hipmon.app.session import SessionRunner, per_column_gaps
from hipmon.buffers import COL, CalibrationStatus, Limit, LiveState, SessionInfo, alert_message
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS, Alert, Event, Frames, SensorStatus

RATE = 100.0


def _run(seconds: float = 30.0):
    t, a, ev = synthetic_run(seconds, rate_hz=RATE, fatigue_after_s=5.0, seed=2)
    return t, a, ev, FixedLimitAlerts().update(ev)


def _live(t, a, ev, alerts) -> LiveState:
    state = LiveState(seconds=20.0, rate_hz=RATE, placements=("pelvis",))
    state.push_update(FeedUpdate(Frames(t, a, {}, {}, np.ones(t.size, bool)), list(ev), list(alerts)))
    state.set_sensors([SensorStatus("p", "pelvis", "", connected=True, rate_measured_hz=RATE, samples=980, samples_lost=20)])
    state.set_calibration(CalibrationStatus("done", 1.0, 0.8, "calibrated"))
    state.set_limits(FixedLimitAlerts().limits())
    state.add_marker(t[-1] - 1.0, "m1")
    state.set_lag_ms(42.0)
    return state


def _replay(t, a, ev, alerts) -> ReplayModel:
    m = ReplayModel(t, a, None, ev, alerts, markers=[(t[-1] - 1.0, "m1")],
                    sensors=[SensorStatus("p", "pelvis", "", connected=True, rate_measured_hz=RATE, samples=980, samples_lost=20)],
                    calibration=CalibrationStatus("done", 1.0, 0.8, "calibrated"), rules=None,
                    placements=("pelvis",))
    m.seek(t[-1])
    m.take_alerts_reset()
    return m


@pytest.mark.parametrize("kind", ["live", "replay"])
def test_live_and_replay_are_dashboard_models_and_answer_alike(kind):
    t, a, ev, alerts = _run()
    m = _live(t, a, ev, alerts) if kind == "live" else _replay(t, a, ev, alerts)
    assert isinstance(m, DashboardModel)
    assert isinstance(m, Seekable) == (kind == "replay")  # only a replay moves its clock
    m.tick()
    assert m.placements == ("pelvis",) and isinstance(m.info, SessionInfo)
    assert m.lookahead_s == (0.0 if kind == "live" else 2.0) and m.audible is True
    assert m.now_s() == pytest.approx(t[-1])
    tw, aw = m.angles_window(5.0)
    assert tw[-1] == pytest.approx(t[-1]) and tw[0] >= t[-1] - 5.0 - 1e-9 and aw.shape == (tw.size, len(ANGLE_COLUMNS))
    np.testing.assert_allclose(m.current_angles(), a[-1])
    # events up to now, filtered; alerts with increasing sequence numbers, "since" works
    assert [e.end_s for e in m.events(kind="stance", side="left", last=3)] == \
        [e.end_s for e in ev if e.side == "left"][-3:]
    recs = m.alerts()
    assert len(recs) == len(alerts) and all(isinstance(r, Alert) for r in recs)
    numbered = m.alerts_since()
    assert [q for q, _ in numbered] == list(range(1, len(recs) + 1)) and [x for _, x in numbered] == recs
    assert m.alerts_since(len(recs) - 1) == [(len(recs), recs[-1])]
    assert "stance" in alert_message(recs[0])
    assert m.take_alerts_reset() is False
    assert m.sensors()[0].placement == "pelvis" and m.sensors()[0].loss == pytest.approx(0.02)
    assert m.calibration().stage == "done"
    assert {lim.column for lim in m.limits()} >= {"pelvis_obliquity_deg"}
    assert m.markers() == [(pytest.approx(t[-1] - 1.0), "m1")]
    assert m.recording() is None and isinstance(m.message(), str)
    assert m.lag_ms() == (42.0 if kind == "live" else None)


def test_a_replay_seek_rewrites_the_alert_history_once():
    t, a, ev, alerts = _run()
    m = _replay(t, a, ev, alerts)
    first = min(x.time_s for x in alerts)
    m.seek(first - 0.1)
    assert m.take_alerts_reset() is True and m.take_alerts_reset() is False
    assert m.alerts() == [] and m.now_s() == pytest.approx(first - 0.1)


def test_after_a_seek_back_before_every_alert_playing_on_shows_them_again():
    t, a, ev, alerts = _run()
    m = _replay(t, a, ev, alerts)
    tracker = AlertTracker()
    assert len(tracker.poll(m, m.now_s()).new) == len(alerts)
    first = min(x.time_s for x in alerts)
    m.seek(first - 1.0)
    d = tracker.poll(m, m.now_s())
    assert d.reset and d.new == [] and d.banner is None
    m.playhead = first + 0.1  # played on (no seek)
    d = tracker.poll(m, m.now_s())
    assert not d.reset and [x.time_s for x in d.new] == [pytest.approx(first)] and d.banner is d.new[0]


def test_both_sources_are_sources_and_feed_a_live_state():
    from hipmon.app.chain import ChainSource

    t, a, ev, _ = _run(8.0)
    feed = SimulatedFeed(t, a, ev, speed=float("inf"), alerter=FixedLimitAlerts(), calibrated_at_s=5.0)
    assert isinstance(feed, Source)
    chain = ChainSource([], label="nothing")
    assert isinstance(chain, Source) and chain.can_record and chain.placements == ()
    assert chain.finish() == [] and chain.pipeline_lag_ms() is None and chain.limits() == []
    assert chain.calibration_status().stage == "none" and chain.sensor_status() == []
    # the feed's members, as the runner uses them
    assert feed.placements == PLACEMENTS and not feed.can_record and feed.pipeline_lag_ms() is None
    with pytest.raises(RuntimeError, match="cannot record"):
        feed.start_recording("x.hipmon")
    feed.start()
    u = feed.read(0.0)
    assert isinstance(u, SourceUpdate) and isinstance(u.frames, AngleFrames)
    assert u.backfill is None and u.calibration is None
    state = LiveState(seconds=10.0, rate_hz=RATE, placements=feed.placements)
    runner = SessionRunner(feed, state)
    runner.start()
    assert runner.finished.wait(20.0) and runner.error is None
    assert state.now_s() == pytest.approx(t[-1]) and len(u.events) + len(state.events()) == len(ev)
    assert state.sensors() and state.calibration().stage == "done"
    assert state.lag_ms() is None and feed.finished and feed.finish() == []


def test_per_column_gaps_takes_the_pelvis_validity():
    t = np.arange(4) / RATE
    a = np.zeros((4, len(ANGLE_COLUMNS)))
    pelvis = np.array([True, True, False, True])
    f = Frames(t, a, {}, {}, np.array([True, False, False, True]), valid_sensor={"pelvis": pelvis})
    fixed = per_column_gaps(FeedUpdate(f))
    np.testing.assert_array_equal(fixed.frames.valid, pelvis)
    assert per_column_gaps(FeedUpdate(None)).frames is None


# ---------------------------------------------------------------- judgements the panels display


def test_bands_take_the_tightest_limit_and_flag_what_is_beyond():
    bands = bands_by_column([Limit("pelvis_obliquity_deg", low=-7.0), Limit("pelvis_obliquity_deg", high=8.0),
                             Limit("pelvis_obliquity_deg", high=6.0), Limit("hip_adduction_left_deg", high=15.0)])
    assert bands == {"pelvis_obliquity_deg": (-7.0, 6.0), "hip_adduction_left_deg": (None, 15.0)}
    bad = out_of_band({"pelvis_obliquity_deg": -7.5, "hip_adduction_left_deg": 14.0,
                       "hip_adduction_right_deg": 40.0, "hip_internal_rotation_left_deg": float("nan")}, bands)
    assert bad == {"pelvis_obliquity_deg": True, "hip_adduction_left_deg": False,
                   "hip_adduction_right_deg": False, "hip_internal_rotation_left_deg": False}
    # DESIGN section 2: obliquity > 0 = right side up, so the left side is low
    assert obliquity_words(3.0) == "L side low" and obliquity_words(-3.0) == "R side low"
    assert obliquity_words(0.2) == "level"
    assert [link_level(x) for x in (None, 0.0, 0.02, 0.2)] == ["", "ok", "warn", "bad"]


def test_metric_bars_give_each_side_its_values_flags_and_metric_limit():
    evs = [Event("stance", "left" if k % 2 == 0 else "right", k, k + 0.3, 4.0 + k, 8.0, 2.0) for k in range(30)]
    evs[28].alert = "pelvic_drop"
    alerts = [Alert("valgus", "right", 27.5, {}, evs[27])]
    bands = bands_by_column(FixedLimitAlerts().limits())  # pelvic drop 7°, hip adduction 15°
    drop, add, _ir = metric_bars(evs, alerts, bands, n=10)
    left, right = drop.sides["left"], drop.sides["right"]
    np.testing.assert_array_equal(left.slots, np.arange(10))
    np.testing.assert_allclose(left.values, [4.0 + k for k in range(10, 30, 2)])
    assert left.alerted.tolist() == [False] * 9 + [True] and right.alerted.tolist() == [False] * 8 + [True, False]
    # a left stance's drop is the right side's: the obliquity band's low edge (-7°), negated
    assert left.limit == pytest.approx(7.0) and right.limit == pytest.approx(7.0)
    assert add.sides["left"].limit == pytest.approx(15.0) and drop.recent_max == pytest.approx(33.0)


def test_alert_tracker_holds_the_banner_while_the_rule_is_active():
    state = LiveState(seconds=30, rate_hz=RATE)
    tracker = AlertTracker(hold_s=4.0)
    state.push_frames(np.array([0.0, 1.0]), np.zeros((2, len(ANGLE_COLUMNS))))
    state.push_alerts([SimpleAlert("pelvic_drop", "right", 1.0, {"peak_pelvic_drop_deg": 9.0})])
    state.push_alerts([SimpleAlert("valgus", "right", 1.0, {"peak_hip_adduction_deg": 18.0})])
    d = tracker.poll(state, 1.0)
    assert [a.rule for a in d.new] == ["pelvic_drop", "valgus"] and not d.reset and d.banner.rule == "valgus"
    assert tracker.poll(state, 1.0).new == []
    # 10 s later the right strides still carry pelvic_drop: the banner moves to it
    state.push_events([Event("stance", "right", 9.5, 9.8, 9.0, 10.0, 2.0, "pelvic_drop")])
    assert tracker.poll(state, 10.0).banner.rule == "pelvic_drop"
    state.push_events([Event("stance", "right", 10.5, 10.8, 3.0, 10.0, 2.0, "")])
    assert tracker.poll(state, 11.0).banner is None


def test_coverage_of_one_sensor():
    one, three = Coverage.of(("pelvis",)), Coverage.of(None)
    assert three.placements == PLACEMENTS and three.hips_measured and three.why_not("hip_adduction") is None
    assert not one.hips_measured and "thigh" in one.why_not("peak_hip_adduction")
    assert one.sensors_text() == "one sensor, on the sacrum"
    assert COL["pelvis_obliquity_deg"] == 1
