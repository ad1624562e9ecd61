"""hipmon batch (issue 16): sessions under a folder -> Parquet tables; failures listed; the same
tables whoever runs them (in process, a process pool, a Dask LocalCluster); the cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from hipmon.batch import KINDS, BatchSettings, file_hash, find_sessions, run_batch  # noqa: E402
from hipmon.types import PLACEMENTS, ImuBlock, RawNotification  # noqa: E402


def _imported(tmp: Path, out: Path, kind: str, seconds: float, seed: int) -> Path:
    from hipmon.recording.csvio import import_csv_session
    from hipmon.simulate import simulate

    d = simulate(kind, seconds, seed=seed).write_dir(tmp / f"sim-{kind}-{seed}")
    out.parent.mkdir(parents=True, exist_ok=True)
    import_csv_session({p: d / f"{p}.csv" for p in PLACEMENTS}, out, overwrite=True)
    return out


def _recorded(out: Path, seconds: float, seed: int) -> Path:
    """A recorded session (notifications of the hipmon-open codec at 104 Hz), so the decode path runs."""
    from hipmon.profiles import get_profile
    from hipmon.recording import SessionWriter
    from hipmon.simulate import simulate

    rate = 104.0
    sim = simulate("walk", seconds, seed=seed, rate_hz=rate)
    prof = get_profile("hipmon-open")
    origin = 10**12
    notes = []
    for k, p in enumerate(PLACEMENTS):
        s = sim.sensors[p]
        enc = prof.make_encoder(rate)
        n = len(s.time_session_s)
        for i0 in range(0, n, 8):
            i1 = min(n, i0 + 8)
            block = ImuBlock(s.time_session_s[i0:i1] + 3.0 + k, s.acc_sensor[i0:i1], s.gyr_sensor[i0:i1],
                             sample_index=np.arange(i0, i1))
            arrive = origin + int((s.time_session_s[i1 - 1] + 0.02) * 1e9)
            notes += [RawNotification(p, arrive, d) for d in enc.encode(block)]
    notes.sort(key=lambda x: x.host_ns)
    out.parent.mkdir(parents=True, exist_ok=True)
    with SessionWriter(out, origin_ns=origin, background=False) as w:
        for p in PLACEMENTS:
            w.add_sensor(p, p, "hipmon-open", rate)
        w.write_many(notes)
    return out


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("batch")
    root = tmp / "in"
    _imported(tmp, root / "athlete1" / "walk.hipmon", "walk", 20, 1)
    _imported(tmp, root / "athlete2" / "run.hipmon", "run", 20, 2)
    _recorded(root / "athlete2" / "recorded.hipmon", 20, 3)
    (root / "athlete1" / "broken.hipmon").write_bytes(b"this is not a recording\n")
    return root


def _tables(out: Path) -> dict[str, pa.Table]:
    return {k: pq.read_table(out / f"{k}.parquet") for k in KINDS + ("failures",)}


def _assert_same(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> None:
    for kind in a:
        ta, tb = a[kind], b[kind]
        assert ta.column_names == tb.column_names and ta.num_rows == tb.num_rows, kind
        for c in ta.column_names:
            if c == "path":
                continue
            x, y = ta[c].to_numpy(zero_copy_only=False), tb[c].to_numpy(zero_copy_only=False)
            if x.dtype.kind == "f":
                np.testing.assert_array_equal(x, y, err_msg=f"{kind}.{c}")  # bit for bit (NaN == NaN)
            else:
                assert list(x) == list(y), f"{kind}.{c}"


def test_find_sessions_and_hash(sessions, tmp_path):
    found = [p.relative_to(sessions).as_posix() for p in find_sessions(sessions)]
    assert found == ["athlete1/broken.hipmon", "athlete1/walk.hipmon", "athlete2/recorded.hipmon", "athlete2/run.hipmon"]
    f = tmp_path / "x.hipmon"
    f.write_bytes(b"abc")
    h = file_hash(f)
    (tmp_path / "x.hipmon-wal").write_bytes(b"d")
    assert file_hash(f) != h  # the WAL is part of the session's content


def test_tables_failure_identical_runners_and_cache(sessions, tmp_path):
    seen = []
    r1 = run_batch(sessions, tmp_path / "o1", jobs=1, progress=lambda d, n, rec: seen.append((d, n, rec.status)))
    assert [s[0] for s in seen] == [1, 2, 3, 4] and all(s[1] == 4 for s in seen)
    assert r1.analysed == 4 and r1.failed == 1 and r1.ok == 3
    t1 = _tables(tmp_path / "o1")
    # a failure is listed with its reason, never fatal
    fail = t1["failures"].to_pylist()
    assert [f["session"] for f in fail] == ["athlete1/broken.hipmon"] and "not a hipmon recording" in fail[0]["error"]
    # every good session in every table it has rows for, in path order
    assert sorted(set(t1["angles"]["session"].to_pylist())) == ["athlete1/walk.hipmon", "athlete2/recorded.hipmon",
                                                               "athlete2/run.hipmon"]
    assert t1["events"].num_rows > 10 and t1["summary"].num_rows > 0 and t1["calibration"].num_rows == 9
    sess = pq.read_table(tmp_path / "o1" / "sessions.parquet").to_pylist()
    assert [s["status"] for s in sess] == ["failed", "ok", "ok", "ok"]
    for s in sess[1:]:
        assert s["calibrated"] and s["valid_fraction"] > 0.5
        per = pq.read_table(tmp_path / "o1" / "sessions" / s["key"] / "angles.parquet")
        assert per.num_rows == s["frames"]
    # the angles are the pipeline's, unchanged
    from hipmon.pipeline import process_session

    res = process_session(sessions / "athlete1" / "walk.hipmon")
    walk = t1["angles"].filter(pa.compute.equal(t1["angles"]["session"], "athlete1/walk.hipmon"))
    np.testing.assert_array_equal(walk["hip_adduction_left_deg"].to_numpy(), res.frames.angles_deg[:, 4])
    assert len(res.events) == t1["events"].filter(pa.compute.equal(t1["events"]["session"],
                                                                   "athlete1/walk.hipmon")).num_rows

    # the same tables from a process pool of 2 and from a Dask cluster of 2 workers
    r2 = run_batch(sessions, tmp_path / "o2", jobs=2)
    assert r2.analysed == 4 and r2.failed == 1
    _assert_same(t1, _tables(tmp_path / "o2"))
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        r3 = run_batch(sessions, tmp_path / "o3", scheduler=client)
    assert r3.analysed == 4 and r3.failed == 1
    _assert_same(t1, _tables(tmp_path / "o3"))

    # a second run touches nothing: no analysis, no file rewritten but the listing
    out = tmp_path / "o1"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet") if p.name != "sessions.parquet"
              and p.name != "failures.parquet"}
    r4 = run_batch(sessions, out, jobs=2)
    assert r4.analysed == 0 and r4.cached == 4 and not r4.combined_rebuilt
    assert {p: p.stat().st_mtime_ns for p in before} == before
    _assert_same(t1, _tables(out))
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["status"] for s in manifest["sessions"]] == ["cached-failed", "cached", "cached", "cached"]

    # a changed session re-runs alone; the combined tables follow
    _imported(tmp_path, sessions / "athlete2" / "run.hipmon", "run", 20, 7)
    try:
        r5 = run_batch(sessions, out, jobs=1)
        assert [r.status for r in r5.records] == ["cached-failed", "cached", "cached", "ok"] and r5.combined_rebuilt
        # a changed setting re-runs every session (a new key)
        r6 = run_batch(sessions, out, BatchSettings(rate_hz=50.0), jobs=2)
        assert r6.analysed == 4 and r6.cached == 0
        grid = pq.read_table(out / "angles.parquet")["time_s"].to_numpy()[:3]
        assert np.allclose(np.diff(grid), 0.02)
    finally:
        _imported(tmp_path, sessions / "athlete2" / "run.hipmon", "run", 20, 2)


def test_cli(sessions, tmp_path, capsys):
    from hipmon.cli import main

    bad = tmp_path / "rules.toml"
    bad.write_text("[rules.x]\nmetrc = 'peak_pelvic_drop_deg'\n")
    assert main(["batch", str(sessions), str(tmp_path / "o"), "--rules", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rules.toml" in err[0]
    assert main(["batch", str(tmp_path / "nothing"), str(tmp_path / "o")]) == 2
    only = tmp_path / "one"
    only.mkdir()
    (only / "broken.hipmon").write_bytes(b"x")
    assert main(["batch", str(only), str(tmp_path / "o"), "--jobs", "1"]) == 1  # a failure: status 1, tables written
    err = capsys.readouterr().err
    assert "[1/1] failed" in err and "failed: broken.hipmon" in err
    assert pq.read_table(tmp_path / "o" / "failures.parquet").num_rows == 1
    assert pq.read_table(tmp_path / "o" / "angles.parquet").num_rows == 0


def _count_starts(monkeypatch, module, name: str) -> list:
    """Replace ``module.<name>`` (a class taking one count) by a subclass that records each start's count."""
    started: list = []
    real = getattr(module, name)

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, n):
            started.append(n)
            super().__init__(n)

    monkeypatch.setattr(module, name, Counting)
    return started


def _new_processes():
    """A function listing this process's descendants started since now and still running
    (multiprocessing's resource tracker, one per process, aside)."""
    import psutil

    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    return lambda: [p for p in me.children(recursive=True) if p.pid not in before and p.is_running()
                    and p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline())]


def test_local_cluster_started_while_hashing_and_closed(sessions, tmp_path, monkeypatch):
    """``scheduler="local"``: a ``LocalCluster`` started (in a thread, while the files are hashed)
    and closed by the batch: the same tables as in process, no worker process left behind; a
    second run over unchanged files starts no cluster at all."""
    import multiprocessing as mp

    from hipmon import batch

    ref = run_batch(sessions, tmp_path / "serial", jobs=1)
    started = _count_starts(monkeypatch, batch, "_LocalCluster")
    left = _new_processes()
    r = run_batch(sessions, tmp_path / "local", jobs=2, scheduler="local")
    assert started == [2] and r.analysed == ref.analysed == 4 and r.failed == 1
    _assert_same(_tables(tmp_path / "serial"), _tables(tmp_path / "local"))
    assert left() == [], f"worker processes left running: {[(p, p.cmdline()) for p in left()]}"
    r2 = run_batch(sessions, tmp_path / "local", jobs=2, scheduler="local")
    assert started == [2] and r2.analysed == 0 and r2.cached == 4  # nothing new: no cluster
    assert mp.active_children() == []


def test_process_pool_started_for_two_sessions_and_closed(sessions, tmp_path, monkeypatch):
    """``jobs=2``: a pool worker (loading hipmon's kernels as it starts) only when two or more
    files are new or changed; it is closed by the batch, also when their hashes then show nothing
    to do (files touched, their content unchanged); no process left behind."""
    import os

    from hipmon import batch

    started = _count_starts(monkeypatch, batch, "_Pool")
    left = _new_processes()
    out = tmp_path / "pool"
    r = run_batch(sessions, out, jobs=2)
    assert started == [1] and r.analysed == 4 and r.failed == 1 and left() == []
    r2 = run_batch(sessions, out, jobs=2)  # unchanged files: no pool
    assert started == [1] and r2.analysed == 0 and r2.cached == 4
    touched = [sessions / "athlete1" / "walk.hipmon", sessions / "athlete2" / "run.hipmon"]
    stats = [t.stat() for t in touched]
    for t, st in zip(touched, stats):
        os.utime(t, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a new mtime, the same bytes
    try:
        r3 = run_batch(sessions, out, jobs=2)  # hashed by the workers: the same keys, their results used
        assert started == [1, 1] and r3.analysed == 0 and r3.cached == 4 and left() == []
        os.utime(touched[0], ns=(stats[0].st_atime_ns, stats[0].st_mtime_ns + 2 * 10**9))
        r3 = run_batch(sessions, out, jobs=2)  # one file to look at: this process alone, no pool
        assert started == [1, 1] and r3.analysed == 0 and r3.cached == 4
    finally:
        for t, st in zip(touched, stats):
            os.utime(t, ns=(st.st_atime_ns, st.st_mtime_ns))
    touched = touched[0]
    # a copy under another name: hashed by a worker, found analysed already, listed with its hash
    copy = sessions / "athlete3" / "copy.hipmon"
    copy.parent.mkdir()
    try:
        shutil.copyfile(touched, copy)
        r4 = run_batch(sessions, out, jobs=2)
        recs = {r.session: r for r in r4.records}
        assert r4.analysed == 0 and recs["athlete3/copy.hipmon"].status == "cached"
        assert recs["athlete3/copy.hipmon"].key == recs["athlete1/walk.hipmon"].key
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["hashes"]["athlete3/copy.hipmon"]["hash"] == file_hash(touched)
        angles = pq.read_table(out / "angles.parquet")
        assert angles.filter(pa.compute.equal(angles["session"], "athlete3/copy.hipmon")).num_rows == \
            angles.filter(pa.compute.equal(angles["session"], "athlete1/walk.hipmon")).num_rows > 0
    finally:
        shutil.rmtree(copy.parent)


def test_a_file_gone_before_its_worker_hashes_it(tmp_path):
    """A file deleted between the listing and its worker's hashing: a failure that says so, not cached."""
    from hipmon.batch import run_new

    rec = run_new(str(tmp_path / "gone.hipmon"), BatchSettings(), str(tmp_path / "out"))
    assert rec["status"] == "failed" and rec["unreadable"] and rec["error"].startswith("cannot read")
    assert not (tmp_path / "out" / "sessions").exists()


def test_a_pool_broken_before_its_first_session_leaves_them_to_this_process(sessions, tmp_path, monkeypatch):
    """The worker killed while it loads its kernels (out of memory, a signal): no session is lost
    with it; this process analyses them all, with the same tables as ``jobs=1``."""
    import os
    import signal
    import time

    from hipmon import batch

    real = batch._Pool

    class Dying(real):  # type: ignore[misc, valid-type]
        def __init__(self, n):
            super().__init__(n)
            time.sleep(0.3)
            for p in list(self.pool._processes.values()):
                os.kill(p.pid, signal.SIGKILL)

    ref = run_batch(sessions, tmp_path / "serial", jobs=1)
    monkeypatch.setattr(batch, "_Pool", Dying)
    r = run_batch(sessions, tmp_path / "broken", jobs=2)
    # at most the one session handed to the worker before its death was known is lost with it (a
    # transient failure: not cached); every other one is analysed here
    lost = [x.session for x in r.records if x.status == "failed" and x.error.startswith("worker failed")]
    assert len(lost) <= 1 and r.analysed == 4 - len(lost)
    assert [x.status for x in r.records if x.session not in lost] == [x.status for x in ref.records
                                                                      if x.session not in lost]
    monkeypatch.setattr(batch, "_Pool", real)
    again = run_batch(sessions, tmp_path / "broken", jobs=1)  # the next run analyses what was lost
    assert again.analysed == len(lost) and [x.status for x in again.records if x.session in lost] == ["ok"] * len(lost)
    _assert_same(_tables(tmp_path / "serial"), _tables(tmp_path / "broken"))


def test_identical_new_files_on_a_threaded_dask_worker(sessions, tmp_path):
    """Copies of one session (one key) analysed at once by a Dask worker's threads: each writes
    its folder's files under a temporary name of its own thread; every copy ok, one key."""
    from distributed import Client, LocalCluster

    src = tmp_path / "copies"
    src.mkdir()
    for i in range(4):
        shutil.copyfile(sessions / "athlete1" / "walk.hipmon", src / f"c{i}.hipmon")
    with LocalCluster(n_workers=1, threads_per_worker=4, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        r = run_batch(src, tmp_path / "out", scheduler=client)
    # each copy analysed, or found analysed by a copy that finished first: none lost to a write race
    assert {x.status for x in r.records} <= {"ok", "cached"} and "ok" in {x.status for x in r.records}
    assert len({x.key for x in r.records}) == 1 and r.failed == 0
    assert not list((tmp_path / "out" / "sessions").rglob(".*tmp*"))
    angles = pq.read_table(tmp_path / "out" / "angles.parquet")
    assert sorted(set(angles["session"].to_pylist())) == [f"c{i}.hipmon" for i in range(4)]
