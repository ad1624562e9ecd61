"""Speed: a 60-minute, 3-sensor, 200 Hz session through fusion, calibration, heading and angles.

The session is a simulated 60 s run (calibration sequence included) followed by
its gait repeated to 60 minutes (the simulator itself is not timed). The pipeline
runs as for a recording (``process_samples``, 10 s slices, events off and on),
in one process; ``taskset -c 0`` pins it to one core.

    taskset -c 0 .venv/bin/python benchmarks/bench_pipeline_speed.py [--minutes 60]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hipmon.pipeline import PipelineConfig, process_samples
from hipmon.simulate import simulate
from hipmon.types import PLACEMENTS, SensorSpec


def long_session(minutes: float, rate_hz: float = 200.0):
    sim = simulate("run", 60.0, 0, mounting="random", rate_hz=rate_hz)
    samples = {}
    for p in PLACEMENTS:
        s = sim.sensors[p]
        n_target = int(minutes * 60 * rate_hz)
        tail = slice(int(20 * rate_hz), len(s.time_session_s))  # steady gait part to repeat
        reps = int(np.ceil((n_target - len(s.time_session_s)) / (tail.stop - tail.start))) + 1
        acc = np.concatenate([s.acc_sensor] + [s.acc_sensor[tail]] * reps)[:n_target]
        gyr = np.concatenate([s.gyr_sensor] + [s.gyr_sensor[tail]] * reps)[:n_target]
        samples[p] = (np.arange(n_target) / rate_hz, acc, gyr, None)
    return samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=200.0, help="sensor rate (Hz)")
    ap.add_argument("--grid", type=float, default=None, help="pipeline grid rate (Hz; default: pipeline default)")
    a = ap.parse_args()
    samples = long_session(a.minutes, a.rate)
    specs = [SensorSpec(p, p, None, a.rate) for p in PLACEMENTS]
    for events in (False, True):
        cfg = PipelineConfig(events=events, rate_hz=a.grid)
        t0 = time.process_time()
        w0 = time.perf_counter()
        r = process_samples(samples, specs, cfg)
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
        print(f"{a.minutes:g} min, 3 sensors at {a.rate:g} Hz, grid {r.frames.time_s.size / (a.minutes * 60):.0f} Hz, "
              f"events {'on ' if events else 'off'}: {cpu:.2f} s CPU ({wall:.2f} s wall), "
              f"{r.frames.valid.mean() * 100:.1f} % valid frames, {len(r.events)} events")


if __name__ == "__main__":
    main()
