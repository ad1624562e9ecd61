"""Entry points of the commands: build the window around a model, run, screenshot, exit."""

from __future__ import annotations

import os
import signal
from typing import Any, Callable

from PySide6 import QtCore, QtWidgets

from hipmon.app.dashboard import Dashboard
from hipmon.app.feedback import FadeSchedule
from hipmon.app.model import Source
from hipmon.app.replay import ReplayBar, ReplayModel
from hipmon.app.session import SessionRunner
from hipmon.buffers import LiveState


def application() -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(["hipmon"])
        app.setApplicationName("hipmon")
    return app  # type: ignore[return-value]


def build_live(source: Source, *, athlete: str = "", session: str = "", muted: bool = False,
               seconds: float = 30.0, rate_hz: float = 208.0, fade: FadeSchedule | None = None,
               recordings_dir: str = ".", sinks: list | None = None, protocol: str | None = None,
               side: str | None = None, library: str | None = None,
               marker_sinks: list | None = None) -> tuple[Dashboard, SessionRunner, LiveState]:
    """A LiveState, a SessionRunner draining ``source`` into it, and a Dashboard reading it (not started).

    ``recordings_dir``: where the window's Record button writes sessions without an athlete;
    ``library``: the athlete library it writes to when an athlete is named (``hipmon.library``);
    ``protocol``/``side``: the test protocol picked at the start (the picker can change it).
    The angle buffer keeps ``PROTOCOL_WINDOW_S`` (a stance hold's drift reads the whole hold).
    """
    from hipmon.app.model import PROTOCOL_WINDOW_S  # noqa: PLC0415

    application()
    state = LiveState(seconds=max(seconds, PROTOCOL_WINDOW_S), rate_hz=rate_hz, placements=source.placements)
    state.info.athlete, state.info.session, state.info.source = athlete, session, source.label
    runner = SessionRunner(source, state, sinks=sinks, marker_sinks=marker_sinks)
    win = Dashboard(state, runner, muted=muted, title=f"hipmon — {state.info.source}", fade=fade)
    win.recordings_dir = recordings_dir
    win.library = library
    if protocol:
        win.set_protocol(protocol, side)
    return win, runner, state


def exec_window(win: Dashboard, *, duration: float | None = None, screenshot: str | None = None,
                on_start: Callable[[], None] | None = None) -> int:
    """Show ``win``; quit after ``duration`` s (wall clock) saving ``screenshot`` first, or on close/Ctrl-C."""
    app = application()
    win.show()
    win.start()
    if on_start is not None:
        on_start()
    result = {"saved": True}

    def finish() -> None:
        if screenshot:
            os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
            result["saved"] = win.save_screenshot(screenshot)
        win.close()
        app.quit()

    if duration is not None:
        QtCore.QTimer.singleShot(int(duration * 1000), finish)
    # let Ctrl-C through the Qt loop
    signal.signal(signal.SIGINT, lambda *_: finish())
    keepalive = QtCore.QTimer()
    keepalive.start(200)
    keepalive.timeout.connect(lambda: None)
    app.exec()
    return 0 if result["saved"] else 1


def run_live(source: Source, *, duration: float | None = None, screenshot: str | None = None, **kw: Any) -> int:
    win, runner, _state = build_live(source, **kw)
    code = exec_window(win, duration=duration, screenshot=screenshot, on_start=runner.start)
    runner.stop()
    if runner.error is not None and not isinstance(runner.error, KeyboardInterrupt):
        from hipmon.cli import CommandError  # noqa: PLC0415

        raise CommandError(f"acquisition failed: {runner.error}")
    return code


def build_replay(model: ReplayModel, *, muted: bool = False) -> Dashboard:
    """A Dashboard on a ReplayModel with its ReplayBar (not shown)."""
    application()
    win = Dashboard(model, None, muted=muted, title=f"hipmon — {model.info.source}")
    win.add_replay_bar(ReplayBar(model, win))
    return win


def run_replay(model: ReplayModel, *, duration: float | None = None, screenshot: str | None = None, muted: bool = False,
               play: bool = False) -> int:
    win = build_replay(model, muted=muted)
    return exec_window(win, duration=duration, screenshot=screenshot, on_start=model.play if play else None)
