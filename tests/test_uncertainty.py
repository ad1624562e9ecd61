"""Each angle's real-world uncertainty (issue 10): one table (``hipmon.uncertainty``), equal to
docs/placement.md's, and shown by ``hipmon analyze`` (text and --json) and the dashboard."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from hipmon import uncertainty as unc
from hipmon.commands.analyze import format_summary, summarize_result
from hipmon.pipeline import SessionResult
from hipmon.types import ANGLE_COLUMNS, Event, Frames

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _placement_table() -> dict[str, list[list[float | None]]]:
    """docs/placement.md "Real-world uncertainty of each angle": angle -> cells as numbers."""
    text = (DOCS / "placement.md").read_text(encoding="utf-8")
    section = text.split("## Real-world uncertainty of each angle", 1)[1]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| angle") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        name = cells[0].split("(")[0].strip().replace(" l / r", "")
        nums = []
        for c in cells[1:]:
            nums.append(None if c in ("—", "") else [float(x.replace("−", "-")) for x in re.findall(r"[−+-]?\d+\.\d+", c)])
        rows[name.lower()] = nums
    return rows


def test_the_table_is_docs_placement_table():
    doc = _placement_table()
    names = {"pelvic obliquity": "pelvis_obliquity", "pelvic tilt": "pelvis_tilt", "pelvic rotation": "pelvis_rotation",
             "hip flexion l / r": "hip_flexion", "hip adduction l / r": "hip_adduction",
             "hip internal rotation l / r": "hip_internal_rotation"}
    assert set(names) == set(doc), sorted(doc)
    for doc_name, key in names.items():
        rmse, bias, peak, lr = doc[doc_name]
        row = unc.REAL_WORLD[key]
        assert list(row.rmse) == rmse and list(row.bias) == bias, key
        if peak is None:
            assert row.peak_rmse is None and lr is None
            continue
        # "RMSE / bias / SD" per side, sides separated by "·"
        n = len(row.rmse)
        per_side = [peak[3 * i: 3 * i + 3] for i in range(n)]
        assert list(row.peak_rmse) == [p[0] for p in per_side], key
        assert list(row.peak_bias) == [p[1] for p in per_side], key
        assert list(row.peak_sd) == [p[2] for p in per_side], key
        assert row.lr_error == lr[0], key


def test_pooled_numbers():
    assert unc.per_event_deg("peak_pelvic_drop_deg") == 1.5
    # both sides pooled (RMS): adduction 2.7 / 2.3 -> 2.5, internal rotation 5.8 / 5.2 -> 5.5
    assert unc.per_event_deg("peak_hip_adduction_deg") == pytest.approx(math.sqrt((2.7**2 + 2.3**2) / 2), abs=0.05)
    assert unc.per_event_deg("peak_hip_internal_rotation_deg") == pytest.approx(5.5, abs=0.05)
    assert unc.asymmetry_deg("peak_hip_internal_rotation_deg") == 3.7
    assert unc.angle_rmse_deg("hip_internal_rotation_left_deg") == pytest.approx(math.sqrt((9.7**2 + 3.6**2) / 2), abs=0.05)
    assert unc.angle_rmse_deg("pelvis_obliquity_deg") == 3.3
    # nothing was measured for the valgus composite or for landings: no number is made up
    assert unc.per_event_deg("peak_valgus_composite_deg") is None
    assert unc.per_event_deg("peak_pelvic_drop_deg", "landing") is None
    assert unc.format_pm(4.12, "peak_pelvic_drop_deg") == "4.1 ± 1.5°"


def _stances(drop_left: float, drop_right: float, add: float = float("nan")) -> list[Event]:
    evs = []
    for i in range(12):
        side = "left" if i % 2 == 0 else "right"
        evs.append(Event("stance", side, i * 0.5, i * 0.5 + 0.3, peak_pelvic_drop_deg=drop_left if side == "left" else drop_right,
                         peak_hip_adduction_deg=add, peak_hip_internal_rotation_deg=add))
    return evs


def _summary(events, placements):
    """``summarize_result`` of a session of ``events`` alone with sensors on ``placements``."""
    frames = Frames(np.zeros(0), np.zeros((0, len(ANGLE_COLUMNS))), {}, {}, np.zeros(0, bool))
    return summarize_result(SessionResult(frames, None, events, [], []), placements=placements)


def test_analyze_json_and_text_show_the_table(monkeypatch):
    s = _summary(_stances(4.1, 3.0, 9.0), ["pelvis", "left_thigh", "right_thigh"])
    left = s["kinds"]["stance"]["sides"]["left"]
    for field in unc.PEAK_ANGLE:
        assert left[field]["uncertainty_deg"] == unc.per_event_deg(field)
    assert left["peak_valgus_composite_deg"]["uncertainty_deg"] is None
    assert s["kinds"]["stance"]["asymmetry_uncertainty_deg"]["peak_pelvic_drop_deg"] == 0.2
    assert s["uncertainty"]["per_stance_peak_rmse_deg"]["peak_hip_adduction_deg"] == unc.per_event_deg("peak_hip_adduction_deg")
    json.dumps(s, allow_nan=False)
    text = format_summary(s)
    assert "pelvic drop left 4.1 ± 1.5°, right 3.0 ± 1.5° (real-world, per stance; L - R ± 0.2°)" in text
    assert "hip adduction left 9.0 ± 2.5°" in text and "hip int. rotation left 9.0 ± 5.5°" in text

    # the numbers come from the table: change it, the output follows
    monkeypatch.setitem(unc.REAL_WORLD, "pelvis_obliquity",
                        unc.AngleUncertainty((3.3,), (-1.2,), (2.7,), (0.1,), (1.5,), 0.9))
    s2 = _summary(_stances(4.1, 3.0, 9.0), ["pelvis", "left_thigh", "right_thigh"])
    assert s2["kinds"]["stance"]["sides"]["right"]["peak_pelvic_drop_deg"]["uncertainty_deg"] == 2.7
    assert "pelvic drop left 4.1 ± 2.7°, right 3.0 ± 2.7° (real-world, per stance; L - R ± 0.9°)" in format_summary(s2)


def test_analyze_pelvis_only_shows_drop_uncertainty_only():
    s = _summary(_stances(5.0, 5.5), ["pelvis"])
    text = format_summary(s)
    assert "pelvic drop left 5.0 ± 1.5°" in text
    assert "hip adduction left" not in text  # no hip numbers, so no hip uncertainty either


def test_landings_say_there_is_no_reference():
    evs = [Event("landing", "both", 1.0, 1.3, peak_pelvic_drop_deg=3.0)]
    s = _summary(evs, ["pelvis", "left_thigh", "right_thigh"])
    assert s["kinds"]["landing"]["sides"]["both"]["peak_pelvic_drop_deg"]["uncertainty_deg"] is None
    assert "no real-world reference for landing peaks" in format_summary(s)
