"""The alert engine against its original (tests/alerts_reference.py, commit f04c4ce): bit for bit.

Every transition (rule, side, time, kind, values dict with its key order and NaN
positions, the event it names), every raised alert, every event label, the final
baseline (values, SEs, counts, settling times), the accrual's current baseline and the
limits shown on the dashboard: on simulated sessions' events and on random and
adversarial streams (NaN and infinite metrics, signed zeros, ties, two-legged events,
baselines settling mid-stream, stored baselines, custom rules with k/n, hysteresis,
opposite_side_offset, extra-stored metrics), fed whole to the original and in random
chunks to the new engine.
"""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

from alerts_reference import ReferenceAlertEngine
from alerts_reference import median_and_se_deg as reference_median_and_se_deg
from hipmon.alerts import AlertEngine, Baseline, load_rules, median_and_se_deg, parse_rules
from hipmon.metric_registry import side_key
from hipmon.types import EVENT_KINDS, SIDES, Event

METRICS = ("peak_pelvic_drop_deg", "peak_hip_adduction_deg", "peak_hip_internal_rotation_deg",
           "peak_valgus_composite_deg")  # the last one stored in Event.extra
FLEXION = "peak_hip_flexion_deg"  # extra-stored, reps only


def _bits(x) -> bytes:
    return pickle.dumps(x, protocol=5)


def _baseline_state(b: Baseline) -> tuple:
    return (b.values, b.se, b.n, b.settled_s)


def _alerts(alerts, events) -> list:
    index = {id(e): i for i, e in enumerate(events)}
    return [(a.rule, a.side, a.time_s, a.kind, list(a.values.items()), index.get(id(a.event))) for a in alerts]


def _chunks(rng, n: int):
    i = 0
    while i < n:
        j = min(n, i + int(rng.choice([1, 1, 2, 3, 7, 40])))
        yield i, j
        i = j


def _copies(events: list[Event]) -> list[Event]:
    out = [copy.copy(e) for e in events]
    for c, e in zip(out, events):
        c.extra = dict(e.extra)
        c.alert = ""
    return out


def assert_same_engine(events: list[Event], rules, baseline: Baseline | None = None, seed: int = 0) -> tuple:
    """Run the original on ``events`` at once and the new engine in random chunks; assert everything equal."""
    rng = np.random.default_rng(seed)
    ref_events, new_events = _copies(events), _copies(events)
    ref = ReferenceAlertEngine(rules, copy.deepcopy(baseline))
    new = AlertEngine(rules, copy.deepcopy(baseline))
    ref_raised = ref.update(ref_events)
    new_raised = []
    for i, j in _chunks(rng, len(new_events)):
        new_raised += new.update(new_events[i:j])
    assert [e.alert for e in new_events] == [e.alert for e in ref_events]
    assert _bits(_alerts(new_raised, new_events)) == _bits(_alerts(ref_raised, ref_events))
    assert _bits(_alerts(new.transitions, new_events)) == _bits(_alerts(ref.transitions, ref_events))
    assert _bits(_alerts(new.alerts, new_events)) == _bits(_alerts(ref.alerts, ref_events))
    assert _bits(_baseline_state(new.baseline)) == _bits(_baseline_state(ref.baseline))
    assert _bits(_baseline_state(new._accrual.current())) == _bits(_baseline_state(ref._accrual.current()))
    for rule in rules.rules:
        for kind in EVENT_KINDS:
            for side in SIDES:
                assert new.is_active(rule.name, kind, side) == ref.is_active(rule.name, kind, side)
                for cond in rule.conditions:
                    assert _bits(new.limit(cond, kind, side)) == _bits(ref.limit(cond, kind, side))
                    assert _bits(new.alert_limit(cond, kind, side)) == _bits(ref.alert_limit(cond, kind, side))
    return [e.alert for e in new_events], ref.transitions


# ---------------------------------------------------------------- median and SE


def _adversarial_values(rng, n: int) -> list:
    kind = rng.integers(6)
    if kind == 0:
        v = rng.normal(5.0, 2.0, n)
    elif kind == 1:
        v = rng.integers(-3, 4, n).astype(float)  # ties, zeros
    elif kind == 2:
        v = rng.choice([0.0, -0.0, 1.0, -1.0, 0.5], n)  # signed zeros at the median
    elif kind == 3:
        v = rng.normal(0.0, 1e-300, n)  # tiny, subnormal deviations
    elif kind == 4:
        v = rng.choice([1e308, -1e308, 1.0, 3.0], n)  # overflowing sums and deviations
    else:
        v = np.round(rng.normal(2.0, 1.0, n), 1)
    m = rng.random(n)
    v[m < 0.1] = np.nan
    v[(m >= 0.1) & (m < 0.13)] = np.inf
    v[(m >= 0.13) & (m < 0.15)] = -np.inf
    return list(v) if rng.random() < 0.5 else v


def test_median_and_se_equals_the_numpy_original_bit_for_bit():
    rng = np.random.default_rng(0)
    with np.errstate(all="ignore"):  # (the numpy original's overflow warnings)
        _median_cases(rng)
    assert _bits(median_and_se_deg(())) == _bits(reference_median_and_se_deg(()))
    assert _bits(median_and_se_deg([3, 1, 2])) == _bits(reference_median_and_se_deg([3, 1, 2]))  # ints


def _median_cases(rng) -> None:
    for _ in range(6000):
        v = _adversarial_values(rng, int(rng.integers(0, 70)))
        for statistic in ("median", "mean"):
            assert _bits(median_and_se_deg(v, statistic)) == _bits(reference_median_and_se_deg(v, statistic)), (v, statistic)


# ---------------------------------------------------------------- random streams


def _value(rng, level: float) -> float:
    u = rng.random()
    if u < 0.04:
        return math.nan
    if u < 0.05:
        return math.inf if rng.random() < 0.5 else -math.inf
    if u < 0.06:
        return 0.0 if rng.random() < 0.5 else -0.0
    return float(np.round(level + rng.normal(0.0, 0.8), int(rng.choice([1, 3, 12]))))


def random_stream(rng, n: int) -> list[Event]:
    """Events of every kind and side: per-side levels with drifts, one-sided fatigue and pelvis offsets."""
    level = {(m, s): float(rng.uniform(1.0, 12.0)) for m in METRICS + (FLEXION,) for s in SIDES}
    fatigue_side = str(rng.choice(SIDES))
    onset, ramp = int(rng.integers(0, n)), float(rng.uniform(10, 200))
    offset_onset = int(rng.integers(0, n))
    p_kind = rng.dirichlet([6.0, 1.0, 1.0, 0.5])
    events, t = [], 0.0
    for i in range(n):
        kind = str(rng.choice(EVENT_KINDS, p=p_kind))
        side = str(rng.choice(["left", "right", "both"], p=[0.4, 0.4, 0.2] if kind != "stance" else [0.49, 0.49, 0.02]))
        t += float(rng.choice([0.0, 0.3, 0.35, 1.0, 5.0], p=[0.05, 0.4, 0.4, 0.1, 0.05]))
        start = t
        end = t + float(rng.choice([0.0, 0.25, 0.4])) + (float(rng.uniform(-0.6, 0.0)) if rng.random() < 0.03 else 0.0)
        fat = 4.0 * min(1.0, max(0.0, (i - onset) / ramp))
        off = 2.0 * min(1.0, max(0.0, (i - offset_onset) / 100.0)) * (1 if rng.random() < 0.9 else -1)

        def val(m, s):
            lv = level[(m, s)] + (fat if s == fatigue_side else 0.0) + (off if s == "right" else -off)
            return _value(rng, lv)

        extra: dict = {}
        if rng.random() < 0.8:
            extra["detected_s"] = end + float(rng.uniform(0.0, 0.5))
        if side == "both":
            fields = [val(m, "left") if rng.random() < 0.5 else math.nan for m in METRICS[:3]]
            for m in METRICS + (FLEXION,):
                for s in SIDES:
                    if rng.random() < 0.95:
                        extra[side_key(m, s)] = val(m, s)
        else:
            fields = [val(m, side) for m in METRICS[:3]]
            for m in (METRICS[3], FLEXION):
                if rng.random() < 0.9:
                    extra[m] = val(m, side)
        if rng.random() < 0.05:
            fields[0] = np.float64(fields[0])  # a numpy scalar in a field
        events.append(Event(kind, side, start, end, *fields, extra=extra))
    return events


def random_rules(rng):
    """A rules document: 1-3 rules on random kinds and metrics, random debounce, hysteresis and baseline settings."""
    n_rules = int(rng.integers(1, 4))
    kinds_all = list(EVENT_KINDS)
    doc: dict = {"baseline": {
        "statistic": str(rng.choice(["median", "median", "mean"])),
        "events": {k: int(rng.integers(1, 9)) for k in kinds_all},
        "absolute_before_baseline": [True, False, ["rep", "hold"], ["stance"]][int(rng.integers(4))],
    }}
    if rng.random() < 0.6:
        doc["baseline"]["max_ci_deg"] = float(rng.choice([0.0, 0.3, 0.5, 2.0]))
    doc["baseline"]["max_events"] = {k: doc["baseline"]["events"][k] + int(rng.integers(0, 12)) for k in kinds_all}
    rules = []
    for r in range(n_rules):
        kinds = [k for k in kinds_all if rng.random() < 0.7] or ["stance"]
        debounce = {}
        for k in kinds:
            if rng.random() < 0.8:
                n = int(rng.integers(1, 12))
                debounce[k] = [int(rng.integers(1, n + 1)), n]
        conds = []
        for _ in range(int(rng.integers(1, 4))):
            metrics = METRICS + ((FLEXION,) if kinds == ["rep"] else ())
            c = {"metric": str(rng.choice(metrics)), "above_baseline_deg": float(rng.choice([-1.0, 0.0, 1.0, 2.0, 3.5])),
                 "opposite_side_offset": bool(rng.random() < 0.6)}
            if rng.random() < 0.7:
                c["absolute_deg"] = float(rng.uniform(0.0, 15.0))
            conds.append(c)
        rules.append({"name": f"rule{r}", "kinds": kinds, "hysteresis_deg": float(rng.choice([0.0, 0.5, 1.0, 3.0])),
                      "debounce": debounce, "condition": conds})
    doc["rule"] = rules
    return parse_rules(doc)


def stored_baseline(rng, events: list[Event], rules) -> Baseline:
    """A stored baseline: formed from the stream's first events, with some values NaN, missing or without SE."""
    b = Baseline.from_events(events[: int(rng.integers(0, len(events) + 1))], rules)
    for key in list(b.values):
        u = rng.random()
        if u < 0.1:
            b.values[key] = math.nan
        elif u < 0.2:
            del b.values[key]
        elif u < 0.3:
            b.se.pop(key, None)
    return b


@pytest.mark.parametrize("seed", range(40))
def test_random_streams_with_random_rules(seed):
    rng = np.random.default_rng(seed)
    events = random_stream(rng, int(rng.integers(0, 400)))
    rules = random_rules(rng) if seed % 4 else load_rules()
    assert_same_engine(events, rules, seed=seed)
    assert_same_engine(events, rules, stored_baseline(rng, events, rules), seed=seed + 1)


def test_random_streams_raise_and_clear():
    """The streams above exercise what they should: raises, clears, offsets applied, two-legged alerts."""
    raised = cleared = offset = both = 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        events = random_stream(rng, 500)
        _, transitions = assert_same_engine(events, load_rules(), seed=seed)
        raised += sum(a.kind == "raised" for a in transitions)
        cleared += sum(a.kind == "cleared" for a in transitions)
        offset += sum(any(k.endswith("_offset") and v < 0 for k, v in a.values.items()) for a in transitions)
        both += sum(a.event.side == "both" for a in transitions)
    assert raised > 20 and cleared > 10 and offset > 3 and both > 0, (raised, cleared, offset, both)


def test_default_rules_on_long_alternating_strides_with_fatigue_and_offsets():
    """Running strides, default rules: a settling baseline, a pelvis offset drifting both ways, one-sided fatigue."""
    rng = np.random.default_rng(7)
    n = 3000
    i = np.arange(n)
    off = 2.0 * np.sin(i / 300.0)
    fat = 5.0 * np.clip((i - 1200) / 200.0, 0, 1) * (i < 2200)
    events = []
    for k in range(n):
        for j, side in enumerate(("right", "left")):
            t = (2 * k + j) * 0.35
            sgn = 1.0 if side == "right" else -1.0
            drop = 5.0 + sgn * off[k] + (fat[k] if side == "left" else 0.0) + 0.7 * rng.standard_normal()
            add = 10.0 + sgn * off[k] + 0.9 * rng.standard_normal()
            ir = 3.0 + (fat[k] if side == "left" else 0.0) + 1.2 * rng.standard_normal()
            events.append(Event("stance", side, t, t + 0.25, drop, add, ir, extra={"detected_s": t + 0.28}))
    labels, transitions = assert_same_engine(events, load_rules(), seed=3)
    assert len(transitions) >= 2 and any(labels)


def test_hand_built_rules_with_shared_names_and_odd_settings():
    """Rules built without parse_rules: two rules of one name (they share a state), negative hysteresis, k = 0."""
    from hipmon.alerts import Condition, Rule, Rules

    c1 = Condition("peak_pelvic_drop_deg", 1.0, 6.0, True)
    c2 = Condition("peak_hip_adduction_deg", 0.5, None, True)
    rules = Rules(
        (Rule("same", (c1,), hysteresis_deg=-0.5, debounce={"stance": (2, 3)}),
         Rule("same", (c2, c1), hysteresis_deg=2.0, debounce={"stance": (3, 5)}),
         Rule("other", (c2,), kinds=("stance", "landing")),
         Rule("zero", (c1,), debounce={"stance": (0, 2)})),
        {k: 3 for k in EVENT_KINDS}, max_ci_deg=0.2, max_events={"stance": 8},
    )
    for seed in range(6):
        rng = np.random.default_rng(200 + seed)
        events = random_stream(rng, 300)
        assert_same_engine(events, rules, seed=seed)
        assert_same_engine(events, rules, stored_baseline(rng, events, rules), seed=seed)


def test_a_baseline_changed_between_updates_is_read_afresh():
    """Limits are cached within an ``update`` call only: a stored baseline edited between calls counts."""
    rng = np.random.default_rng(11)
    events = random_stream(rng, 400)
    rules = load_rules()
    for fixed in (True, False):
        base = stored_baseline(rng, events, rules) if fixed else None
        ref, new = ReferenceAlertEngine(rules, copy.deepcopy(base)), AlertEngine(rules, copy.deepcopy(base))
        ref_events, new_events = _copies(events), _copies(events)
        for i in range(0, 400, 50):
            ref.update(ref_events[i:i + 50])
            new.update(new_events[i:i + 50])
            for eng in (ref, new):
                for key in sorted(eng.baseline.values):
                    eng.baseline.values[key] -= 0.4
        assert [e.alert for e in new_events] == [e.alert for e in ref_events]
        assert _bits(_alerts(new.transitions, new_events)) == _bits(_alerts(ref.transitions, ref_events))


def test_limits_are_kept_between_updates_until_the_baseline_is_replaced_or_changed():
    """The limits read in one ``update`` call are kept for the next unless the baseline was replaced
    by another object (even with equal values) or its values or SEs changed; the same alerts as
    the original, which reads them afresh in every call."""
    rng = np.random.default_rng(12)
    events = random_stream(rng, 600)
    rules = load_rules()
    for fixed in (True, False):
        base = stored_baseline(rng, events, rules) if fixed else None
        ref, new = ReferenceAlertEngine(rules, copy.deepcopy(base)), AlertEngine(rules, copy.deepcopy(base))
        ref_events, new_events = _copies(events), _copies(events)
        for step, i in enumerate(range(0, 600, 40)):
            ref.update(ref_events[i:i + 40])
            new.update(new_events[i:i + 40])
            for eng in (ref, new):
                keys = sorted(eng.baseline.values)
                if step % 4 == 1:  # another object, other values
                    b = copy.deepcopy(eng.baseline)
                    for key in keys:
                        b.values[key] += 0.7
                    eng.baseline = b
                elif step % 4 == 2:  # the SEs only
                    for key in keys:
                        eng.baseline.se[key] = 3.0 * eng.baseline.se.get(key, 0.1)
                elif step % 4 == 3 and keys:  # one value
                    eng.baseline.values[keys[step % len(keys)]] -= 1.5
        assert [e.alert for e in new_events] == [e.alert for e in ref_events]
        assert _bits(_alerts(new.transitions, new_events)) == _bits(_alerts(ref.transitions, ref_events))
        assert any(e.alert for e in new_events)


# ---------------------------------------------------------------- simulated sessions


@pytest.mark.parametrize("kind, seconds, options", [
    ("run", 150, {"preset": "right_hip_tires"}),
    ("squat", 60, {}),
    ("jump", 60, {}),
    ("stance", 60, {}),
])
def test_simulated_sessions_events(kind, seconds, options):
    from hipmon.events import detect_events, frames_from_simulation
    from hipmon.simulate import simulate

    sim = simulate(kind, seconds, 3, rate_hz=100.0, truth_rate_hz=100.0, **options)
    frames = frames_from_simulation(sim, angle_bias_deg=0.5, angle_noise_deg=0.4, seed=3)
    events = detect_events(frames)
    assert events
    rules = load_rules()
    labels, transitions = assert_same_engine(events, rules, seed=1)
    assert_same_engine(events, rules, Baseline.from_events(events[: len(events) // 3], rules), seed=2)
    if kind == "run":
        assert any(a.kind == "raised" for a in transitions)


def test_an_engine_pickles_and_copies_mid_stream():
    """As the original did (a state a process pool or a snapshot can take): rules on one Event-field
    metric (the case a per-engine lambda once served), on two, on an extra-stored one; the copy
    goes on as the original does."""
    from hipmon.alerts import Condition, Rule, Rules

    for metrics in (("peak_pelvic_drop_deg",), METRICS[:2], METRICS[3:]):
        rules = Rules((Rule("r", tuple(Condition(m, 0.5, 4.0, True) for m in metrics)),), {k: 3 for k in EVENT_KINDS})
        events = random_stream(np.random.default_rng(5), 200)
        ref, new = ReferenceAlertEngine(rules), AlertEngine(rules)
        ref_events, new_events = _copies(events), _copies(events)
        ref.update(ref_events[:100])
        new.update(new_events[:100])
        t0 = len(ref.transitions)
        clone = pickle.loads(pickle.dumps(new))
        clone_events = _copies(events)
        ref.update(ref_events[100:])
        new.update(new_events[100:])
        clone.update(clone_events[100:])
        want = _bits(_alerts(ref.transitions[t0:], ref_events))
        for eng, evs in ((new, new_events), (clone, clone_events)):
            assert [e.alert for e in evs[100:]] == [e.alert for e in ref_events[100:]]
            assert _bits(_alerts(eng.transitions[t0:], evs)) == want
        assert any(e.alert for e in ref_events[100:])
