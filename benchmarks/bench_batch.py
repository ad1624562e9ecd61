"""``hipmon batch`` scaling: 1 vs 2 local jobs, a Dask LocalCluster vs the process pool, the
cached second run, and each worker's peak memory as sessions go by.

Sessions: ``--sessions`` recorded sessions of ``--minutes`` each (a simulated run, walk or jump
per athlete, the steady part repeated; 3 movesense-gsp sensors at 208 Hz, written as the
firmware's notifications: ``bench_analyze_speed.write_recorded_session``), made once into
``--keep DIR/in`` (not timed). Then, wall time of ``hipmon.batch.run_batch`` (what ``hipmon
batch`` runs), each into its own empty OUT:

1. ``jobs=1`` (in this process); 2. ``jobs=2`` (a spawn process pool, worker start-up included);
3. ``scheduler="local"`` (a ``distributed.LocalCluster`` of 2 worker processes, 1 thread each,
   started and stopped by the batch: its start-up and shut-down included);
4. ``scheduler=<a running LocalCluster>`` ("dask-up": the same cluster started, and its workers
   importing hipmon, before the clock starts: what a batch sent to a running cluster's address
   costs);
5. ``jobs=2`` again over (2)'s OUT, nothing changed (hashes re-used; ``--rehash`` hashes again).

The combined tables of 1-4 are checked equal value for value. Peak RSS per worker: each
session's record carries its worker's ``ru_maxrss`` after it; printed per worker pid in order.

    .venv/bin/python benchmarks/bench_batch.py [--sessions 20] [--minutes 2] [--keep DIR] [--repeat 5] [--cli]

With ``--repeat N`` the three runs are repeated N times, alternately, and the medians compared:
on a shared 2-vCPU machine one run's wall time varies by up to 40 % with the neighbours' load.

``--cli``: each of 1-4 as the command a user types, ``hipmon batch IN OUT --jobs N [--scheduler
ADDRESS] --quiet`` in a new process (its imports and the compiled kernels' load included in every
runner, as on a fresh terminal), wall time from its start to its exit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyze_speed import write_recorded_session  # noqa: E402

from hipmon.batch import KINDS, run_batch  # noqa: E402


def _steal_ticks() -> float:
    """CPU time (s, all vCPUs) the hypervisor gave to others so far (/proc/stat ``steal``; 0 where unknown)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return float(fields[8]) / 100.0  # USER_HZ
    except (OSError, IndexError, ValueError):
        return 0.0


def _spin(n: int) -> float:
    """Pure-Python work (no I/O, no numpy); returns its wall time (s)."""
    w0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i % 7
    return time.perf_counter() - w0


def machine_ceiling(n: int = 12_000_000) -> float:
    """The best speed-up two processes get on this machine now: the same pure-Python work once
    alone, then in two spawned processes at once (2 × alone / together)."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [1000, 1000])  # started and imported
        alone = pool.apply(_spin, (n,))
        w0 = time.perf_counter()
        pool.map(_spin, [n, n])
        together = time.perf_counter() - w0
    return 2 * alone / together


def make_sessions(root: Path, n: int, minutes: float) -> list[Path]:
    kinds = ("run", "walk", "run", "jump")
    out = []
    for i in range(n):
        p = root / f"athlete{i % 10:02d}" / f"session{i:02d}-{kinds[i % len(kinds)]}.hipmon"
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            write_recorded_session(p, minutes, seed=i, kind=kinds[i % len(kinds)], sim_seconds=45.0)
        out.append(p)
    return out


def tables(out: Path) -> dict:
    import pyarrow.parquet as pq

    return {k: pq.read_table(out / f"{k}.parquet") for k in KINDS}


def same(a: dict, b: dict) -> bool:
    for k in a:
        if a[k].column_names != b[k].column_names or a[k].num_rows != b[k].num_rows:
            return False
        for c in a[k].column_names:
            x, y = a[k][c].to_numpy(zero_copy_only=False), b[k][c].to_numpy(zero_copy_only=False)
            if x.dtype.kind == "f":
                if not np.array_equal(x, y, equal_nan=True):
                    return False
            elif list(x) != list(y):
                return False
    return True


def _import_hipmon() -> None:
    import hipmon.batch  # noqa: F401
    from hipmon.jit import warm_up

    warm_up()


def running_cluster(n: int):
    """A LocalCluster as ``scheduler="local"`` makes it (``hipmon.batch.LOCAL_CLUSTER_CONFIG``), up
    and its workers having imported hipmon and loaded its kernels: a cluster already running."""
    import dask
    from distributed import Client, LocalCluster

    from hipmon.batch import LOCAL_CLUSTER_CONFIG

    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    with Client(cluster) as client:
        client.run(_import_hipmon)
    return cluster


def run_cli(src: Path, out: Path, jobs: int, scheduler: str | None) -> tuple[float, float]:
    """Wall time (s) of ``hipmon batch src out --jobs N [--scheduler S] --quiet`` in a new process,
    and the CPU time (s, user + system) of that process and every process it started and waited for
    (its pool's or its LocalCluster's workers)."""
    import resource
    import subprocess

    cmd = [sys.executable, "-m", "hipmon", "batch", str(src), str(out), "--jobs", str(jobs), "--quiet"]
    if scheduler is not None:
        cmd += ["--scheduler", scheduler]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - w0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def rss_by_worker(report) -> str:
    by = defaultdict(list)
    for r in report.records:
        if "pid" in r.info:
            by[r.info["pid"]].append(r.info.get("peak_rss_mb", float("nan")))
    return "; ".join(f"pid {pid}: " + " ".join(f"{v:.0f}" for v in vals) + " MB" for pid, vals in sorted(by.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--skip", nargs="*", default=(), choices=("serial", "pool", "dask", "dask-up", "second"))
    ap.add_argument("--repeat", type=int, default=1, help="rounds of serial, pool and Dask, run alternately; "
                    "medians reported (a shared machine's load varies between runs)")
    ap.add_argument("--cli", action="store_true", help="each runner as the `hipmon batch` command in a new process")
    a = ap.parse_args()
    tmp = Path(a.keep or tempfile.mkdtemp(prefix="hipmon-bench-batch-"))
    src = tmp / "in"
    t0 = time.perf_counter()
    paths = make_sessions(src, a.sessions, a.minutes)
    size = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{len(paths)} sessions of {a.minutes:g} min (3 x movesense-gsp 208 Hz), {size:.0f} MB, ready in "
          f"{time.perf_counter() - t0:.0f} s; load {open('/proc/loadavg').read().split()[:3]}", flush=True)
    runs: dict[str, list[float]] = defaultdict(list)
    outs = {}
    ceilings = []
    for rnd in range(a.repeat):
        ceilings.append(machine_ceiling())
        print(f"[{rnd + 1}/{a.repeat}] this machine's ceiling for 2 processes now (pure-Python work alone vs two "
              f"at once): {ceilings[-1]:.2f}x", flush=True)
        res, cpu = {}, {}
        for name, kw in (("serial", {"jobs": 1}), ("pool", {"jobs": 2}), ("dask", {"jobs": 2, "scheduler": "local"}),
                         ("dask-up", {"jobs": 2})):
            if name in a.skip:
                continue
            out = tmp / f"out-{name}"
            shutil.rmtree(out, ignore_errors=True)
            cluster = running_cluster(2) if name == "dask-up" else None
            st0 = _steal_ticks()
            try:
                if a.cli:
                    sched = cluster.scheduler_address if cluster is not None else kw.get("scheduler")
                    res[name], cpu[name] = run_cli(src, out, kw["jobs"], sched)
                else:
                    w0 = time.perf_counter()
                    rep = run_batch(src, out, **kw, **({"scheduler": cluster} if cluster is not None else {}))
                    res[name] = time.perf_counter() - w0
            finally:
                if cluster is not None:
                    cluster.close()
            runs[name].append(res[name])
            outs[name] = out
            # the vCPU time the host took for other guests meanwhile: the noise of a shared machine, shown
            ncpu = os.cpu_count() or 1
            stolen = f"host steal {100 * (_steal_ticks() - st0) / (ncpu * res[name]):.0f} % of {ncpu} vCPUs"
            if a.cli:
                busy = ("" if name == "dask-up" else  # (the running cluster's workers are not the command's)
                        f"; CPU {cpu[name]:.1f} s with its workers ({100 * cpu[name] / res[name]:.0f} % of one vCPU)")
                print(f"[{rnd + 1}/{a.repeat}] {name:<6} {kw} (hipmon batch, a new process): {res[name]:.1f} s wall"
                      f"{busy}; {stolen}", flush=True)
                continue
            busy = sum(r.info.get("seconds", 0.0) for r in rep.records)
            print(f"[{rnd + 1}/{a.repeat}] {name:<6} {kw}: {res[name]:.1f} s wall ({rep.analysed} analysed, "
                  f"{rep.failed} failed; sum of per-session times {busy:.1f} s; {stolen}); peak RSS after each session, "
                  f"per worker: {rss_by_worker(rep)}", flush=True)
        if "serial" in res and "pool" in res:
            print(f"[{rnd + 1}/{a.repeat}] speed-up 2 jobs vs 1: {res['serial'] / res['pool']:.2f}x", flush=True)
        if "dask" in res and "pool" in res:
            print(f"[{rnd + 1}/{a.repeat}] Dask LocalCluster / process pool: {res['dask'] / res['pool']:.3f}", flush=True)
        if "dask-up" in res and "pool" in res:
            print(f"[{rnd + 1}/{a.repeat}] Dask, cluster running / process pool: {res['dask-up'] / res['pool']:.3f}",
                  flush=True)
    res = {k: float(np.median(v)) for k, v in runs.items()}
    if a.repeat > 1:
        print("median of " + str(a.repeat) + " rounds (run alternately, the machine's load varies between them): "
              + ", ".join(f"{k} {v:.1f} s (range {min(runs[k]):.1f}-{max(runs[k]):.1f})" for k, v in res.items()))
    if "serial" in res and "pool" in res:
        ratios = [x / y for x, y in zip(runs["serial"], runs["pool"])]
        print(f"speed-up 2 jobs vs 1: {res['serial'] / res['pool']:.2f}x of the medians (per round "
              f"{', '.join(f'{r:.2f}' for r in ratios)}) (target >= 1.8x); the machine's own ceiling "
              f"{np.median(ceilings):.2f}x (per round {', '.join(f'{c:.2f}' for c in ceilings)})")
    if "dask" in res and "pool" in res:
        ratios = [x / y for x, y in zip(runs["dask"], runs["pool"])]
        print(f"Dask LocalCluster / process pool: {res['dask'] / res['pool']:.3f} of the medians (per round "
              f"{', '.join(f'{r:.3f}' for r in ratios)}) (target within 10 %)")
    if "dask-up" in res and "pool" in res:
        ratios = [x / y for x, y in zip(runs["dask-up"], runs["pool"])]
        print(f"Dask, cluster running / process pool: {res['dask-up'] / res['pool']:.3f} of the medians (per round "
              f"{', '.join(f'{r:.3f}' for r in ratios)}) (target within 10 %)")
    names = list(outs)
    if len(names) > 1:
        ref = tables(outs[names[0]])
        print("tables identical across " + ", ".join(names) + ": "
              + str(all(same(ref, tables(outs[n])) for n in names[1:])))
    if "second" not in a.skip and "pool" in outs:
        for rehash in (False, True):
            w0 = time.perf_counter()
            rep = run_batch(src, outs["pool"], jobs=2, rehash=rehash)
            t2 = time.perf_counter() - w0
            print(f"second run (jobs 2, unchanged{', files hashed again' if rehash else ''}): {t2:.2f} s, "
                  f"{rep.analysed} analysed, {rep.cached} cached: {t2 / res['pool'] * 100:.2f} % of the first "
                  f"(target < 5 %)", flush=True)


if __name__ == "__main__":
    main()
