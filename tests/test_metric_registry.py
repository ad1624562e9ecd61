"""The metric registry (issue 12) and rules-file validation (issue 13).

- every metric events, alerts, analyze and export produce is registered; units and
  signs are the ones of DESIGN.md sections 2 and 4;
- a rules file with a misspelt metric, an unknown key, a wrong type or an impossible
  value is one line naming the file, the line and the field, with the closest valid
  name, and exit status 2 through the CLI;
- the exports are byte-identical to the writers they replaced: the expected hashes
  were made with the code before the refactor (commit 20d0704) on the fixed
  synthetic session below.
"""

from __future__ import annotations

import hashlib
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from hipmon import metric_registry as reg
from hipmon.pipeline import SessionResult
from hipmon.types import ANGLE_COLUMNS, EVENT_COLUMNS, EVENT_KINDS, Event, Frames

# ---------------------------------------------------------------- a fixed synthetic session


def fixed_events() -> list[Event]:
    """Deterministic events of every kind and side, NaN peaks, extras, alerts (no pipeline)."""
    rng = np.random.default_rng(12)
    events = []
    t = 10.0
    for i in range(24):
        side = ("left", "right")[i % 2]
        drop, add, ir = (float(x) for x in rng.normal((5.0, 12.0, 3.0), (1.0, 2.0, 2.5)))
        if i == 7:
            add, ir = float("nan"), float("nan")  # a lost thigh
        e = Event("stance", side, t, t + 0.26 + 0.01 * (i % 3), drop, add, ir,
                  alert="pelvic_drop" if i in (15, 17, 19) else "",
                  extra={"initial_contact_s": t, "toe_off_s": t + 0.26, "detected_s": t + 0.4,
                         "peak_valgus_composite_deg": add + ir, "t_peak_drop_s": t + 0.1, "method": 0.0})
        events.append(e)
        t += 0.36
    both = Event("landing", "both", t + 1.0, t + 1.4, 6.5, 14.25, -1.5, alert="valgus",
                 extra={"peak_hip_adduction_left_deg": 14.25, "peak_hip_adduction_right_deg": 9.0, "worse_side": 0.0})
    rep = Event("rep", "right", t + 3.0, t + 5.5, 2.0, 8.0, 4.0,
                extra={"peak_hip_flexion_deg": 88.123456, "t_peak_flexion_s": t + 4.2})
    hold = Event("hold", "left", t + 8.0, t + 18.0, 9.87654, 10.5, 2.5, extra={"hold_time_s": 10.0})
    # same start, kind order decides (export sorts by start, kind, side)
    twin = Event("landing", "right", t + 1.0, t + 1.3, 3.0, 11.0, 1.0)
    return events + [hold, rep, both, twin]


def fixed_frames():
    n = 400
    t = 100.0 + np.arange(n) / 100.0
    ph = 2 * np.pi * 1.4 * (t - t[0])
    a = np.column_stack([5 * np.sin(ph + k) + k for k in range(9)])
    a[50:60, 3:] = np.nan  # a thigh gap
    valid = np.ones(n, bool)
    valid[:20] = False  # before calibration
    valid[200:210] = False
    # the part of the frames the exports read (no segment rates or orientations)
    return Frames(t, a, {}, {}, valid, {}, {"pelvis": valid, "left_thigh": valid, "right_thigh": valid})


def fixed_result():
    return SessionResult(fixed_frames(), SimpleNamespace(quality=0.93, trusted=True, reasons=[]), fixed_events(),
                         [], [])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


#: made with the code before the registry and the exports package (commit 20d0704)
EXPECTED_SHA256 = {
    "export_events": "aa0914c41046ee641a955b006837d16e2beae829bb12e44bf9a526b34987f4a7",
    "export_angles": "31e3dfe5bae5365fbcfa5483fa05d0536a2257db8913923d3d544151007163e9",
    "simulate_events": "d6c9acfbbda17861c2c42f5b7d2d448a35da8c4a46e3821a003c7cdb9bd21b07",
    "analyze_keys": "73d86d048c7598409f09c7678adaf113f8ba1a7b51f417f05b5d67f9b8bc82cd",
}


# ---------------------------------------------------------------- the registry itself


def test_registry_is_consistent_with_the_fixed_formats():
    reg.check_consistency()
    assert reg.EVENT_FIELD_METRICS == EVENT_COLUMNS[4:7]
    for m in reg.METRICS.values():
        assert m.unit == "deg" and m.name.startswith("peak_") and m.name.endswith("_deg")
        assert set(m.kinds) <= set(EVENT_KINDS) and m.description and m.label and m.short
        for side in ("left", "right"):
            assert m.trace_of(side) in ANGLE_COLUMNS
    assert reg.PELVIC_DROP.trace == "pelvis_obliquity_deg" and reg.PELVIC_DROP.side == "contralateral"


def test_signs_are_the_ones_of_design_section_2():
    """Contralateral pelvic drop: positive when the swing side drops (left stance: the right
    side drops, obliquity negative); hip angles: positive for adduction and internal rotation."""
    from hipmon.kinematics import contralateral_pelvic_drop_deg
    from hipmon.metrics import event_peaks

    obliquity = np.array([0.0, -3.0, -6.0, -2.0, 0.0])  # right side lower than the left
    for side in ("left", "right"):
        expect = contralateral_pelvic_drop_deg(obliquity, side)
        assert np.allclose(reg.PELVIC_DROP.sign_for(side) * obliquity, expect)
    assert reg.PELVIC_DROP.sign_for("left") == -1 and "positive when" in reg.PELVIC_DROP.sign and "drops" in reg.PELVIC_DROP.sign
    assert "adduction" in reg.HIP_ADDUCTION.sign and "internal rotation" in reg.HIP_INTERNAL_ROTATION.sign
    # a left stance whose right side drops 6 deg, the left hip adducted 10 deg and rotated in 4 deg
    t = np.linspace(0, 1, 101)
    a = np.zeros((101, 9))
    bump = np.sin(np.pi * t)
    a[:, ANGLE_COLUMNS.index("pelvis_obliquity_deg")] = -6 * bump
    a[:, ANGLE_COLUMNS.index(reg.HIP_ADDUCTION.trace_of("left"))] = 10 * bump
    a[:, ANGLE_COLUMNS.index(reg.HIP_INTERNAL_ROTATION.trace_of("left"))] = 4 * bump
    p = event_peaks(t, a, "left", 0.0, 1.0)
    assert p[reg.PELVIC_DROP.name] == pytest.approx(6.0)
    assert p[reg.HIP_ADDUCTION.name] == pytest.approx(10.0)
    assert p[reg.HIP_INTERNAL_ROTATION.name] == pytest.approx(4.0)
    assert p[reg.VALGUS_COMPOSITE.name] == pytest.approx(14.0)
    # the band of a limit on the trace: left stance pelvic drop 7 deg = obliquity below -7
    assert reg.limit_band(reg.PELVIC_DROP.name, "left", 7.0) == ("pelvis_obliquity_deg", -7.0, None)
    assert reg.limit_band(reg.HIP_ADDUCTION.name, "right", 16.0) == ("hip_adduction_right_deg", None, 16.0)
    assert reg.limit_from_band(reg.PELVIC_DROP.name, "left", -7.0, None) == 7.0


def test_design_md_units_and_signs(pytest_design_md=None):
    """Where DESIGN.md is at hand (../shared/DESIGN.md), its EVENTS.csv columns are the registry's."""
    from pathlib import Path

    design = Path(__file__).resolve().parents[2] / "shared" / "DESIGN.md"
    if not design.exists():
        pytest.skip("DESIGN.md not beside the repository")
    text = design.read_text(encoding="utf-8")
    for name in reg.EVENT_FIELD_METRICS:
        assert name in text
    assert "Contralateral pelvic drop" in text and "positive when it drops" in text


# ---------------------------------------------------------------- everything produced is registered


@pytest.fixture(scope="module")
def produced():
    """Events, alerts and an analyze summary of short simulated sessions of every kind."""
    from hipmon.alerts import AlertEngine
    from hipmon.commands.analyze import summarize_result
    from hipmon.events import detect_events, frames_from_simulation
    from hipmon.metrics import event_peaks
    from hipmon.simulate import simulate

    events, truth = [], []
    for kind, seconds, seed in (("run", 75, 11), ("jump", 40, 3), ("squat", 60, 4)):
        sim = simulate(kind, seconds, seed=seed, preset="right_hip_tires") if kind == "run" \
            else simulate(kind, seconds, seed=seed)
        frames = frames_from_simulation(sim, angle_bias_deg=0.5, angle_noise_deg=0.3)
        events += detect_events(frames)
        truth += sim.events
        if kind == "jump":  # a two-legged event's per-side values
            both = event_peaks(frames.time_s, frames.angles_deg, "both", sim.events[0].start_s, sim.events[0].end_s)
    alerts = AlertEngine().update(events)
    no_frames = Frames(np.zeros(0), np.zeros((0, len(ANGLE_COLUMNS))), {}, {}, np.zeros(0, bool))
    summary = summarize_result(SessionResult(no_frames, None, events, alerts, []))
    return SimpleNamespace(events=events, truth=truth, alerts=alerts, summary=summary, both=both)


def test_every_event_key_is_registered(produced):
    kinds = {e.kind for e in produced.events}
    assert {"stance", "landing", "rep"} <= kinds
    keys = {k for e in produced.events + produced.truth for k in e.extra} | set(produced.both)
    unknown = sorted(k for k in keys if not reg.is_known_key(k))
    assert not unknown, f"per-event keys missing from hipmon.metric_registry: {unknown}"
    assert reg.VALGUS_COMPOSITE.name in keys and reg.HIP_FLEXION.name in keys
    assert reg.side_key(reg.HIP_ADDUCTION.name, "left") in produced.both


def test_every_alert_and_summary_metric_is_registered(produced):
    assert produced.alerts, "the tiring runner raises an alert"
    for a in produced.alerts:
        for k in a.values:
            if k in ("k", "n"):
                continue
            base = k
            for suffix in ("_limit", "_baseline_se", "_baseline", "_offset"):
                if k.endswith(suffix):
                    base = k[: -len(suffix)]
                    break
            assert base in reg.METRICS, k
    for kind, block in produced.summary["kinds"].items():
        for side_block in block["sides"].values():
            metric_keys = [k for k, v in side_block.items() if isinstance(v, dict)]
            assert tuple(metric_keys) == reg.SUMMARY_METRICS
        assert set(block["asymmetry_left_minus_right"]) <= set(reg.SUMMARY_METRICS)


# ---------------------------------------------------------------- rules files checked against the registry


def _write_bad(tmp_path, old: str, new: str):
    from importlib import resources

    text = resources.files("hipmon").joinpath("alert_rules.toml").read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    line = text[: text.index(old)].count("\n") + 1
    return bad, line


def test_misspelt_metric_names_file_line_field_and_suggestion(tmp_path, capsys):
    from hipmon.cli import main

    bad, line = _write_bad(tmp_path, 'metric = "peak_hip_internal_rotation_deg"', 'metric = "peak_hip_internal_rotaton_deg"')
    assert main(["analyze", str(tmp_path / "no-session.hipmon"), "--rules", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert f"{bad}, line {line}:" in err
    assert "rule 'valgus'.condition[1].metric" in err
    assert "unknown metric 'peak_hip_internal_rotaton_deg'" in err
    assert "did you mean 'peak_hip_internal_rotation_deg'?" in err
    # export takes the same option and says the same
    assert main(["export", str(tmp_path), "--events", str(tmp_path / "e.csv"), "--rules", str(bad)]) == 2
    assert f"{bad}, line {line}:" in capsys.readouterr().err
    assert not (tmp_path / "e.csv").exists()


@pytest.mark.parametrize(
    "old, new, field, problem",
    [
        ("hysteresis_deg = 1.0", "hysterisis_deg = 1.0", "rule 'pelvic_drop'.hysterisis_deg",
         "unknown key (did you mean 'hysteresis_deg'?)"),
        ("max_ci_deg = 0.5", "max_ci_deg = \"half\"", "baseline.max_ci_deg", "expected a number"),
        ("max_ci_deg = 0.5", "max_ci_deg = -0.5", "baseline.max_ci_deg", "must not be negative"),
        ('kinds = ["stance", "landing", "rep", "hold"]', 'kinds = ["stance", "landings"]', "rule 'pelvic_drop'.kinds",
         "did you mean 'landing'?"),
        ("debounce = { stance = [6, 11]", "debounce = { stance = [12, 11]", "rule 'pelvic_drop'.debounce.stance",
         "1 <= k <= n"),
        ("max_events = { stance = 60,", "max_events = { stance = 6,", "baseline.max_events.stance", ">= baseline.events"),
        ("version = 2", "version = 7", "version", "unknown rules-file version"),
    ],
)
def test_bad_rules_files_name_the_line_and_field(tmp_path, old, new, field, problem):
    from hipmon.alerts import RulesError, load_rules

    bad, line = _write_bad(tmp_path, old, new)
    with pytest.raises(RulesError) as info:
        load_rules(bad)
    msg = str(info.value)
    assert msg.startswith(f"{bad}, line {line}: {field}: "), msg
    assert info.value.line == line and info.value.field == field
    assert problem in msg


def test_a_metric_no_judged_kind_carries_is_refused(tmp_path):
    from hipmon.alerts import RulesError, load_rules

    p = tmp_path / "r.toml"
    p.write_text('[[rule]]\nname = "deep"\nkinds = ["stance"]\n\n[[rule.condition]]\n'
                 'metric = "peak_hip_flexion_deg"\nabove_baseline_deg = 10\n', encoding="utf-8")
    with pytest.raises(RulesError, match=r"r.toml, line 6: rule 'deep'.condition\[0\].metric: .*rep events only"):
        load_rules(p)


def test_the_shipped_rules_use_registered_metrics_only():
    from hipmon.alerts import load_rules

    assert set(load_rules().metrics()) <= set(reg.METRICS)


def test_toml_key_lines():
    from hipmon.alerts import toml_key_lines

    text = ("version = 2\n[baseline]\nevents = { stance = 20, landing = 3 }\n# c\nx = [\n  1,\n  2 ]\n"
            "[[rule]]\nname = \"a # b\"\n[[rule.condition]]\nmetric = \"m\"\n[[rule]]\nname = \"b\"\n"
            "[[rule.condition]]\nmetric = \"m\"\n[[rule.condition]]\nmetric = \"q\"\n")
    lines = toml_key_lines(text)
    assert lines[("baseline", "events", "landing")] == 3
    assert lines[("rule", 0, "condition", 0, "metric")] == 11
    assert lines[("rule", 1, "name")] == 13
    assert lines[("rule", 1, "condition", 1, "metric")] == 17


# ---------------------------------------------------------------- byte-identical exports


def test_export_writes_the_same_bytes_as_before(tmp_path, monkeypatch):
    import hipmon.commands.export as export
    from hipmon.cli import main

    monkeypatch.setattr(export, "_run_pipeline", lambda args: fixed_result())
    ev, an = tmp_path / "EVENTS.csv", tmp_path / "ANGLES.csv"
    assert main(["export", "S", "--angles", str(an), "--events", str(ev)]) == 0
    assert _sha(ev.read_bytes()) == EXPECTED_SHA256["export_events"]
    assert _sha(an.read_bytes()) == EXPECTED_SHA256["export_angles"]
    # read back: the one reader of each format
    from hipmon.exports import read_angles_csv, read_events_csv

    back = read_events_csv(ev)
    ref = sorted(fixed_events(), key=lambda e: (e.start_s, e.kind, e.side))
    assert [(e.kind, e.side, e.alert) for e in back] == [(e.kind, e.side, e.alert) for e in ref]
    for name in reg.EVENT_FIELD_METRICS:
        got = np.array([getattr(e, name) for e in back])
        want = np.array([getattr(e, name) for e in ref])
        assert np.allclose(got, want, atol=5e-5, equal_nan=True)
    table = read_angles_csv(an)
    fr = fixed_frames()
    assert np.allclose(table.time_s, fr.time_s[fr.valid], atol=5e-5)
    assert np.allclose(table.angles_deg, fr.angles_deg[fr.valid], atol=5e-5, equal_nan=True)


def test_simulator_truth_events_csv_is_the_same_writer():
    from hipmon.exports import events_csv_text, read_events_csv  # noqa: F401

    text = events_csv_text(fixed_events(), extras=True, sort=False)
    assert _sha(text.encode()) == EXPECTED_SHA256["simulate_events"]
    assert text.splitlines()[0] == ",".join(EVENT_COLUMNS) + ",initial_contact_s,toe_off_s,extra"


def _key_tree(obj):
    if isinstance(obj, dict):
        return {k: _key_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_key_tree(v) for v in obj[:1]]
    return None


def test_analyze_json_keys_and_text_are_unchanged():
    from hipmon.commands.analyze import format_summary, summarize_result

    s = summarize_result(fixed_result(), rejudge=True)
    keys = json.dumps(_key_tree(s), sort_keys=False)
    assert _sha(keys.encode()) == EXPECTED_SHA256["analyze_keys"]
    text = format_summary(s)
    for label in (reg.METRICS[m].label for m in reg.SUMMARY_METRICS):
        assert label in text
    assert all(math.isfinite(x) for x in [s["duration_s"]])
