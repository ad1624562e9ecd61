"""Dashboard numbers: redraw rate, samples lost while the GUI is busy, memory over a long session.

Run (offscreen, 2 cores shared with other work):

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_dashboard.py --seconds 20 --skip memory
    taskset -c 1 ... (one core, when the other is busy with other work)
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_dashboard.py --memory-hours 2

1. fps: 3 sensors at 208 Hz are represented by a producer thread that pushes
   208 Hz frames (9 angles) and a stride event every 0.35 s into the LiveState,
   like the runner does, while the window redraws on its own timer; we count
   the paint events the traces view really gets per second of wall time (not
   our refresh() calls) and the worst gap between them.
1b. chain: the same count with the real chain in-process (3 emulated sensors at
   208 Hz over bumble BLE → pipeline → window), plus samples lost and latency.
2. loss: a producer thread emits 3 × 208 notifications/s (sequence-numbered)
   into a SimpleQueue, as the BLE callback does, and a consumer thread drains it
   into a RingBuffer, while the GUI redraws flat out; we count sequence numbers
   that never reached the buffer and the largest queue backlog.
3b. chain memory (--chain-minutes M): RSS of the live process, emulated chain + window, every 30 s.
3. memory: a LiveState is fed 2 hours of 208 Hz frames, events and alerts as fast
   as possible (plus a redraw every simulated second); RSS is sampled along the way.
"""

from __future__ import annotations

import argparse
import os
import queue
import resource
import sys
import threading
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_window():
    from hipmon.app.dashboard import Dashboard
    from hipmon.app.feeds import FixedLimitAlerts
    from hipmon.app.main import application
    from hipmon.buffers import LiveState, SensorStatus

    app = application()
    state = LiveState(seconds=30, rate_hz=208)
    state.set_limits(FixedLimitAlerts().limits())
    state.set_sensors([SensorStatus(p, p, "bench", True, 208.0, 0.0, 30.0, 90.0) for p in ("pelvis", "left_thigh", "right_thigh")])
    win = Dashboard(state, None, muted=True)
    win.show()
    return app, win, state


def producer(state, stop: threading.Event, rate_hz: float = 208.0, chunk: int = 8):
    """Push runner-like updates in real time: 208 Hz angle frames, a stance every 0.35 s, an alert every 20th."""
    from hipmon.app.feeds import SimpleAlert, synthetic_run

    t, a, ev = synthetic_run(120.0, rate_hz=rate_hz, fatigue_after_s=0.0)
    t0 = time.monotonic()
    i = j = 0
    while not stop.is_set():
        target = (time.monotonic() - t0) % 119.0
        hi = int(np.searchsorted(t, target))
        if hi < i:
            i = j = 0
        if hi > i:
            state.push_frames(t[i:hi] + 0.0, a[i:hi])
            i = hi
        while j < len(ev) and ev[j].end_s <= target:
            state.push_events([ev[j]])
            if j % 20 == 0:
                state.push_alerts([SimpleAlert("pelvic_drop", ev[j].side, ev[j].end_s, {"peak_pelvic_drop_deg": 9.0}, ev[j])])
            j += 1
        time.sleep(chunk / rate_hz)


class PaintCounter:
    """Counts the paint events a widget really gets (what the coach sees), not our refresh() calls."""

    def __init__(self, widget):
        from PySide6 import QtCore

        class _Filter(QtCore.QObject):
            def eventFilter(inner, obj, ev):  # noqa: N802, N805
                if ev.type() == QtCore.QEvent.Type.Paint:
                    self.stamps.append(time.perf_counter())
                return False

        self.stamps: list[float] = []
        self._filter = _Filter()
        widget.installEventFilter(self._filter)

    def summary(self, t0: float, t1: float) -> dict:
        s = np.array([x for x in self.stamps if t0 <= x <= t1])
        gaps = np.diff(s) if s.size > 1 else np.array([np.nan])
        return {"paints_per_s": round(s.size / (t1 - t0), 1), "p95_gap_ms": round(float(np.percentile(gaps, 95)) * 1e3, 1),
                "worst_gap_ms": round(float(gaps.max()) * 1e3, 1)}


def run_window(app, win, seconds: float) -> dict:
    """Run the Qt loop for ``seconds`` with the window's own timer; paints of the traces view and refresh() calls."""
    counter = PaintCounter(win.traces.viewport())
    n0 = win.n_redraws
    cpu0 = time.process_time()
    from PySide6 import QtCore

    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    t0 = time.perf_counter()
    loop.exec()  # the real event loop: idle between timer ticks, as in the app
    t1 = time.perf_counter()
    out = counter.summary(t0, t1)
    out["refresh_per_s"] = round((win.n_redraws - n0) / (t1 - t0), 1)
    out["process_cpu_pct"] = round(100 * (time.process_time() - cpu0) / (t1 - t0))
    return out


def bench_fps(seconds: float) -> dict:
    """The window on its own timer, fed like the runner feeds it (3 × 208 Hz → 208 Hz frames + strides)."""
    app, win, state = make_window()
    stop = threading.Event()
    th = threading.Thread(target=producer, args=(state, stop), daemon=True)
    th.start()
    time.sleep(11.0)  # a full 10 s window of data first
    win.start()
    run_window(app, win, 1.0)  # warm-up
    out = run_window(app, win, seconds)
    # paint cost: refresh + repaint of the whole window in a loop
    t1 = time.perf_counter()
    k = 0
    while time.perf_counter() - t1 < 3.0:
        win.refresh()
        win.repaint()
        app.processEvents()
        k += 1
    out["whole_window_repaints_per_s_flat_out"] = round(k / (time.perf_counter() - t1), 1)
    stop.set()
    th.join()
    out["frames_pushed"] = state.stats()["frames"]
    win.close()
    return out


def bench_chain(seconds: float) -> dict:
    """The real chain in this process: 3 emulated Movesense sensors at 208 Hz over bumble BLE → pipeline → window.

    The emulated sensors, the BLE stack, the decoder, the pipeline and the GUI all share this
    process (and its GIL): harsher than real sensors, which are separate devices. No impairments
    are configured, so every lost sample would be one the busy process dropped.
    """
    from hipmon.app.chain import ChainSource
    from hipmon.app.main import application, build_live

    app = application()
    source = ChainSource.emulated(seconds=seconds + 40.0, seed=7)
    win, runner, state = build_live(source, muted=True)
    win.show()
    runner.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 60.0 and not (state.calibration().stage == "done" and
                                                   (state.now_s() or 0.0) > 12.0):
        app.processEvents()
        time.sleep(0.005)
    win.start()
    run_window(app, win, 1.0)
    out = run_window(app, win, seconds)
    st = list(source.thread.status().values())
    out["samples"] = int(sum(s.samples for s in st))
    out["samples_lost"] = int(sum(s.samples_lost for s in st))
    out["rate_hz"] = [round(s.rate_measured_hz, 1) for s in st]
    out["latency_ms_p50"] = [round(s.latency_ms_p50, 2) for s in st]
    out["calibration"] = state.calibration().stage
    out["error"] = repr(runner.error) if runner.error else None
    win.close()
    runner.stop()
    return out


def bench_chain_memory(minutes: float) -> dict:
    """RSS of the whole live process (emulated chain + pipeline + window at its own timer) over ``minutes`` of real time."""
    from PySide6 import QtCore

    from hipmon.app.chain import ChainSource
    from hipmon.app.main import application, build_live

    app = application()
    source = ChainSource.emulated(seconds=minutes * 60.0 + 30.0, seed=7)
    win, runner, state = build_live(source, muted=True)
    win.show()
    runner.start()
    win.start()
    samples = []
    t0 = time.perf_counter()
    loop = QtCore.QEventLoop()
    timer = QtCore.QTimer()
    timer.timeout.connect(lambda: samples.append((round((time.perf_counter() - t0) / 60.0, 2), round(rss_mb(), 1))))
    timer.start(30_000)
    QtCore.QTimer.singleShot(int(minutes * 60_000), loop.quit)
    loop.exec()
    samples.append((round((time.perf_counter() - t0) / 60.0, 2), round(rss_mb(), 1)))
    st = list(source.thread.status().values())
    win.close()
    runner.stop()
    first = samples[min(1, len(samples) - 1)][1]
    return {"minutes": minutes, "rss_mb_at_min": samples, "growth_after_first_min_mb": round(samples[-1][1] - first, 1),
            "samples": int(sum(x.samples for x in st)), "samples_lost": int(sum(x.samples_lost for x in st)),
            "fps_shown": round(win.measured_fps(), 1)}


def bench_loss(seconds: float) -> dict:
    """Sequence-numbered notifications through a queue to a consumer while the GUI redraws flat out."""
    from hipmon.buffers import RingBuffer

    app, win, state = make_window()
    stop = threading.Event()
    th_p = threading.Thread(target=producer, args=(state, stop), daemon=True)
    th_p.start()
    q: "queue.SimpleQueue[tuple[int, float]]" = queue.SimpleQueue()
    rb = RingBuffer(60, 3 * 208, 1)
    sent = [0]
    received = []
    backlog = [0]

    def ble():  # 3 sensors × 208 Hz, one notification per 4 samples (52 Hz each, like Movesense batching)
        seq = 0
        t0 = time.monotonic()
        while not stop.is_set():
            due = int((time.monotonic() - t0) * 3 * 52)
            while seq < due:
                q.put((seq, time.monotonic()))
                seq += 1
            time.sleep(0.005)
        sent[0] = seq

    def consumer():
        while not (stop.is_set() and q.empty()):
            try:
                s, _t = q.get(timeout=0.05)
            except queue.Empty:
                continue
            backlog[0] = max(backlog[0], q.qsize())
            received.append(s)
            rb.push(np.array([s], float), np.array([[s]], float))

    tb = threading.Thread(target=ble, daemon=True)
    tc = threading.Thread(target=consumer, daemon=True)
    tb.start()
    tc.start()
    t0 = time.perf_counter()
    k = 0
    while time.perf_counter() - t0 < seconds:
        win.refresh()
        win.repaint()
        app.processEvents()
        k += 1
    stop.set()
    tb.join()
    tc.join()
    th_p.join()
    win.close()
    got = np.unique(received)
    missing = sent[0] - got.size
    return {"notifications_sent": sent[0], "notifications_lost": int(missing), "max_queue_backlog": backlog[0],
            "gui_redraws_per_s_during": k / (time.perf_counter() - t0)}


def bench_memory(hours: float) -> dict:
    from hipmon.app.feeds import SimpleAlert
    from hipmon.types import Event

    app, win, state = make_window()
    rate = 208.0
    chunk_s = 1.0
    n = int(rate * chunk_s)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, 9))
    samples = []
    total = int(hours * 3600 / chunk_s)
    t0 = time.perf_counter()
    for k in range(total):
        t = k * chunk_s + np.arange(n) / rate
        state.push_frames(t, a)
        evs = [Event("stance", "left" if i % 2 else "right", t[0] + 0.35 * i, t[0] + 0.35 * i + 0.2, 5.0, 10.0, 3.0)
               for i in range(3)]
        state.push_events(evs)
        if k % 10 == 0:
            state.push_alerts([SimpleAlert("valgus", "right", t[-1], {"peak_hip_adduction_deg": 17.0}, evs[0])])
        if k % 60 == 0:
            state.add_marker(t[0], f"m{k}")
        if k % 10 == 0:  # a redraw every 10 s of session (the live window redraws 30x/s over the same bounded data)
            win.refresh()
            app.processEvents()
        if k % 600 == 0:
            samples.append((k * chunk_s / 3600.0, rss_mb()))
    samples.append((hours, rss_mb()))
    win.close()
    first_after_warmup = samples[min(2, len(samples) - 1)][1]
    return {"session_hours": hours, "wall_s": time.perf_counter() - t0,
            "rss_mb_at": [(round(h, 2), round(m, 1)) for h, m in samples[:: max(1, len(samples) // 8)]],
            "rss_growth_after_first_20_min_mb": round(samples[-1][1] - first_after_warmup, 1)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--memory-hours", type=float, default=2.0)
    ap.add_argument("--chain-minutes", type=float, default=0.0, help="also: RSS of the live chain over this many minutes")
    ap.add_argument("--skip", nargs="*", default=[])
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = {}
    if "fps" not in args.skip:
        out["fps"] = bench_fps(args.seconds)
        print("fps", out["fps"], flush=True)
    if "chain" not in args.skip:
        out["chain"] = bench_chain(args.seconds)
        print("chain", out["chain"], flush=True)
    if "loss" not in args.skip:
        out["loss"] = bench_loss(args.seconds)
        print("loss", out["loss"], flush=True)
    if "memory" not in args.skip:
        out["memory"] = bench_memory(args.memory_hours)
        print("memory", out["memory"], flush=True)
    if args.chain_minutes > 0:
        out["chain_memory"] = bench_chain_memory(args.chain_minutes)
        print("chain_memory", out["chain_memory"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
