"""Recording and sync numbers: write throughput, read/decode speed, CSV import speed,
kill -9 data loss, 30-minute clock-sync alignment.

Run: ``.venv/bin/python benchmarks/bench_recording.py`` (results go to docs/benchmarks.md by hand).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hipmon.recording import SessionReader, SessionWriter, import_csv_session
from hipmon.recording.synthetic import SYNTHETIC_PROFILE, SyntheticDecoder, synthetic_stream
from hipmon.sync import map_to_session
from hipmon.types import ImuBlock


def bench_write_read(tmp: Path) -> None:
    # 3 sensors x 208 Hz x 30 min, 4 samples per notification (52 notifications/s per sensor)
    streams = [synthetic_stream(s, seconds=1800, samples_per_packet=4, seed=k) for k, s in enumerate("plr")]
    notes = sorted((n for s in streams for n in s.notifications), key=lambda n: n.host_ns)
    path = tmp / "w.hipmon"
    w = SessionWriter(path, origin_ns=0)
    for s, pl in zip("plr", ("pelvis", "left_thigh", "right_thigh")):
        w.add_sensor(s, pl, SYNTHETIC_PROFILE, 208)
    t0 = time.perf_counter()
    for n in notes:
        w.write(n)
    t_write = time.perf_counter() - t0
    w.close()
    t_all = time.perf_counter() - t0
    size = path.stat().st_size
    print(f"write: {len(notes)} notifications (3 x 208 Hz x 30 min) write() {t_write / len(notes) * 1e6:.2f} us each, "
          f"incl. commits+close {t_all:.2f} s ({len(notes) / t_all:.0f}/s); file {size / 1e6:.1f} MB")
    r = SessionReader(path, decoder_factory=lambda i: SyntheticDecoder(i.rate_hz))
    t0 = time.perf_counter()
    for s in "plr":
        r.notifications(s)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in "plr":
        r.samples(s)
    t_dec = time.perf_counter() - t0
    t0 = time.perf_counter()
    r.session_time("p")
    t_sync = time.perf_counter() - t0
    print(f"read raw notifications: {t_read:.2f} s; decode (synthetic codec): {t_dec:.2f} s; "
          f"session_time one sensor 30 min: {t_sync:.2f} s")


def bench_import(tmp: Path) -> None:
    n = 208 * 600  # 10 min at 208 Hz
    rng = np.random.default_rng(0)
    files = {}
    for pl in ("pelvis", "left_thigh", "right_thigh"):
        t = np.arange(n) / 208.0
        data = np.hstack([t[:, None], rng.normal(size=(n, 6))])
        p = tmp / f"{pl}.csv"
        np.savetxt(p, data, delimiter=",", header="time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z", comments="", fmt="%.9g")
        files[pl] = p
    t0 = time.perf_counter()
    import_csv_session(files, tmp / "imp.hipmon")
    dt = time.perf_counter() - t0
    print(f"import: 3 CSVs x {n} rows (10 min at 208 Hz) in {dt:.2f} s ({3 * n / dt / 1e3:.0f} k rows/s)")


KILL = """
import sys, time
from hipmon.recording import SessionWriter
from hipmon.types import RawNotification
w = SessionWriter(sys.argv[1], origin_ns=0)
w.add_sensor("p", "pelvis", "x", 208)
print("ready", flush=True)
i = 0
while True:
    w.write(RawNotification("p", time.monotonic_ns(), i.to_bytes(4, "little")))
    i += 1
    time.sleep(0.001)
"""


def bench_kill(tmp: Path, runs: int = 10) -> None:
    lags = []
    for k in range(runs):
        path = tmp / f"k{k}.hipmon"
        proc = subprocess.Popen([sys.executable, "-c", KILL, str(path)], stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()
        time.sleep(1.0 + 0.137 * k)
        kill_ns = time.monotonic_ns()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with SessionReader(path) as r:
            assert r.check_integrity() == "ok"
            host_ns, _ = r.notifications("p")
            lags.append((kill_ns - int(host_ns[-1])) / 1e6)
    print(f"kill -9 ({runs} runs, flush interval 0.25 s): newest stored notification "
          f"{np.median(lags):.0f} ms median, {max(lags):.0f} ms max before the kill")


def bench_sync() -> None:
    sensors = [(+50.0, 1000.0, 0.0), (-50.0, 5.0, 0.2), (+20.0, 77_777.0, 0.35)]
    for la, label in ((0.0, "causal after 5 s warm-up"), (2.0, "warm-up + 2 s lookahead")):
        errs = []
        grid = np.arange(0.35, 1799, 0.01)
        t_map = 0.0
        for k, (d, x0, st) in enumerate(sensors):
            s = synthetic_stream(f"s{k}", seconds=1800, drift_ppm=d, sensor_t0_s=x0, start_s=st, seed=k)
            dec = SyntheticDecoder(208)
            b = ImuBlock.concatenate([dec.feed(n.data, n.host_ns) for n in s.received])
            t0 = time.perf_counter()
            t = map_to_session(b.time_sensor_s, b.host_ns / 1e9, lookahead_s=la)
            t_map += time.perf_counter() - t0
            truth = s.time_session_s[b.sample_index]
            errs.append(np.interp(grid, truth, t - truth))
        e = np.array(errs)
        spread = e.max(0) - e.min(0)
        print(f"sync 30 min, ±50 ppm, 10-40 ms jitter, {label}: inter-sensor alignment max "
              f"{spread.max() * 1e3:.2f} ms, 99th pct {np.percentile(spread, 99) * 1e3:.2f} ms; "
              f"map_to_session {t_map / 3:.2f} s per sensor")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bench_write_read(tmp)
        bench_import(tmp)
        bench_kill(tmp)
    bench_sync()
