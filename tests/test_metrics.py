"""Per-event peaks and per-session summaries against hand-built angle traces."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hipmon.metrics import (
    VALGUS_FIELD,
    event_peaks,
    fill_event_metrics,
    linear_trend,
    side_key,
    summarize_events,
)
from hipmon.types import ANGLE_COLUMNS, Event

FS = 200.0


def _angles(t: np.ndarray, **cols: np.ndarray) -> np.ndarray:
    a = np.zeros((t.size, len(ANGLE_COLUMNS)))
    for name, v in cols.items():
        a[:, ANGLE_COLUMNS.index(name)] = v
    return a


def test_right_stance_peaks_and_their_times():
    t = np.arange(0, 1.0, 1 / FS)
    # obliquity +6 deg at 0.30 s (right side up = left side dropped: CPD of a right stance)
    obl = 6.0 * np.exp(-((t - 0.30) / 0.05) ** 2) - 3.0 * np.exp(-((t - 0.8) / 0.05) ** 2)
    add = 12.0 * np.exp(-((t - 0.40) / 0.08) ** 2)
    ir = 5.0 * np.exp(-((t - 0.45) / 0.08) ** 2)
    a = _angles(t, pelvis_obliquity_deg=obl, hip_adduction_right_deg=add, hip_internal_rotation_right_deg=ir,
                hip_adduction_left_deg=30 + 0 * t)
    p = event_peaks(t, a, "right", 0.2, 0.6)
    assert p["peak_pelvic_drop_deg"] == pytest.approx(6.0, abs=1e-3)
    assert p["t_peak_drop_s"] == pytest.approx(0.30, abs=1 / FS)
    assert p["peak_hip_adduction_deg"] == pytest.approx(12.0, abs=1e-3)
    assert p["t_peak_adduction_s"] == pytest.approx(0.40, abs=1 / FS)
    assert p["peak_hip_internal_rotation_deg"] == pytest.approx(5.0, abs=1e-3)
    assert p["pct_peak_adduction"] == pytest.approx(50.0, abs=1.5)
    # composite is the sample-wise peak of add + ir, below the sum of the separate peaks
    assert p[VALGUS_FIELD] == pytest.approx(np.max(add + ir), abs=1e-9)
    assert p[VALGUS_FIELD] < 17.0
    assert p["valid_fraction"] == 1.0


def test_left_stance_uses_mirrored_obliquity_and_left_hip():
    t = np.arange(0, 1.0, 1 / FS)
    obl = -4.0 * np.sin(np.pi * t)  # right side low = right (swing) side dropped for a left stance
    a = _angles(t, pelvis_obliquity_deg=obl, hip_adduction_left_deg=10 * np.sin(np.pi * t))
    p = event_peaks(t, a, "left", 0.0, 1.0)
    assert p["peak_pelvic_drop_deg"] == pytest.approx(4.0, abs=1e-3)
    assert p["peak_hip_adduction_deg"] == pytest.approx(10.0, abs=1e-3)


def test_invalid_samples_are_ignored_and_reported():
    t = np.arange(0, 1.0, 1 / FS)
    add = np.where((t > 0.4) & (t < 0.5), 50.0, 5.0)
    a = _angles(t, hip_adduction_right_deg=add)
    valid = ~((t > 0.39) & (t < 0.51))
    p = event_peaks(t, a, "right", 0.0, 1.0, valid)
    assert p["peak_hip_adduction_deg"] == 5.0
    assert 0.85 < p["valid_fraction"] < 0.92
    nothing = event_peaks(t, a, "right", 0.0, 1.0, np.zeros_like(valid))
    assert np.isnan(nothing["peak_hip_adduction_deg"])


def test_two_legged_event_reports_worse_side_and_both_sides():
    t = np.arange(0, 1.0, 1 / FS)
    a = _angles(t, hip_adduction_left_deg=8 + 0 * t, hip_internal_rotation_left_deg=2 + 0 * t,
                hip_adduction_right_deg=14 + 0 * t, hip_internal_rotation_right_deg=6 + 0 * t,
                pelvis_obliquity_deg=-3.0 + 0 * t)
    p = event_peaks(t, a, "both", 0.1, 0.9)
    assert p["peak_hip_adduction_deg"] == 14
    assert p["worse_side"] == 1.0
    assert p[side_key("peak_hip_adduction_deg", "left")] == 8
    assert p[side_key("peak_hip_internal_rotation_deg", "right")] == 6
    assert p["peak_pelvic_drop_deg"] == 3.0  # the right side of the pelvis dropped 3 deg
    assert p[side_key("peak_pelvic_drop_deg", "left")] == 3.0
    assert p[side_key("peak_pelvic_drop_deg", "right")] == -3.0


def test_fill_event_metrics_sets_fields():
    t = np.arange(0, 1.0, 1 / FS)
    a = _angles(t, hip_adduction_right_deg=10 * t)
    e = fill_event_metrics(Event("stance", "right", 0.2, 0.5), t, a)
    assert e.peak_hip_adduction_deg == pytest.approx(5.0, abs=0.05)
    assert e.extra["t_peak_adduction_s"] == pytest.approx(0.5, abs=1 / FS)


def test_linear_trend_recovers_slope_with_confidence_interval():
    rng = np.random.default_rng(3)
    t = np.linspace(0, 600, 400)  # 10 min
    v = 5.0 + 0.3 * t / 60 + rng.normal(0, 1.0, t.size)
    tr = linear_trend(t, v)
    assert tr.slope_per_min == pytest.approx(0.3, abs=0.05)
    assert tr.ci95[0] < 0.3 < tr.ci95[1]
    assert tr.significant
    assert tr.change == pytest.approx(3.0, abs=0.5)
    flat = linear_trend(t, 5.0 + rng.normal(0, 1.0, t.size))
    assert abs(flat.slope_per_min) < 0.1
    assert np.isnan(linear_trend([1.0], [2.0]).slope_per_min)


def test_session_summary_means_sds_asymmetry_and_json():
    events = []
    for i in range(10):
        events.append(Event("stance", "left", i, i + 0.3, 4.0 + (i % 2), 10.0, 2.0, extra={VALGUS_FIELD: 12.0}))
        events.append(Event("stance", "right", i + 0.5, i + 0.8, 6.0, 13.0, 1.0 + i, alert="valgus" if i > 7 else ""))
    s = summarize_events(events)
    left = s["kinds"]["stance"]["sides"]["left"]
    right = s["kinds"]["stance"]["sides"]["right"]
    assert left["count"] == 10 and right["count"] == 10
    assert left["peak_pelvic_drop_deg"]["mean"] == pytest.approx(4.5)
    assert left["peak_pelvic_drop_deg"]["sd"] == pytest.approx(np.std([4, 5] * 5, ddof=1))
    assert s["kinds"]["stance"]["asymmetry_left_minus_right"]["peak_hip_adduction_deg"] == pytest.approx(-3.0)
    assert right["peak_hip_internal_rotation_deg"]["trend"]["slope_per_min"] == pytest.approx(60.0)
    assert right["alerts"] == 2
    assert right[VALGUS_FIELD]["mean"] is None  # NaN -> None
    json.dumps(s, allow_nan=False)
