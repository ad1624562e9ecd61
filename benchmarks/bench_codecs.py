"""Decode throughput per codec (batch path ``Decoder.feed_many``), samples per second.

Usage: .venv/bin/python benchmarks/bench_codecs.py [--samples N] [--repeats R]
Notifications are produced by each profile's own encoder from random-walk motion
(so Polar's delta frames have realistic widths), then decoded by a fresh decoder.
The best of R runs is reported. Results go in docs/benchmarks.md ("Codec throughput").
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from hipmon.profiles import load_profiles
from hipmon.types import ImuBlock


def make_block(n: int, rate: float, mag: bool) -> ImuBlock:
    rng = np.random.default_rng(0)
    t = 1e6 + np.arange(n) / rate
    acc = np.clip(np.cumsum(rng.normal(0, 0.4, (n, 3)), 0), -60, 60)
    gyr = np.clip(np.cumsum(rng.normal(0, 0.05, (n, 3)), 0), -20, 20)
    m = np.clip(30 + np.cumsum(rng.normal(0, 0.5, (n, 3)), 0), -1000, 1000) if mag else None
    return ImuBlock(t, acc, gyr, m)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"{'profile':20} {'rate':>5} {'notifs':>8} {'samples':>8} {'best s':>8} {'samples/s':>12}")
    for name, p in load_profiles().items():
        rate = p.default_rate_hz
        enc = p.make_encoder(rate)
        block = make_block(args.samples, rate, "mag" in p.channels)
        pkts = enc.encode(block) + (enc.flush() if hasattr(enc, "flush") else [])
        host = np.arange(len(pkts), dtype=np.int64) * 1000
        best = np.inf
        for _ in range(args.repeats):
            dec = p.make_decoder(rate)
            t0 = time.perf_counter()
            out = dec.feed_many(pkts, host)
            best = min(best, time.perf_counter() - t0)
            assert dec.stats.errors == 0, dec.last_errors[:3]
        print(f"{name:20} {rate:5.0f} {len(pkts):8d} {len(out):8d} {best:8.3f} {len(out) / best:12,.0f}")


if __name__ == "__main__":
    main()
