"""One sensor on the sacrum, live and recorded (issue 11), and a thigh lost part-way.

End to end over the real chain: emulated sensors (bumble GATT servers in a child process)
-> bleak -> ``hipmon record`` -> ``hipmon analyze`` / replay; the dashboard offscreen with
one sensor (what it cannot measure is said, not drawn empty); a thigh that goes off the air
is a gap in its hip only, in the recording and in the live buffer.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from hipmon.cli import main
from hipmon.types import ANGLE_COLUMNS

pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtGui  # noqa: E402

HIP = slice(3, 9)


def _colour_pixels(img: QtGui.QImage, hex_colour: str, rect: QtCore.QRect, tol: int = 40) -> int:
    from hipmon.app import theme

    img = img.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8).reshape(h, img.bytesPerLine() // 4, 4)[:, :w, :3]
    arr = arr[rect.top(): rect.bottom(), rect.left(): rect.right()]
    r, g, b = theme.rgb(hex_colour)
    return int(np.all(np.abs(arr.astype(int) - np.array([b, g, r])) <= tol, axis=-1).sum())


def _region(win, widget) -> QtCore.QRect:
    return QtCore.QRect(widget.mapTo(win, QtCore.QPoint(0, 0)), widget.size())


# ---------------------------------------------------------------- recording with one sensor


@pytest.fixture(scope="module")
def one_sensor_session(tmp_path_factory):
    path = tmp_path_factory.mktemp("one") / "sacrum.hipmon"
    # a walk at twice real time: 20 s of session (3 s standing, then walking)
    code = main(["record", "--emulate", "walk", "--seconds", "20", "--speed", "2", "--seed", "3",
                 "--placements", "pelvis", "-o", str(path)])
    assert code == 0
    return path


def test_record_one_sensor_then_analyze(one_sensor_session, capsys):
    capsys.readouterr()
    assert main(["info", str(one_sensor_session), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [s["placement"] for s in info["sensors"]] == ["pelvis"]
    assert info["metadata"]["emulation"]["placements"] == ["pelvis"]
    assert info["sensors"][0]["samples"] > 15 * 208 * 0.9

    assert main(["analyze", str(one_sensor_session), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["placements"] == ["pelvis"] and "hip_adduction" in s["not_measurable"]
    sides = s["kinds"]["stance"]["sides"]
    # ~15 s of walking at ~1.8 steps/s: stances on both sides, pelvic drop measured, hips not
    assert sides["left"]["count"] >= 8 and sides["right"]["count"] >= 8
    for side in ("left", "right"):
        drop = sides[side]["peak_pelvic_drop_deg"]
        assert drop["mean"] is not None and 0.0 < drop["mean"] < 15.0
        assert drop["uncertainty_deg"] == 1.5
        assert sides[side]["peak_hip_adduction_deg"]["mean"] is None

    assert main(["analyze", str(one_sensor_session)]) == 0
    text = capsys.readouterr().out
    assert "(real-world, per stance" in text and "needs thigh sensors" in text


def test_replay_of_a_one_sensor_recording(qtbot, one_sensor_session):
    from hipmon.app.main import build_replay
    from hipmon.app.replay import ReplayModel

    model = ReplayModel.from_session(str(one_sensor_session))
    assert model.placements == ("pelvis",)
    assert np.isnan(model.angles_deg[:, HIP]).all()
    assert np.isfinite(model.angles_deg[:, :3]).mean() > 0.9  # the pelvis rows are not blanked by the hips
    assert np.isfinite(model.current_angles()[:3]).all()  # the playhead starts where the pelvis has data
    win = build_replay(model, muted=True)
    qtbot.addWidget(win)
    win.refresh()
    assert not win.hips_measured and "needs thigh sensors" in win.notes["trace:hip_adduction_left_deg"].textItem.toPlainText()


@pytest.mark.parametrize("bad, words", [
    (["--placements", "left_thigh"], "pelvis alone"),
    (["--placements", "pelvis,left_thigh"], "right_thigh"),
    (["--placements", "sacrum"], "unknown placement"),
    (["--placements", "pelvis", "--off-air", "left_thigh:3:2"], "no left_thigh sensor"),
    (["--off-air", "left_thigh:3"], "PLACEMENT:START:SECONDS"),
])
def test_record_refuses_what_it_cannot_do(tmp_path, capsys, bad, words):
    out = tmp_path / "x.hipmon"
    assert main(["record", "--emulate", "walk", "--seconds", "5", "-o", str(out), *bad]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not out.exists()


def test_a_session_config_with_the_pelvis_alone(tmp_path):
    from hipmon.app.chain import ChainSource
    from hipmon.ble.config import ConfigError, load_config

    one = tmp_path / "one.toml"
    one.write_text('profile = "movesense-gsp"\n[[sensor]]\nplacement = "pelvis"\naddress = "0C:8C:DC:11:22:33"\n')
    assert [s.placement for s in load_config(one).sensors] == ["pelvis"]
    src = ChainSource.hardware(config=str(one))
    assert src.placements == ("pelvis",) and "one sensor on the sacrum" in src.label
    two = tmp_path / "two.toml"
    two.write_text(one.read_text() + '[[sensor]]\nplacement = "left_thigh"\nname = "Movesense*"\n')
    with pytest.raises(ConfigError, match="right_thigh.*pelvis alone"):
        load_config(two)


# ---------------------------------------------------------------- the dashboard with one sensor


def test_dashboard_with_one_sensor_says_what_it_cannot_measure(qtbot, tmp_path):
    from hipmon.app import theme
    from hipmon.app.dashboard import Dashboard
    from hipmon.app.replay import ReplayModel
    from hipmon.buffers import CalibrationStatus
    from hipmon.pipeline import PipelineConfig, process_samples
    from hipmon.types import SensorSpec, SensorStatus
    from hipmon.simulate import simulate

    sim = simulate("walk", 25, seed=4, ideal=True)
    p = sim.sensors["pelvis"]
    res = process_samples({"pelvis": (p.time_session_s, p.acc_sensor, p.gyr_sensor, None)},
                          [SensorSpec("pelvis", "pelvis", None, p.rate_hz)], PipelineConfig())
    f = res.frames
    model = ReplayModel(f.time_s, f.angles_deg, f.valid, res.events, res.alerts,
                        sensors=[SensorStatus("pelvis", "pelvis", "", connected=True, rate_measured_hz=p.rate_hz)],
                        # calibrated, as the replay of a recording says (a never-calibrated one: "not calibrated")
                        calibration=CalibrationStatus("done", 1.0, float(res.calibration.quality), "calibrated"))
    model.seek(20.0)
    win = Dashboard(model, None, muted=True)
    qtbot.addWidget(win)
    win.show()
    win.refresh()
    assert win.placements == ("pelvis",) and not win.hips_measured
    # the hip traces and bars say what they need, and draw nothing
    for key in ("trace:hip_adduction_left_deg", "trace:hip_internal_rotation_left_deg"):
        assert "needs thigh sensors" in win.notes[key].textItem.toPlainText()
    for key in ("bars:peak_hip_adduction_deg", "bars:peak_hip_internal_rotation_deg"):
        assert "needs thigh" in win.notes[key].textItem.toPlainText()
    for col in [c for c in win.curves if c.startswith("hip_")]:
        x, y = win.curves[col].getData()
        assert y is None or not np.isfinite(y).any()
    assert len(win.bar_items[(1, "left")].opts["height"]) == 0
    # the pelvis trace and the drop bars are drawn from the session
    x, y = win.curves["pelvis_obliquity_deg"].getData()
    assert np.isfinite(y).sum() > 500
    stances_left = [e for e in res.events if e.kind == "stance" and e.side == "left" and e.end_s <= 20.0][-20:]
    np.testing.assert_allclose(win.bar_items[(0, "left")].opts["height"],
                               [e.peak_pelvic_drop_deg for e in stances_left])
    assert "pelvis within limits" in win.banner.text()
    assert "thigh sensor" in win.figure._readout["left"].textItem.toPlainText()
    assert win.sensor_table.rowCount() == 3 and win.sensor_table.item(1, 1).text() == "— none"
    # on screen: the pelvis' violet in the traces and the figure, no thigh colours in the figure
    path = tmp_path / "one.png"
    assert win.save_screenshot(str(path))
    img = QtGui.QImage(str(path))
    assert _colour_pixels(img, theme.PELVIS, _region(win, win.traces)) > 300
    fig = _region(win, win.figure)
    assert _colour_pixels(img, theme.PELVIS, fig, tol=30) > 200
    assert _colour_pixels(img, theme.LEFT, fig, tol=30) + _colour_pixels(img, theme.RIGHT, fig, tol=30) < 300  # L/R labels only


# ---------------------------------------------------------------- a thigh lost part-way


def test_a_lost_thigh_is_a_gap_in_the_live_buffer_of_its_hip_only():
    from hipmon.app.session import per_column_gaps
    from hipmon.buffers import COL, LiveState
    from hipmon.pipeline import Update, process_samples
    from hipmon.types import SensorSpec
    from hipmon.simulate import simulate

    sim = simulate("walk", 35, seed=2)
    smp = {p: (s.time_session_s, s.acc_sensor, s.gyr_sensor, None) for p, s in sim.sensors.items()}
    t, a, g, _ = smp["left_thigh"]
    keep = (t < 14.0) | (t > 18.0)
    res = process_samples(dict(smp, left_thigh=(t[keep], a[keep], g[keep], None)),
                          [SensorSpec(p, p, None, s.rate_hz) for p, s in sim.sensors.items()])
    f = res.frames
    raw, fixed = LiveState(seconds=40.0), LiveState(seconds=40.0)
    raw.push_update(Update(f))
    fixed.push_update(per_column_gaps(Update(f)))
    ts, rows = fixed.angles_window(40.0)
    gap = (ts > 14.05) & (ts < 17.95)
    after = ts > 28.1  # back after 18 s, shown once its filter settled (PipelineConfig.resettle_s)
    assert gap.sum() > 300
    assert np.isnan(rows[gap][:, [COL["hip_adduction_left_deg"], COL["hip_internal_rotation_left_deg"]]]).all()
    assert np.isfinite(rows[gap][:, [COL["pelvis_obliquity_deg"], COL["hip_adduction_right_deg"]]]).all()
    assert np.isfinite(rows[after][:, COL["hip_adduction_left_deg"]]).all()
    # the pipeline's whole-row validity would have blanked the pelvis too: that is what per_column_gaps avoids
    _, rows_raw = raw.angles_window(40.0)
    assert np.isnan(rows_raw[gap][:, COL["pelvis_obliquity_deg"]]).all()


@pytest.mark.slow
def test_emulated_thigh_off_the_air_is_a_gap_in_the_recording(tmp_path, capsys):
    path, angles = tmp_path / "lost.hipmon", tmp_path / "a.csv"
    assert main(["record", "--emulate", "walk", "--seconds", "24", "--seed", "1",
                 "--off-air", "left_thigh:7:3", "-o", str(path)]) == 0
    capsys.readouterr()
    assert main(["info", str(path), "--json"]) == 0
    info = {s["placement"]: s for s in json.loads(capsys.readouterr().out)["sensors"]}
    lost = info["left_thigh"]["gaps_recorded"]
    assert lost["count"] == 1 and 2.5 * 208 < lost["samples_lost"] < 3.6 * 208  # 3 s gone, then reconnected
    assert info["right_thigh"]["gaps_recorded"]["count"] == 0 and info["pelvis"]["gaps_recorded"]["count"] == 0
    assert main(["export", str(path), "--angles", str(angles)]) == 0
    a = np.genfromtxt(angles, delimiter=",", skip_header=1)
    left = np.isnan(a[:, 1 + ANGLE_COLUMNS.index("hip_adduction_left_deg")])
    d = np.diff(np.r_[0, left.astype(int), 0])
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    spans = [(a[s, 0], a[e - 1, 0]) for s, e in zip(starts, ends) if a[e - 1, 0] - a[s, 0] > 1.0]
    # 3 s off the air, then hidden while its filter settles (PipelineConfig.resettle_s, 10 s)
    assert len(spans) == 1 and 12.5 < spans[0][1] - spans[0][0] < 13.6, spans
    inside = (a[:, 0] > spans[0][0]) & (a[:, 0] < spans[0][1])
    assert np.isfinite(a[inside, 1:4]).all() and np.isfinite(a[inside, 7:10]).all()  # pelvis and right hip flow on


@pytest.mark.slow
def test_live_no_gui_with_one_emulated_sensor():
    from hipmon.app.chain import ChainSource
    from hipmon.commands.live import run_terminal

    src = ChainSource.emulated(seconds=22.0, seed=3, kind="walk", preset=None, placements=("pelvis",))
    out = io.StringIO()
    assert run_terminal(src, duration=40.0, out=out) == 0
    text = out.getvalue()
    assert "# sensors: pelvis (one sensor on the sacrum)" in text
    assert "hip_adduction" in text and "needs thigh sensors" in text
    stances = [ln for ln in text.splitlines() if " stance " in ln]
    assert len(stances) >= 8 and {ln.split()[3] for ln in stances} == {"left", "right"}
    assert all("ADD   —" in ln and "drop   —" not in ln for ln in stances)
