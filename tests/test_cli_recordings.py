"""``--recordings DIR`` of ``hipmon demo`` / ``hipmon live``: where the Record button writes."""

from __future__ import annotations

import argparse

from hipmon.cli import main


def test_recordings_folder_that_cannot_exist_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for cmd in (["demo", "--duration", "1"], ["live", "--emulate", "run", "--duration", "1"]):
        assert main([*cmd, "--recordings", str(blocker / "sub")]) == 2
        err = capsys.readouterr().err
        assert "--recordings" in err and "cannot create the folder" in err, err


def test_recordings_folder_is_created_and_reaches_the_window(tmp_path, qtbot):
    from hipmon.app.feeds import demo_feed
    from hipmon.app.main import build_live
    from hipmon.commands._recordings import recordings_dir

    target = tmp_path / "sessions" / "week4"
    path = recordings_dir(argparse.Namespace(recordings=str(target)))
    assert target.is_dir() and path == str(target)
    win, _runner, _ = build_live(demo_feed(seconds=75.0, seed=1), recordings_dir=path)
    qtbot.addWidget(win)
    assert win.recordings_dir == str(target)

