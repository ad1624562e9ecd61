"""Throughput of every hipmon.fusion filter, and its share of the 10 s session budget.

Usage (from the repository root):

    .venv/bin/python benchmarks/bench_fusion_speed.py [--seconds 20] [--chunk 10]

The budget (issue 5): a 60-minute, 3-sensor, 200 Hz session (fusion, calibration
and angles) processed in at most 10 s on one core, i.e. 2.16 M sensor samples.
Each filter processes ``--seconds`` of real BROAD motion (trial 07, tiled, run at
a nominal 200 Hz) in one ``update`` call (offline replay) and in ``--chunk``-sample
calls (live: a BLE notification batch); the table gives samples/s and the
projected time for the whole session. VQF runs the full 2.16 M samples; the
pure-Python ahrs filters run ``--seconds`` and are extrapolated (they are linear
in the sample count). Run alone on an idle machine for stable numbers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hipmon.fusion import FILTER_NAMES, make_filter
from hipmon.fusion.evaluation import load_broad_trial

SESSION_SAMPLES = 60 * 60 * 200 * 3  # 60 min, 200 Hz, 3 sensors
RATE = 200.0


def tiled(a: np.ndarray, n: int) -> np.ndarray:
    return np.ascontiguousarray(np.resize(a, (n, a.shape[1])))


def throughput(name: str, acc, gyr, mag, chunk: int | None, repeat: int = 3) -> float:
    """Best-of-``repeat`` samples/s of ``update`` (whole array, or ``chunk``-sample calls)."""
    best = np.inf
    for _ in range(repeat):
        f = make_filter(name, RATE, allow_refused=True)
        t0 = time.perf_counter()
        if chunk is None:
            f.update(acc, gyr, mag)
        else:
            for a in range(0, len(acc), chunk):
                f.update(acc[a:a + chunk], gyr[a:a + chunk], mag[a:a + chunk])
        best = min(best, time.perf_counter() - t0)
    return len(acc) / best


def main() -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=here.parent.parent / "shared" / "data" / "broad")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of 200 Hz data for the ahrs filters")
    ap.add_argument("--chunk", type=int, default=10, help="samples per call in the live (chunked) mode")
    ap.add_argument("--filters", default=",".join(FILTER_NAMES))
    args = ap.parse_args()
    t = load_broad_trial(next(args.data.glob("07_*.hdf5")))
    print("| filter | samples/s (one call) | samples/s (chunks of %d) | 60-min 3-sensor 200 Hz session (one call) "
          "| share of the 10 s budget |" % args.chunk)
    print("|---|---|---|---|---|")
    for name in args.filters.split(","):
        n = SESSION_SAMPLES if name.startswith("vqf") else int(args.seconds * RATE)
        acc, gyr, mag = tiled(t.acc, n), tiled(t.gyr, n), tiled(t.mag, n)
        whole = throughput(name, acc, gyr, mag, None, repeat=3 if n < 1e6 else 2)
        m = min(n, int(args.seconds * RATE) * (10 if name.startswith("vqf") else 1))
        chunked = throughput(name, acc[:m], gyr[:m], mag[:m], args.chunk, repeat=2)
        session = SESSION_SAMPLES / whole
        print(f"| {name} | {whole:,.0f} | {chunked:,.0f} | {session:,.1f} s | {100 * session / 10:,.0f} % |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
