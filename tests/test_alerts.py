"""Alert rules: loading, baseline-relative limits, k-of-n debounce, hysteresis."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hipmon.alerts import AlertEngine, Baseline, RulesError, alert_labels, load_rules, parse_rules
from hipmon.metrics import side_key
from hipmon.types import Event


def _rules(k=3, n=5, hyst=1.0, base_events=5, absolute=True, add_abs=16.0):
    return parse_rules(
        {
            "baseline": {"events": base_events, "absolute_before_baseline": absolute},
            "rule": [
                {
                    "name": "pelvic_drop",
                    "hysteresis_deg": hyst,
                    "debounce": {"stance": [k, n]},
                    "condition": [{"metric": "peak_pelvic_drop_deg", "above_baseline_deg": 2.0, "absolute_deg": 7.0}],
                },
                {
                    "name": "valgus",
                    "hysteresis_deg": hyst,
                    "debounce": {"stance": [k, n]},
                    "condition": [
                        {"metric": "peak_hip_adduction_deg", "above_baseline_deg": 3.0, "absolute_deg": add_abs},
                        {"metric": "peak_hip_internal_rotation_deg", "above_baseline_deg": 3.5, "absolute_deg": 6.0},
                    ],
                },
            ],
        }
    )


def _stance(i, drop=4.0, add=10.0, ir=2.0, side="right"):
    return Event("stance", side, i * 0.7, i * 0.7 + 0.25, drop, add, ir, extra={"detected_s": i * 0.7 + 0.3})


def test_default_rules_load_and_are_baseline_relative():
    rules = load_rules()
    names = [r.name for r in rules.rules]
    assert names == ["pelvic_drop", "valgus"]
    assert rules["pelvic_drop"].conditions[0].above_baseline_deg == 2.0
    assert rules["valgus"].k_n("stance") == (3, 5)
    assert rules.baseline_events["stance"] == 20
    assert set(rules.metrics()) == {"peak_pelvic_drop_deg", "peak_hip_adduction_deg", "peak_hip_internal_rotation_deg"}


@pytest.mark.parametrize(
    "doc, field",
    [
        ({"rule": []}, "no [[rule]]"),
        ({"rule": [{"name": "x", "condition": [{"metric": "m"}]}]}, "condition[0].above_baseline_deg"),
        ({"rule": [{"name": "x", "debounce": {"stance": [4, 2]}, "condition": [{"metric": "m", "above_baseline_deg": 1}]}]}, "debounce.stance"),
        ({"rule": [{"name": "x", "kinds": ["jog"], "condition": [{"metric": "m", "above_baseline_deg": 1}]}]}, "kinds"),
        ({"baseline": {"events": {"stance": 0}}, "rule": [{"name": "x", "condition": [{"metric": "m", "above_baseline_deg": 1}]}]}, "baseline.events.stance"),
        ({"rule": [{"name": "x", "condition": [{"metric": "m", "above_baseline_deg": "two"}]}]}, "above_baseline_deg"),
    ],
)
def test_bad_rules_name_the_field(doc, field):
    with pytest.raises(RulesError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_rules(doc, "my.toml")


def test_bad_toml_file_names_file(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text("[[rule]\nname=")
    with pytest.raises(RulesError, match="r.toml"):
        load_rules(p)


def test_baseline_is_median_of_first_events_and_limit_is_relative():
    eng = AlertEngine(_rules(base_events=5))
    drops = [3.0, 5.0, 4.0, 100.0, 4.5]  # one outlier: the median ignores it
    eng.update([_stance(i, drop=d) for i, d in enumerate(drops)])
    assert eng.baseline.get("stance", "right", "peak_pelvic_drop_deg") == 4.5
    cond = eng.rules["pelvic_drop"].conditions[0]
    assert eng.limit(cond, "stance", "right") == (6.5, 4.5)
    assert eng.limit(cond, "stance", "left") == (7.0, None)  # no left events yet: absolute screening limit


def test_k_of_n_debounce_raises_once_and_labels_events():
    eng = AlertEngine(_rules(k=3, n=5, base_events=5))
    eng.update([_stance(i, drop=4.0) for i in range(5)])  # baseline 4 -> limit 6
    pattern = [7, 4, 7, 4, 7, 7, 7]  # exceedances at 0, 2, 4 -> raise at the 5th event
    evs = [_stance(5 + i, drop=d) for i, d in enumerate(pattern)]
    raised = eng.update(evs)
    assert len(raised) == 1
    a = raised[0]
    assert (a.rule, a.side) == ("pelvic_drop", "right")
    assert a.event is evs[4]
    assert a.time_s == pytest.approx(evs[4].extra["detected_s"])
    assert a.values["peak_pelvic_drop_deg"] == 7 and a.values["peak_pelvic_drop_deg_limit"] == 6.0
    assert a.values["peak_pelvic_drop_deg_baseline"] == 4.0
    assert [e.alert for e in evs] == ["", "", "", "", "pelvic_drop", "pelvic_drop", "pelvic_drop"]


def test_isolated_spikes_never_raise():
    eng = AlertEngine(_rules(k=3, n=5, base_events=5))
    evs = [_stance(i, drop=4.0 if (i < 5 or i % 3) else 12.0) for i in range(60)]
    assert eng.update(evs) == []
    assert all(e.alert == "" for e in evs)


def test_hysteresis_holds_near_limit_and_clears_after_k_below():
    eng = AlertEngine(_rules(k=3, n=5, hyst=1.0, base_events=5))
    eng.update([_stance(i, drop=4.0) for i in range(5)])  # limit 6, clear below 5
    eng.update([_stance(5 + i, drop=8.0) for i in range(3)])
    assert eng.is_active("pelvic_drop", "stance", "right")
    near = [_stance(10 + i, drop=5.5) for i in range(10)]  # below the limit, above limit - hysteresis
    eng.update(near)
    assert eng.is_active("pelvic_drop", "stance", "right")
    low = [_stance(30 + i, drop=d) for i, d in enumerate([4.0, 4.0, 5.5, 4.0, 4.0, 4.0])]
    eng.update(low)
    assert not eng.is_active("pelvic_drop", "stance", "right")
    assert [e.alert for e in low] == ["pelvic_drop"] * 5 + [""]  # the 3-in-a-row run restarts after 5.5
    assert [t.kind for t in eng.transitions] == ["raised", "cleared"]


def test_valgus_needs_adduction_and_internal_rotation_together():
    eng = AlertEngine(_rules(k=1, n=1, base_events=5))
    eng.update([_stance(i, add=10.0, ir=2.0) for i in range(5)])  # limits add 13, ir 5.5
    only_add = [_stance(5 + i, add=20.0, ir=2.0) for i in range(3)]
    assert eng.update(only_add) == []
    both = _stance(9, add=14.0, ir=6.0)
    raised = eng.update([both])
    assert [a.rule for a in raised] == ["valgus"] and both.alert == "valgus"


def test_absolute_screening_limits_before_baseline_only_if_enabled():
    hi = [_stance(i, drop=9.0) for i in range(3)]
    assert [a.rule for a in AlertEngine(_rules(k=3, n=5, base_events=20)).update(hi)] == ["pelvic_drop"]
    hi2 = [_stance(i, drop=9.0) for i in range(3)]
    assert AlertEngine(_rules(k=3, n=5, base_events=20, absolute=False)).update(hi2) == []


def test_stored_baseline_replaces_the_session_baseline(tmp_path):
    rules = _rules(k=1, n=1, base_events=5)
    base = Baseline.from_events([_stance(i, drop=3.0) for i in range(5)], rules)
    base.save(tmp_path / "b.json")
    loaded = Baseline.load(tmp_path / "b.json")
    assert loaded.get("stance", "right", "peak_pelvic_drop_deg") == 3.0
    # follow-up session, drop 6 from the first step: 3 deg above the stored baseline
    labels = alert_labels([_stance(i, drop=6.0) for i in range(5)], rules, loaded)
    assert labels == ["pelvic_drop"] * 5
    # without the stored baseline, the session's own first events would absorb the rise
    assert alert_labels([_stance(i, drop=6.0) for i in range(8)], rules) == [""] * 8


def test_two_legged_landing_is_judged_per_side():
    rules = parse_rules(
        {
            "baseline": {"events": {"landing": 2}},
            "rule": [{"name": "valgus", "debounce": {"landing": [1, 1]}, "condition": [
                {"metric": "peak_hip_adduction_deg", "above_baseline_deg": 3.0},
            ]}],
        }
    )

    def landing(i, left, right):
        e = Event("landing", "both", i, i + 0.3, 0, max(left, right), 0)
        e.extra[side_key("peak_hip_adduction_deg", "left")] = left
        e.extra[side_key("peak_hip_adduction_deg", "right")] = right
        return e

    eng = AlertEngine(rules)
    eng.update([landing(0, 5, 10), landing(1, 5, 10)])
    raised = eng.update([landing(2, 9, 11)])  # left +4 over its own baseline; right +1
    assert [(a.rule, a.side) for a in raised] == [("valgus", "left")]


def test_nan_values_never_raise():
    eng = AlertEngine(_rules(k=1, n=1, base_events=2))
    evs = [_stance(i, drop=math.nan, add=math.nan, ir=math.nan) for i in range(5)]
    assert eng.update(evs) == []


def test_noise_on_values_rarely_changes_labels_with_debounce():
    """Labels on noisy copies of the same events agree with the clean labels >= 95 %."""
    rng = np.random.default_rng(1)
    n = 400
    t = np.arange(n)
    drop = 4.0 + 4.0 * (t > 200) * np.minimum((t - 200) / 50.0, 1.0) + rng.normal(0, 0.8, n)  # fatigue ramp
    truth = [_stance(i, drop=d) for i, d in enumerate(drop)]
    rules = load_rules()
    clean = alert_labels(truth, rules)
    noisy = [_stance(i, drop=d + 1.5 + rng.normal(0, 0.7)) for i, d in enumerate(drop)]  # offset + noise
    est = alert_labels(noisy, rules)
    agree = np.mean([a == b for a, b in zip(clean, est)])
    assert "pelvic_drop" in clean
    assert agree >= 0.95
