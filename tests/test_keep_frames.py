"""``process_session(keep="angles")`` (what ``hipmon analyze`` and ``hipmon batch`` use, issue 16):
the same angles, validity, events and alerts, without the segment rates, forces and orientations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hipmon.pipeline import process_session

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"


@pytest.mark.parametrize("name", ["run_right_hip_tires.hipmon", "single_leg_stance.hipmon"])
@pytest.mark.parametrize("staged", [True, False])
def test_angles_only_result_is_the_full_result_without_the_segment_signals(name: str, staged: bool) -> None:
    full = process_session(RECORDINGS / name, staged=staged)
    lean = process_session(RECORDINGS / name, staged=staged, keep="angles")
    assert len(full.events) > 0
    assert np.array_equal(lean.frames.time_s, full.frames.time_s)
    assert np.array_equal(lean.frames.angles_deg, full.frames.angles_deg, equal_nan=True)
    assert np.array_equal(lean.frames.valid, full.frames.valid)
    assert {p: v.tolist() for p, v in lean.frames.valid_sensor.items()} == \
        {p: v.tolist() for p, v in full.frames.valid_sensor.items()}
    assert [repr(e) for e in lean.events] == [repr(e) for e in full.events]
    assert [repr(a) for a in lean.alerts] == [repr(a) for a in full.alerts]
    assert full.frames.q_segment_global and full.frames.acc_global and full.frames.gyr_segment
    assert not lean.frames.q_segment_global and not lean.frames.acc_global and not lean.frames.gyr_segment


def test_keep_must_be_known() -> None:
    with pytest.raises(ValueError, match="keep"):
        process_session(RECORDINGS / "run_right_hip_tires.hipmon", keep="everything")
