"""``hipmon compare``: a simulated baseline and follow-up with known truth, through the real pipeline.

The same simulated runner twice, on two days (new seeds: new strides, new sensor mountings and
sensor errors): at baseline the right gluteus medius is weak (right-stance pelvic drop 8°),
at the follow-up it is 3° better (5°). The truth is the change of the simulator's own
per-stance peaks. Straps are rigid here (``soft_tissue=False``) so the test measures the
comparison, not the soft-tissue artefact (whose effect on a change is measured in
docs/report.md).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hipmon.cli import main
from hipmon.simulate import simulate

DROP = "peak_pelvic_drop_deg"


def _session(tmp_path, name, seed, right_drop):
    sim = simulate("run", 45, seed=seed, right_drop_deg=right_drop, soft_tissue=False)
    d = sim.write_dir(tmp_path / name)
    out = tmp_path / f"{name}.hipmon"
    assert main(["import", "--pelvis", str(d / "pelvis.csv"), "--left-thigh", str(d / "left_thigh.csv"),
                 "--right-thigh", str(d / "right_thigh.csv"), "--athlete", "sim runner", "-o", str(out)]) == 0
    truth = {s: float(np.mean([e.peak_pelvic_drop_deg for e in sim.events if e.kind == "stance" and e.side == s]))
             for s in ("left", "right")}
    return out, truth


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    base, t0 = _session(tmp, "baseline", 1, 8.0)
    follow, t1 = _session(tmp, "followup", 101, 5.0)
    return base, follow, {s: t1[s] - t0[s] for s in t0}


def _row(data, side, metric=DROP, kind="stance"):
    return next(r for r in data["rows"] if (r["kind"], r["side"], r["metric"]) == (kind, side, metric))


def test_compare_finds_the_right_hip_change_and_no_change_on_the_left(pair, capsys):
    base, follow, truth = pair
    capsys.readouterr()
    # given in the wrong order: compare puts them in date order (the baseline was imported first)
    assert main(["compare", str(follow), str(base), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in data["sessions"]] == ["baseline", "followup"]
    right = _row(data, "right")["sessions"][1]["vs_first"]
    left = _row(data, "left")["sessions"][1]["vs_first"]
    assert truth["right"] == pytest.approx(-3.0, abs=0.4)  # the simulator did what was asked
    assert abs(right["change"] - truth["right"]) <= 0.5, (right, truth)
    lo, hi = right["ci95"]
    assert lo <= truth["right"] <= hi, (right, truth)
    assert right["verdict"] == "better" and abs(right["change"]) > right["sdc95"]
    assert left["verdict"] == "no change", (left, truth)
    lo, hi = left["ci95"]
    assert lo <= truth["left"] <= hi
    # the smallest detectable change is the CI's half-width and includes the session part
    lo, hi = right["ci95"]
    assert right["sdc95"] == pytest.approx((hi - lo) / 2, rel=1e-6)
    assert right["session_sd"] > 0 and right["sdc95"] > 1.96 * np.sqrt(2) * right["session_sd"] - 1e-9


def test_compare_text_table(pair, capsys):
    base, follow, _ = pair
    capsys.readouterr()
    assert main(["compare", str(base), str(follow)]) == 0
    out = capsys.readouterr().out
    assert "sessions (date order; the first is the baseline):" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("pelvic drop") and " right" in ln)
    assert "better" in line and "#2" in line and "SDC" in line
    assert "SDC95" in out


def test_compare_errors_are_one_line(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "a.hipmon")]) == 2
    assert "at least two sessions" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "a.hipmon"), str(tmp_path / "b.hipmon")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no such session" in err and "\n" not in err


def test_change_statistics_without_files():
    from hipmon.report.stats import change_between, session_sd_deg, symmetry

    sigma, _ = session_sd_deg(DROP)
    a = {"mean": 8.0, "sd": 0.8, "n": 60}
    same = change_between(DROP, "stance", "left", a, {"mean": 8.1, "sd": 0.8, "n": 60})
    assert same.verdict == "no change" and same.ci95[0] < 0.1 < same.ci95[1]
    worse = change_between(DROP, "stance", "right", a, {"mean": 11.0, "sd": 0.8, "n": 60})
    assert worse.verdict == "worse"
    se = np.sqrt(2 * 0.8**2 / 60 + 2 * sigma**2)
    assert worse.sdc95 == pytest.approx(1.98 * se, rel=0.02)
    one = change_between(DROP, "hold", "right", {"mean": 9.0, "sd": None, "n": 1}, {"mean": 5.0, "sd": None, "n": 1})
    assert one.verdict == "unknown" and one.change == pytest.approx(-4.0) and one.sdc95 is None
    assert symmetry(12.0, 8.0) == (4.0, pytest.approx(40.0))
    assert symmetry(3.0, -1.0) == (4.0, None)  # through zero: degrees only
