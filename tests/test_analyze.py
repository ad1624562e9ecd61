"""``hipmon analyze``: the per-side summary from events and alerts, text and JSON, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hipmon.alerts import AlertEngine
from hipmon.cli import main
from hipmon.commands.analyze import format_summary, summarize_result
from hipmon.events import detect_events, frames_from_simulation
from hipmon.pipeline import SessionResult
from hipmon.simulate import simulate


@pytest.fixture(scope="module")
def tiring():
    sim = simulate("run", 75, seed=11, preset="right_hip_tires")
    frames = frames_from_simulation(sim, angle_bias_deg=0.5, angle_noise_deg=0.3)
    events = detect_events(frames)
    alerts = AlertEngine().update(events)
    return sim, SessionResult(frames, None, events, alerts, [])


def test_summary_counts_means_asymmetry_and_fatigue_trend(tiring):
    sim, result = tiring
    s = summarize_result(result)
    json.dumps(s, allow_nan=False)
    st = s["kinds"]["stance"]["sides"]
    truth = [e for e in sim.events if e.kind == "stance"]
    for side in ("left", "right"):
        n_true = sum(e.side == side for e in truth)
        assert abs(st[side]["count"] - n_true) <= 1
        true_mean = np.mean([e.peak_pelvic_drop_deg for e in truth if e.side == side])
        # frontal-plane bias of 0.5 deg on obliquity: CPD is +obliquity on the right, -obliquity on the left
        expect = true_mean + (0.5 if side == "right" else -0.5)
        assert st[side]["peak_pelvic_drop_deg"]["mean"] == pytest.approx(expect, abs=0.3)
    # the right hip tires: its drop rises significantly over the session; the left does not
    assert st["right"]["peak_pelvic_drop_deg"]["trend"]["significant"]
    assert st["right"]["peak_pelvic_drop_deg"]["trend"]["slope_per_min"] > 2.0
    assert abs(st["left"]["peak_pelvic_drop_deg"]["trend"]["slope_per_min"]) < 1.0
    asym = s["kinds"]["stance"]["asymmetry_left_minus_right"]["peak_pelvic_drop_deg"]
    assert asym == pytest.approx(st["left"]["peak_pelvic_drop_deg"]["mean"] - st["right"]["peak_pelvic_drop_deg"]["mean"])
    assert s["alerts"].get("pelvic_drop", {}).get("right", 0) >= 1
    assert all(a["side"] == "right" for a in s["alert_log"])
    text = format_summary(s)
    assert "stance: left" in text and "pelvic drop" in text and "pelvic_drop" in text


def test_rejudging_with_a_stored_baseline(tiring, tmp_path):
    from hipmon.alerts import Baseline, load_rules

    _, result = tiring
    rules = load_rules()
    # a baseline 5 deg higher than this session: nothing is beyond it
    base = Baseline.from_events(result.events, rules)
    base.values = {k: v + 5.0 for k, v in base.values.items()}
    s = summarize_result(result, rules, base)
    assert s["alert_log"] == []
    assert all(e.alert == "" or e.alert for e in result.events)  # the pipeline's own labels are untouched


def test_cli_missing_session_is_a_clear_error(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nope.hipmon")]) == 2
    assert "no such session" in capsys.readouterr().err


def test_cli_bad_rules_file_names_it(tmp_path, capsys):
    bad = tmp_path / "rules.toml"
    bad.write_text("[[rule]]\nname = 'x'\n")
    assert main(["analyze", str(tmp_path / "s.hipmon"), "--rules", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "rules.toml" in err and "condition" in err


def test_cli_on_an_imported_simulated_session(tmp_path, capsys):
    sim = simulate("run", 30, seed=3)
    d = sim.write_dir(tmp_path / "sim")
    sess = tmp_path / "s.hipmon"
    assert main(["import", "--pelvis", str(d / "pelvis.csv"), "--left-thigh", str(d / "left_thigh.csv"),
                 "--right-thigh", str(d / "right_thigh.csv"), "-o", str(sess)]) == 0
    capsys.readouterr()
    assert main(["analyze", str(sess), "--json", "--save-baseline", str(tmp_path / "b.json")]) == 0
    s = json.loads(capsys.readouterr().out)
    n_true = sum(e.kind == "stance" for e in sim.events)
    n = sum(b["count"] for b in s["kinds"]["stance"]["sides"].values())
    assert n >= 0.8 * n_true  # stances before the pipeline has calibrated (first strides) are not valid
    assert (tmp_path / "b.json").exists()
    assert main(["analyze", str(sess), "--baseline", str(tmp_path / "b.json")]) == 0
    assert "stance: left" in capsys.readouterr().out


def test_analyze_says_the_calibration_quality_and_its_reasons(tmp_path, capsys):
    # issue 13: analyze never showed the calibration quality; a swapped or mirrored sensor's
    # reasons must reach the analyst in text and JSON
    import json

    from hipmon.cli import main
    from hipmon.simulate import simulate

    sim = simulate("walk", 30, seed=1)
    sim.write_dir(tmp_path / "sim")
    session = tmp_path / "s.hipmon"
    assert main(["import", "--pelvis", str(tmp_path / "sim" / "pelvis.csv"), "--left-thigh",
                 str(tmp_path / "sim" / "left_thigh.csv"), "--right-thigh", str(tmp_path / "sim" / "right_thigh.csv"),
                 "-o", str(session)]) == 0
    capsys.readouterr()
    assert main(["analyze", str(session)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("calibration quality ") and "(trusted)" in text.splitlines()[0]
    assert main(["analyze", str(session), "--json"]) == 0
    cal = json.loads(capsys.readouterr().out)["calibration"]
    assert cal["trusted"] is True and 0.5 <= cal["quality"] <= 1.0 and isinstance(cal["reasons"], list)
    assert cal["notes"] == []  # a walk: the sides were checked


def test_analyze_says_when_the_sides_could_not_be_checked(capsys):
    """A calibration from running cannot detect swapped thighs or a mirrored sensor: analyze says
    so (text and JSON), as a note, not as a reason to distrust the calibration."""
    import json
    from pathlib import Path

    from hipmon.cli import main
    from hipmon.commands.analyze import SIDES_NOT_CHECKED

    run = str(Path(__file__).resolve().parents[1] / "recordings" / "run_right_hip_tires.hipmon")
    assert main(["analyze", run]) == 0
    text = capsys.readouterr().out
    assert f"  note: {SIDES_NOT_CHECKED}" in text.splitlines()[:4] and "(trusted)" in text.splitlines()[0]
    assert main(["analyze", run, "--json"]) == 0
    cal = json.loads(capsys.readouterr().out)["calibration"]
    assert cal["notes"] == [SIDES_NOT_CHECKED] and cal["trusted"] is True
