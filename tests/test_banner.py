"""Issue 13: a session without a trusted calibration never shows a green "No alert — within limits"."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from hipmon.app.model import idle_banner  # noqa: E402
from hipmon.buffers import CalibrationStatus  # noqa: E402


def test_idle_banner_says_within_limits_only_with_a_trusted_calibration():
    assert idle_banner(None, True)[1] is False
    assert idle_banner(CalibrationStatus("stand", 0.5), True)[1] is False
    text, ok = idle_banner(CalibrationStatus("done", 1.0, 0.2, ""), True)
    assert not ok and "not trusted" in text and "within limits" not in text
    text, ok = idle_banner(CalibrationStatus("done", 1.0, 0.9, ""), True)
    assert ok and "pelvis and knees within limits" in text
    assert "sacrum" in idle_banner(CalibrationStatus("done", 1.0, 0.9, ""), False)[0]


def test_replay_of_a_never_calibrated_session_banner(tmp_path, qtbot):
    """A 1.5 s session (nothing to calibrate from) in the replay window: the banner says so."""
    from hipmon.app.dashboard import Dashboard
    from hipmon.app.replay import ReplayModel
    from hipmon.cli import main

    d = tmp_path / "sim"
    assert main(["simulate", "walk", "--seconds", "8", "--rate", "100", "-o", str(d)]) == 0
    cut = tmp_path / "cut"
    cut.mkdir()
    for p in ("pelvis", "left_thigh", "right_thigh"):
        lines = (d / f"{p}.csv").read_text().splitlines()
        keep = [lines[0]] + [ln for ln in lines[1:] if float(ln.split(",")[0]) < 1.5]
        (cut / f"{p}.csv").write_text("\n".join(keep) + "\n")
    s = tmp_path / "s.hipmon"
    assert main(["import", "--pelvis", str(cut / "pelvis.csv"), "--left-thigh", str(cut / "left_thigh.csv"),
                 "--right-thigh", str(cut / "right_thigh.csv"), "-o", str(s)]) == 0
    model = ReplayModel.from_session(str(s))
    win = Dashboard(model, None)
    qtbot.addWidget(win)
    win.banner.refresh(_frame())
    assert "not calibrated" in win.banner.text() and "within limits" not in win.banner.text()


def _frame():
    from hipmon.app.model import AlertDelta, bands_by_column
    from hipmon.app.panels.base import FrameView

    return FrameView(None, bands_by_column([]), AlertDelta([], False, None))
