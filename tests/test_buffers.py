"""Ring buffers sized in seconds and the live state the dashboard reads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from hipmon.app.feeds import FeedUpdate, FixedLimitAlerts, SimpleAlert, limits_of
from hipmon.buffers import COL, LiveState, RingBuffer, alert_message, describe_alert
from hipmon.types import ANGLE_COLUMNS, Event, Frames


def test_ring_capacity_is_seconds_times_rate_and_keeps_newest_in_order():
    rb = RingBuffer(seconds=2.0, rate_hz=100.0, n_channels=2)
    assert rb.capacity == 200
    t = np.arange(550) / 100.0
    x = np.stack([t, -t], axis=1)
    for i in range(0, 550, 37):  # uneven chunks wrap the ring several times
        rb.push(t[i : i + 37], x[i : i + 37])
    tt, xx = rb.get()
    assert len(rb) == 200 and rb.n_pushed == 550
    np.testing.assert_allclose(tt, t[-200:])
    np.testing.assert_allclose(xx[:, 1], -t[-200:])
    # a window in seconds ending at the newest row
    tw, _ = rb.get(seconds=0.5)
    assert tw[0] == pytest.approx(t[-1] - 0.5) and tw[-1] == pytest.approx(t[-1])
    # a window ending earlier
    tw, _ = rb.get(seconds=0.2, end_s=4.0)
    assert tw[0] == pytest.approx(3.8) and tw[-1] == pytest.approx(4.0)
    assert rb.latest()[0] == pytest.approx(5.49)


def test_ring_push_larger_than_capacity_keeps_the_tail():
    rb = RingBuffer(1.0, 10.0, 1)
    rb.push(np.arange(25.0), np.arange(25.0)[:, None])
    t, x = rb.get()
    np.testing.assert_array_equal(t, np.arange(15.0, 25.0))


def test_ring_is_consistent_under_a_concurrent_writer():
    rb = RingBuffer(1.0, 1000.0, 1)
    n = 200_000
    stop = threading.Event()

    def writer():
        t = np.arange(n, dtype=float)
        for i in range(0, n, 50):
            rb.push(t[i : i + 50], t[i : i + 50, None])
        stop.set()

    th = threading.Thread(target=writer)
    th.start()
    reads = 0
    while not stop.is_set() or reads == 0:
        t, x = rb.get()
        if t.size:
            # every snapshot is contiguous, ordered, and rows match their times
            assert np.all(np.diff(t) == 1.0)
            np.testing.assert_array_equal(t, x[:, 0])
        reads += 1
    th.join()
    assert rb.n_pushed == n and rb.latest()[0] == n - 1


def test_live_state_marks_invalid_frames_as_gaps_and_counts_alerts():
    st = LiveState(seconds=5, rate_hz=100)
    t = np.arange(100) / 100
    a = np.ones((100, len(ANGLE_COLUMNS)))
    valid = np.ones(100, bool)
    valid[40:60] = False
    ev = Event("stance", "left", 0.1, 0.4, 9.0, 12.0, 5.0)
    alert = SimpleAlert("pelvic_drop", "left", 0.45, {"peak_pelvic_drop_deg": 9.0, "peak_pelvic_drop_deg_limit": 7.0}, ev)
    st.push_update(FeedUpdate(Frames(t, a, {}, {}, valid), [ev], [alert]))
    _, got = st.angles_window(10)
    assert np.isnan(got[40:60]).all() and np.isfinite(got[:40]).all() and np.isfinite(got[60:]).all()
    assert st.events(side="left") == [ev] and st.events(side="right") == []
    assert st.alerts() == [alert] and st.alerts_since() == [(1, alert)] and st.alerts_since(1) == []
    text = alert_message(alert)
    assert "LEFT stance" in text and "9.0° > 7.0°" in text and "right side drops" in text


def test_live_state_is_bounded():
    st = LiveState(seconds=1, rate_hz=50, max_events=30, max_alerts=20)
    for k in range(1000):
        st.push_frames(np.array([k / 50]), np.zeros((1, 9)))
        ev = Event("stance", "left" if k % 2 else "right", k, k + 0.2)
        st.push_events([ev])
        st.push_alerts([SimpleAlert("valgus", ev.side, k + 0.2, {}, ev)])
    assert len(st.angles) == 50 and len(st.events()) == 30 and len(st.alerts()) == 20
    assert st.alert_seq == 1000 and [q for q, _ in st.alerts_since()] == list(range(981, 1001))
    assert st.alerts_since(999) == [(1000, st.alerts()[-1])] and len(st.alerts_since(5)) == 20


def test_describe_alert_valgus_reads_both_conditions():
    text = describe_alert("valgus", "right", {
        "peak_hip_adduction_deg": 17.04, "peak_hip_adduction_deg_limit": 15.0, "peak_hip_adduction_deg_baseline": 12.0,
        "peak_hip_internal_rotation_deg": 8.0, "peak_hip_internal_rotation_deg_limit": 6.5, "k": 3.0, "n": 5.0})
    assert text == "RIGHT stance — knee valgus: hip ADD 17.0° > 15.0°, hip IR 8.0° > 6.5°"


def test_limits_from_the_alert_engine_map_drop_to_the_obliquity_sign():
    alerts = pytest.importorskip("hipmon.alerts")
    engine = alerts.AlertEngine(alerts.load_rules(None))
    lims = limits_of(engine)
    obl = [x for x in lims if x.column == "pelvis_obliquity_deg"]
    # before a baseline: the absolute screening limit; left stance -> right side drops -> obliquity below -L
    lows = [x.low for x in obl if x.low is not None]
    highs = [x.high for x in obl if x.high is not None]
    assert lows and highs and lows[0] == pytest.approx(-highs[0]) and highs[0] > 0
    cols = {x.column for x in lims}
    assert {"hip_adduction_left_deg", "hip_adduction_right_deg", "hip_internal_rotation_right_deg"} <= cols
    # fallback alerter offers its own
    assert {x.column for x in FixedLimitAlerts().limits()} >= {"pelvis_obliquity_deg", "hip_adduction_left_deg"}
    assert COL["pelvis_obliquity_deg"] == 1


def test_live_state_fills_in_the_calibration_backfill():
    # the update that brings the calibration brings the earlier grid points again, with angles:
    # the traces fill in where the view held NaN; rows no longer held are left out
    from types import SimpleNamespace

    from hipmon.buffers import LiveState

    st = LiveState(seconds=1.0, rate_hz=100.0)
    t = np.arange(150) / 100.0
    st.push_frames(t, np.zeros((150, 9)), np.zeros(150, bool))  # invalid before calibration: NaN
    back = SimpleNamespace(time_s=t[:150], angles_deg=np.tile(np.arange(150.0)[:, None], (1, 9)),
                           valid=np.ones(150, bool))
    st.push_update(SimpleNamespace(backfill=back, frames=None, events=(), alerts=()))
    tt, x = st.angles.get()
    assert np.array_equal(tt, t[50:])  # the ring holds the newest second
    assert np.array_equal(x[:, 0], np.arange(50.0, 150.0))


def test_alert_line_shows_the_value_and_limit_not_the_rules_workings():
    # the alert engine also reports the baseline's standard error and the pelvis offset it took off:
    # the coach's line is the measured value against its limit
    text = describe_alert("pelvic_drop", "right", {
        "peak_pelvic_drop_deg": 10.5, "peak_pelvic_drop_deg_limit": 10.1, "peak_pelvic_drop_deg_baseline": 7.0,
        "peak_pelvic_drop_deg_baseline_se": 0.2, "peak_pelvic_drop_deg_offset": 0.0})
    assert text == "RIGHT stance — pelvic drop: drop 10.5° > 10.1° (left side drops)"
