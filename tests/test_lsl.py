"""Issue 15: Lab Streaming Layer outlets, read back by a pylsl inlet on this machine.

``replay --lsl``: an inlet waiting for the streams receives every frame of the processed session,
in order, stamped at the grid rate, with the same angles (float32), and every event, alert and
marker as a JSON string at its session time. ``live --lsl`` (emulated sensors): the frames come
spaced at the grid rate and the events the terminal printed arrive as markers.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import pylsl  # noqa: E402  (a dependency: missing = a failure, not a skip)

from hipmon.cli import main
from hipmon.types import ANGLE_COLUMNS

REPO = Path(__file__).resolve().parents[1]


class _Reader(threading.Thread):
    """Resolves hipmon's two streams, then pulls until they have been quiet for ``quiet_s``."""

    def __init__(self, quiet_s: float = 3.0, timeout_s: float = 60.0, name: str = "hipmon"):
        super().__init__(daemon=True)
        self.name = name  # the streams' name prefix (unique per test: tests may run in parallel)
        self.quiet_s, self.timeout_s = quiet_s, timeout_s
        self.samples: list[list[float]] = []
        self.stamps: list[float] = []
        self.markers: list[tuple[float, str]] = []
        self.info: pylsl.StreamInfo | None = None
        self.ready = threading.Event()

    def run(self):
        end = time.monotonic() + self.timeout_s
        angles = markers = None
        while (angles is None or markers is None) and time.monotonic() < end:
            for si in pylsl.resolve_byprop("type", "MoCap", timeout=0.5):
                if si.name() == f"{self.name} angles":
                    angles = pylsl.StreamInlet(si, max_buflen=3600)
            for si in pylsl.resolve_byprop("type", "Markers", timeout=0.5):
                if si.name() == f"{self.name} markers":
                    markers = pylsl.StreamInlet(si, max_buflen=3600)
        assert angles is not None and markers is not None, "hipmon streams not found"
        self.info = angles.info(timeout=5.0)
        angles.open_stream(timeout=5.0)
        markers.open_stream(timeout=5.0)
        self.ready.set()
        last = time.monotonic()
        while time.monotonic() - last < self.quiet_s and time.monotonic() < end:
            got = False
            chunk, ts = angles.pull_chunk(timeout=0.2, max_samples=4096)
            if ts:
                self.samples += chunk
                self.stamps += ts
                got = True
            while True:
                m, t = markers.pull_sample(timeout=0.0)
                if m is None:
                    break
                self.markers.append((t, m[0]))
                got = True
            if got:
                last = time.monotonic()


def test_replay_lsl_every_frame_event_and_marker(tmp_path, capsys):
    from hipmon.pipeline import process_session
    from hipmon.recording import SessionReader

    import shutil
    import sqlite3

    rec = tmp_path / "s.hipmon"
    shutil.copy(REPO / "recordings" / "single_leg_stance.hipmon", rec)
    con = sqlite3.connect(rec)  # two markers placed in the session (the copy, not the sample)
    con.executemany("INSERT INTO markers (time_s, label) VALUES (?, ?)", [(12.5, "shoe A"), (30.25, "after fatigue")])
    con.commit()
    con.close()
    result = process_session(rec)
    with SessionReader(rec) as r:
        n_markers = len(r.markers)
    reader = _Reader(name="hipmon-test-replay")
    reader.start()
    assert main(["replay", str(rec), "--lsl", "--speed", "8", "--wait-for-inlet", "30",
                 "--lsl-name", "hipmon-test-replay"]) == 0
    reader.join(90)
    f = result.frames
    n = len(f.time_s)
    assert len(reader.stamps) == n, (len(reader.stamps), n)
    st = np.array(reader.stamps)
    rate = 1.0 / float(np.median(np.diff(f.time_s)))
    np.testing.assert_allclose(np.diff(st), 1.0 / rate, atol=1e-6)  # in order, at the grid rate
    got = np.array(reader.samples, dtype=np.float32)
    want = np.array(f.angles_deg, dtype=np.float32)
    want[~f.valid] = np.nan
    np.testing.assert_array_equal(got, want)
    # the stream description: labels and units
    ch = reader.info.desc().child("channels").child("channel")
    labels = []
    while not ch.empty():
        labels.append((ch.child_value("label"), ch.child_value("unit")))
        ch = ch.next_sibling()
    assert labels == [(c, "degrees") for c in ANGLE_COLUMNS]
    # every event, alert and marker, each at its session time on the same clock as the frames
    kinds = [json.loads(m)["type"] for _, m in reader.markers]
    assert kinds.count("event") == len(result.events) > 0
    assert kinds.count("alert") == len(result.alerts) > 0
    assert kinds.count("marker") == n_markers == 2
    offset = st[0] - f.time_s[0]
    for t, m in reader.markers:
        assert abs(t - offset - json.loads(m)["time_s"]) < 1e-6


def test_live_lsl_frames_at_the_grid_rate_and_events_as_markers(tmp_path, capsys):
    from hipmon.app.chain import ChainSource
    from hipmon.commands.live import run_terminal
    from hipmon.lsl import LiveLsl

    source = ChainSource.emulated(seconds=14.0, seed=1, kind="walk", profile="movesense-gsp", rate_hz=104.0)
    reader = _Reader(quiet_s=4.0, name="hipmon-test-live")
    reader.start()
    import io

    out = io.StringIO()
    assert run_terminal(source, 18.0, out=out, sinks=[LiveLsl(source, name="hipmon-test-live")]) == 0
    reader.join(60)
    st = np.array(reader.stamps)
    assert st.size > 500
    d = np.diff(st)
    assert np.allclose(d, np.median(d), atol=1e-6), "frames in order at the grid rate, none missing"
    printed = [ln for ln in out.getvalue().splitlines() if ln.strip() and not ln.startswith("#") and " s  " in ln
               and "ALERT" not in ln]
    events = [json.loads(m) for _, m in reader.markers if json.loads(m)["type"] == "event"]
    assert len(events) == len(printed) > 0


def test_live_markers_placed_in_the_session_reach_the_marker_stream():
    """A coach's markers (the dashboard's Mark button: ``SessionRunner.add_marker``) go to the LSL
    marker stream at their session time, with label and condition; one placed before the
    outlets open (no frames yet) is pushed once they do (an inlet connects only after the
    streams exist, so this reader may miss it: counted at the outlet)."""
    from hipmon.app.chain import ChainSource
    from hipmon.app.session import SessionRunner
    from hipmon.buffers import LiveState
    from hipmon.lsl import LiveLsl

    source = ChainSource.emulated(seconds=16.0, seed=2, kind="walk", profile="movesense-gsp", rate_hz=104.0)
    lsl = LiveLsl(source, name="hipmon-test-marks")
    state = LiveState(seconds=30.0)
    runner = SessionRunner(source, state, sinks=[lsl], marker_sinks=[lsl.marker])
    reader = _Reader(quiet_s=3.0, name="hipmon-test-marks")
    runner.start()
    runner.add_marker("warm-up", "")  # served once the source runs: before the first frames
    reader.start()
    end = time.monotonic() + 30.0
    while lsl.publisher is None or not reader.ready.is_set():  # the streams are open and read
        assert time.monotonic() < end, "no frames, or the reader found no streams"
        time.sleep(0.1)
    time.sleep(1.0)
    runner.add_marker("set 1", "fatigued")
    time.sleep(1.5)
    runner.stop(timeout=30.0)
    reader.join(60)
    marks = [(t, json.loads(m)) for t, m in reader.markers if json.loads(m)["type"] == "marker"]
    assert [(m["label"], m["condition"]) for _, m in marks if m["label"] != "warm-up"] == [("set 1", "fatigued")]
    n_events = len(reader.markers) - len(marks)
    assert lsl.publisher.markers_sent >= 2 + n_events  # the early one went out too
    # at its session time on the angles' clock: within the frames streamed
    t, m = marks[-1]
    st = np.array(reader.stamps)
    assert st[0] < t <= st[-1] + 0.5
    assert abs((t - st[0]) - (m["time_s"] - reader_first_time(lsl, st))) < 0.05


def reader_first_time(lsl, stamps) -> float:
    """The session time of the first frame the reader got (LSL stamp minus the outlet's offset)."""
    return float(stamps[0]) - lsl.publisher.offset_s
