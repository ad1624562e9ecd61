"""Many sessions analysed into tidy Parquet tables (``hipmon batch IN OUT``): the orchestration.

What it does, in order:

1. ``find_sessions(IN)``: every ``*.hipmon`` under ``IN`` (sorted by relative path; ``OUT``
   and hidden folders skipped).
2. Each file's ``file_hash`` (SHA-256 of the file and its ``-wal`` if present, streamed in
   1 MiB blocks) and its ``cache_key`` = SHA-256 of that hash + ``BatchSettings.fingerprint()``
   (the pipeline settings, the rules file's text, the hipmon version and ``TABLES_VERSION``).
   While a file's size and mtime (and its ``-wal``'s) are those in the manifest, the manifest's
   hash is used (``rehash``: hashed again, here); a new or changed file is hashed by the worker
   that then analyses it (``run_new``), so that hashing runs in parallel with everything else.
3. A session whose key has a complete result under ``OUT/sessions/<key>/`` (its ``meta.json``,
   written last) is not touched (nor is a new file whose bytes were analysed before under
   another name); every other one goes to ``run_one(path, settings, out, key)`` (by way of
   ``run_new``): the one worker function, the same for the local process pool (``jobs``) and
   for a Dask cluster (``scheduler``). It runs ``hipmon.pipeline.process_session`` (as ``hipmon analyze``),
   builds the per-session tables (``session_tables``) and writes them atomically as
   ``OUT/sessions/<key>/<kind>.parquet``; it returns only a small record (status, counts,
   seconds, peak RSS), never the arrays, so the parent's memory does not grow with the batch.
   A failure (unreadable file, an exception in the analysis, a dead worker) is a record with
   its reason, never fatal to the batch; deterministic failures are cached like results
   (``retry_failed`` re-runs them).
4. The combined tables ``OUT/<kind>.parquet`` (one per kind, with ``session`` = the path
   relative to ``IN`` and ``key`` columns), written one session at a time (a Parquet row group
   each, the next session read meanwhile: memory stays that of two sessions), plus ``OUT/sessions.parquet`` (one row per
   session: status, counts, calibration), ``OUT/failures.parquet`` (session, reason) and
   ``OUT/manifest.json``. They are rebuilt only when the list of (session, key, status) changed.

Kinds (``KINDS``): ``angles`` (time_s, valid, the nine ``ANGLE_COLUMNS``, per-sensor
validity), ``events`` (kind, side, start/end, alert, every registered metric and event field;
unregistered ``extra`` keys as JSON), ``alerts``, ``summary`` (tidy: one row per event kind,
side and summary metric: count, mean, sd, n, trend), ``calibration`` (one row per placement:
mounting quaternion, windows, quality, trusted, reasons).

Same results whoever runs them: the work for one session is this module's ``run_one`` with the
same inputs, and the tables hold only what ``process_session`` computed (tested bit-for-bit
across ``jobs=1``, ``jobs=2`` and a Dask ``LocalCluster`` in ``tests/test_batch.py``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import resource
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

#: bump when the tables' columns or meanings change (part of every cache key)
TABLES_VERSION = 1
#: the per-session tables, in writing order
KINDS: tuple[str, ...] = ("angles", "events", "alerts", "summary", "calibration")
SESSION_SUFFIX = ".hipmon"
MANIFEST = "manifest.json"

__all__ = [
    "BatchSettings",
    "BatchReport",
    "SessionRecord",
    "KINDS",
    "find_sessions",
    "file_hash",
    "run_batch",
    "run_new",
    "run_one",
    "session_tables",
]


# ---------------------------------------------------------------- settings and keys


@dataclass(frozen=True)
class BatchSettings:
    """The pipeline settings of a batch (plain values: they travel to workers and into the cache key).

    ``rules_text``: the rules TOML's text (None: the shipped rules), parsed in the worker, so a
    cluster's workers need no access to the file; ``rules_source``: its name, for messages."""

    rate_hz: float | None = None
    filter: str = "vqf"
    use_mag: bool = False
    rules_text: str | None = None
    rules_source: str | None = None

    @classmethod
    def from_rules_file(cls, path: str | os.PathLike[str] | None, **kw: Any) -> "BatchSettings":
        """Settings with the rules read (and checked: ``hipmon.alerts.RulesError``) from ``path``."""
        if path is None:
            return cls(**kw)
        text = Path(path).read_text(encoding="utf-8")
        s = cls(rules_text=text, rules_source=str(path), **kw)
        s.rules()  # a malformed file fails here, once, not in every worker
        return s

    def rules(self) -> Any:
        if self.rules_text is None:
            return None
        import tomllib

        from hipmon.alerts import RulesError, parse_rules

        try:
            data = tomllib.loads(self.rules_text)
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(f"{self.rules_source}: not valid TOML: {exc}") from None
        return parse_rules(data, self.rules_source or "<rules>", self.rules_text)

    def config(self) -> Any:
        """The ``hipmon.pipeline.PipelineConfig`` (as ``hipmon analyze`` builds it from the same options)."""
        from hipmon.pipeline import PipelineConfig

        cfg = PipelineConfig(rate_hz=self.rate_hz, filter=self.filter, use_mag=bool(self.use_mag))
        cfg.alert_rules = self.rules()
        return cfg

    def fingerprint(self) -> str:
        """SHA-256 of everything besides the file that decides the tables."""
        from hipmon import __version__

        d = {"rate_hz": self.rate_hz, "filter": self.filter, "use_mag": bool(self.use_mag),
             "rules_sha256": None if self.rules_text is None else hashlib.sha256(self.rules_text.encode()).hexdigest(),
             "hipmon": __version__, "tables": TABLES_VERSION}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def find_sessions(root: str | os.PathLike[str], exclude: Sequence[str | os.PathLike[str]] = ()) -> list[Path]:
    """Every ``*.hipmon`` file under ``root`` (or ``root`` itself), sorted by relative path;
    folders in ``exclude`` (e.g. the output) and hidden folders are skipped."""
    root = Path(root)
    if root.is_file():
        return [root]
    skip = {Path(e).resolve() for e in exclude}
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".") and (d / n).resolve() not in skip)
        found += [d / f for f in filenames if f.endswith(SESSION_SUFFIX) and not f.startswith(".")]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _stat_sig(path: Path) -> list[int]:
    """(size, mtime_ns) of the file and of its -wal (0, 0 when absent)."""
    out = []
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            st = p.stat()
            out += [st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            out += [0, 0]
    return out


def file_hash(path: str | os.PathLike[str], block: int = 1 << 20) -> str:
    """SHA-256 (hex) of the session file followed by its ``-wal`` when there is one, streamed.
    ``OSError`` (``FileNotFoundError``...) when the session file itself cannot be read."""
    path = Path(path)
    h = hashlib.sha256()
    for p in (path, path.with_name(path.name + "-wal")):
        if p is not path and not p.exists():
            continue
        h.update(p.name.endswith("-wal") and b"\0wal\0" or b"")
        with open(p, "rb") as f:
            while chunk := f.read(block):
                h.update(chunk)
    return h.hexdigest()


def cache_key(digest: str, settings: BatchSettings) -> str:
    return hashlib.sha256(f"{digest}:{settings.fingerprint()}".encode()).hexdigest()[:32]


# ---------------------------------------------------------------- one session -> tables


def _peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / 1024.0 / 1024.0


def _f(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def session_tables(result: Any) -> dict[str, Any]:
    """The per-session ``pyarrow.Table`` of each kind (``KINDS``) from a ``SessionResult``."""
    import numpy as np
    import pyarrow as pa

    from hipmon.metric_registry import EVENT_FIELDS, METRICS
    from hipmon.metrics import summarize_events
    from hipmon.types import ANGLE_COLUMNS, PLACEMENTS

    fr = result.frames
    cols: dict[str, Any] = {"time_s": pa.array(np.asarray(fr.time_s, dtype=np.float64)),
                            "valid": pa.array(np.asarray(fr.valid, dtype=bool))}
    ang = np.asarray(fr.angles_deg, dtype=np.float64).reshape(len(fr.time_s), len(ANGLE_COLUMNS))
    for i, c in enumerate(ANGLE_COLUMNS):
        cols[c] = pa.array(ang[:, i])
    for p in PLACEMENTS:
        v = (fr.valid_sensor or {}).get(p)
        cols[f"valid_{p}"] = pa.array(np.zeros(len(fr.time_s), bool) if v is None or len(v) != len(fr.time_s)
                                      else np.asarray(v, dtype=bool))
    tables = {"angles": pa.table(cols)}

    metric_names = list(METRICS)
    field_names = [k for k in EVENT_FIELDS if k not in METRICS]
    in_extra = {m for m in metric_names if METRICS[m].storage != "field"} | set(field_names)  # own columns
    events = sorted(result.events, key=lambda e: (e.start_s, e.kind, e.side))
    nan = math.nan
    ev_rows: dict[str, list] = {"kind": [e.kind for e in events], "side": [e.side for e in events],
                                "start_s": [_f(e.start_s) for e in events], "end_s": [_f(e.end_s) for e in events],
                                "alert": [e.alert or "" for e in events]}
    for m in metric_names + field_names:
        ev_rows[m] = ([_f(getattr(e, m)) for e in events] if m not in in_extra
                      else [_f(e.extra.get(m, nan)) for e in events])
    rest = ({k: v for k, v in e.extra.items() if k not in in_extra} for e in events)  # unregistered keys
    ev_rows["extra_json"] = [json.dumps(r, sort_keys=True) if r else "" for r in rest]
    ev_schema = pa.schema([(k, pa.string()) for k in ("kind", "side")] + [("start_s", pa.float64()),
                          ("end_s", pa.float64()), ("alert", pa.string())]
                          + [(k, pa.float64()) for k in metric_names + field_names] + [("extra_json", pa.string())])
    tables["events"] = pa.table(ev_rows, schema=ev_schema)

    al: dict[str, list] = {k: [] for k in ("rule", "side", "time_s", "kind", "event_kind", "event_start_s", "values_json")}
    for a in result.alerts:
        al["rule"].append(str(a.rule))
        al["side"].append(str(a.side))
        al["time_s"].append(_f(a.time_s))
        al["kind"].append(str(a.kind))
        al["event_kind"].append("" if a.event is None else a.event.kind)
        al["event_start_s"].append(math.nan if a.event is None else _f(a.event.start_s))
        vals = {k: (v if isinstance(v, (int, float)) and math.isfinite(v) else None) for k, v in (a.values or {}).items()}
        al["values_json"].append(json.dumps(vals, sort_keys=True))
    tables["alerts"] = pa.table(al, schema=pa.schema([("rule", pa.string()), ("side", pa.string()),
                                                     ("time_s", pa.float64()), ("kind", pa.string()),
                                                     ("event_kind", pa.string()), ("event_start_s", pa.float64()),
                                                     ("values_json", pa.string())]))

    summary = summarize_events(result.events, result.alerts)
    sm: dict[str, list] = {k: [] for k in ("event_kind", "side", "metric", "count", "events_in_alert", "mean_duration_s",
                                           "mean", "sd", "n", "slope_per_min", "slope_ci95_low", "slope_ci95_high",
                                           "trend_significant", "asymmetry_left_minus_right")}
    for kind, block in summary["kinds"].items():
        asym = block.get("asymmetry_left_minus_right") or {}
        for side, b in block["sides"].items():
            for metric, st in b.items():
                if not isinstance(st, dict):
                    continue
                tr = st.get("trend") or {}
                ci = tr.get("ci95") or [None, None]
                sm["event_kind"].append(kind)
                sm["side"].append(side)
                sm["metric"].append(metric)
                sm["count"].append(int(b["count"]))
                sm["events_in_alert"].append(int(b.get("alerts", 0)))
                sm["mean_duration_s"].append(_f(b.get("duration_s")))
                sm["mean"].append(_f(st.get("mean")))
                sm["sd"].append(_f(st.get("sd")))
                sm["n"].append(int(st.get("n") or 0))
                sm["slope_per_min"].append(_f(tr.get("slope_per_min")))
                sm["slope_ci95_low"].append(_f(ci[0]))
                sm["slope_ci95_high"].append(_f(ci[1]))
                sm["trend_significant"].append(bool(tr.get("significant")))
                sm["asymmetry_left_minus_right"].append(_f(asym.get(metric)))
    tables["summary"] = pa.table(sm, schema=pa.schema(
        [("event_kind", pa.string()), ("side", pa.string()), ("metric", pa.string()), ("count", pa.int64()),
         ("events_in_alert", pa.int64()), ("mean_duration_s", pa.float64()), ("mean", pa.float64()),
         ("sd", pa.float64()), ("n", pa.int64()), ("slope_per_min", pa.float64()), ("slope_ci95_low", pa.float64()),
         ("slope_ci95_high", pa.float64()), ("trend_significant", pa.bool_()),
         ("asymmetry_left_minus_right", pa.float64())]))

    cal = result.calibration
    cr: dict[str, list] = {k: [] for k in ("placement", "qw", "qx", "qy", "qz", "standing_start_s", "standing_end_s",
                                           "movement_start_s", "movement_end_s", "quality", "trusted", "reasons",
                                           "second_pass")}
    if cal is not None:
        for p, q in cal.q_sensor_segment.items():
            q = [float(x) for x in q]
            for k, v in zip(("qw", "qx", "qy", "qz"), q):
                cr[k].append(v)
            cr["placement"].append(p)
            cr["standing_start_s"].append(_f(cal.standing_s[0]))
            cr["standing_end_s"].append(_f(cal.standing_s[1]))
            cr["movement_start_s"].append(_f(cal.movement_s[0]))
            cr["movement_end_s"].append(_f(cal.movement_s[1]))
            cr["quality"].append(_f(cal.quality))
            cr["trusted"].append(bool(cal.trusted))
            cr["reasons"].append("; ".join(cal.reasons))
            cr["second_pass"].append(bool(result.second_pass))
    tables["calibration"] = pa.table(cr, schema=pa.schema(
        [("placement", pa.string())] + [(k, pa.float64()) for k in ("qw", "qx", "qy", "qz", "standing_start_s",
                                                                      "standing_end_s", "movement_start_s",
                                                                      "movement_end_s", "quality")]
        + [("trusted", pa.bool_()), ("reasons", pa.string()), ("second_pass", pa.bool_())]))
    return tables


def _session_facts(result: Any) -> dict[str, Any]:
    fr = result.frames
    t = fr.time_s
    cal = result.calibration
    return {"duration_s": float(t[-1] - t[0]) if len(t) else 0.0, "frames": int(len(t)),
            "valid_fraction": float(fr.valid.mean()) if len(t) else 0.0, "events": len(result.events),
            "alerts": len(result.alerts), "gaps": len(result.gaps), "calibrated": cal is not None,
            "calibration_quality": None if cal is None else float(cal.quality),
            "calibration_trusted": None if cal is None else bool(cal.trusted),
            "second_pass": bool(result.second_pass), "events_error": result.events_error}


def _parquet_options(schema: Any) -> dict[str, Any]:
    """How the tables are written: snappy (Parquet's common default, read by every Parquet reader;
    on the angles of 20 ten-minute sessions it wrote in 0.20 s and read back in 0.15 s where zstd took
    0.35 s and 0.6-0.8 s, for files 8 % larger: the combined tables are read back and written once
    more at the end of every batch), dictionary encoding for the text columns only (the float
    columns never repeat: trying a dictionary on them made writing 4x slower and the files larger)."""
    import pyarrow as pa

    return {"compression": "snappy",
            "use_dictionary": [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]}


def _tmp_beside(path: Path) -> Path:
    """A temporary name next to ``path``, its own to this process and thread (a Dask worker runs
    tasks in several threads: two sessions with the same bytes write the same folder at once)."""
    import threading

    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")


def _write_parquet_atomic(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    tmp = _tmp_beside(path)
    try:
        pq.write_table(table, tmp, **_parquet_options(table.schema))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_json_atomic(obj: Any, path: Path) -> None:
    tmp = _tmp_beside(path)
    try:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, allow_nan=True), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def run_one(path: str, settings: BatchSettings, out_dir: str, key: str) -> dict[str, Any]:
    """The worker function (process pool and Dask alike): analyse ``path`` with ``settings``,
    write its tables under ``out_dir/sessions/<key>/`` (``meta.json`` last), return a small
    record. Never raises for a bad session: the record says ``failed`` and why."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    d = Path(out_dir) / "sessions" / key
    rec: dict[str, Any] = {"key": key, "path": str(path), "status": "ok", "error": None}
    try:
        from hipmon.pipeline import process_session

        config = settings.config()
        result = process_session(path, config, keep="angles")  # the tables need angles and validity only
        tables = session_tables(result)
        facts = _session_facts(result)
        del result
        d.mkdir(parents=True, exist_ok=True)
        for kind in KINDS:
            _write_parquet_atomic(tables[kind], d / f"{kind}.parquet")
        rec.update(facts)
    except Exception as exc:  # noqa: BLE001 - one bad session never stops the batch
        rec["status"] = "failed"
        rec["error"] = " ".join(f"{type(exc).__name__}: {exc}".split())
    rec["seconds"] = time.perf_counter() - t0
    rec["cpu_s"] = time.process_time() - c0
    rec["peak_rss_mb"] = _peak_rss_mb()
    rec["pid"] = os.getpid()
    d.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(rec, d / "meta.json")
    return rec


def run_new(path: str, settings: BatchSettings, out_dir: str, force: bool = False, retry_failed: bool = False,
            digest: str | None = None) -> dict[str, Any]:
    """The worker function (pool and Dask alike) for a session the batch must look at: hash it
    (``file_hash``; unless ``digest`` is given), then, unless ``out_dir`` holds a result for its
    key that may be used again (``_reusable_meta``: the same bytes seen before under another name
    or mtime), ``run_one``. The record has ``hash`` and ``key``; ``cached`` (the earlier meta)
    when nothing was run; ``unreadable`` when the file could not be read; ``sig``, the file's
    (size, mtime) just before it was hashed (what the manifest keeps with the hash)."""
    sig = None
    if digest is None:
        try:
            sig = _stat_sig(Path(path))
            digest = file_hash(path)
        except OSError as exc:
            return {"status": "failed", "error": f"cannot read: {exc.strerror or exc}", "unreadable": True,
                    "hash": "", "key": ""}
    key = cache_key(digest, settings)
    meta = _reusable_meta(Path(out_dir), key, force, retry_failed)
    if meta is not None:
        return {"hash": digest, "key": key, "cached": meta, "sig": sig}
    return {**run_one(path, settings, out_dir, key), "hash": digest, "sig": sig}


# ---------------------------------------------------------------- the batch


@dataclass
class SessionRecord:
    """One session of a batch: where it is, its key, and what became of it."""

    session: str  # path relative to IN (posix)
    path: str
    hash: str
    key: str
    status: str  # ok | failed | cached | cached-failed
    error: str | None = None
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchReport:
    records: list[SessionRecord]
    seconds: float
    analysed: int
    cached: int
    failed: int
    combined_rebuilt: bool
    out: Path

    @property
    def ok(self) -> int:
        return sum(1 for r in self.records if r.status in ("ok", "cached"))


Progress = Callable[[int, int, SessionRecord], None]


def _load_manifest(out: Path) -> dict[str, Any]:
    try:
        return json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _reusable_meta(out: Path, key: str, force: bool, retry_failed: bool) -> dict[str, Any] | None:
    """The complete result under ``key`` that this batch uses instead of analysing again, or None:
    none with ``force``; a failure only if it was the session's own (not ``transient``) and not
    ``retry_failed``."""
    meta = None if force else _cached_meta(out, key)
    if meta is not None and meta.get("status") == "failed" and (retry_failed or meta.get("transient")):
        return None
    return meta


def _mark_cached(rec: SessionRecord, meta: dict[str, Any]) -> None:
    rec.status = "cached" if meta.get("status") == "ok" else "cached-failed"
    rec.error = meta.get("error")
    rec.info = {k: v for k, v in meta.items() if k not in ("path", "key", "status", "error")}


def _cached_meta(out: Path, key: str) -> dict[str, Any] | None:
    try:
        meta = json.loads((out / "sessions" / key / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("status") == "ok" and not all((out / "sessions" / key / f"{k}.parquet").exists() for k in KINDS):
        return None
    return meta


def _execute(tasks: list[tuple[SessionRecord, tuple]], jobs: int, scheduler: Any,
             done: Callable[[SessionRecord, dict], None]) -> None:
    """Run ``run_new(*args)`` for every task: in this process (jobs 1), a process pool (its workers
    started, loading hipmon's kernels, before this process analyses its first session), or Dask.
    A session lost with a dying worker is a transient failure; those not yet handed to a broken
    pool run here."""
    if not tasks:
        return
    if scheduler is not None:
        _execute_dask(tasks, jobs, scheduler, done)
        return
    if jobs <= 1 or len(tasks) == 1:
        for rec, args in tasks:
            done(rec, run_new(*args))
        return
    import queue as queue_mod
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    # this process is one of the ``jobs`` (it would only wait otherwise): ``jobs - 1`` worker
    # processes, each handed its next session the moment it finishes one (a callback), and this
    # process analysing sessions from the same queue meanwhile; the largest first, so that the
    # last to finish is a short one
    todo = deque(sorted(tasks, key=lambda t: -_size(t[0].path)))
    finished: queue_mod.SimpleQueue = queue_mod.SimpleQueue()  # (record, its future)

    def hand_out(pool: ProcessPoolExecutor) -> None:
        try:
            rec, args = todo.popleft()
        except IndexError:
            return
        try:
            fut = pool.submit(run_new, *args)
        except Exception:  # noqa: BLE001 - the pool broke (a worker died): the session stays, this process runs it
            todo.appendleft((rec, args))
            return
        fut.add_done_callback(lambda f, rec=rec: (finished.put((rec, f)), hand_out(pool)))

    def report(rec: SessionRecord, got: Any) -> None:
        try:
            out = got.result()
        except Exception as exc:  # noqa: BLE001 - a worker that died (out of memory, killed) with it
            out = {"status": "failed", "error": f"worker failed: {type(exc).__name__}: {exc}", "transient": True}
        done(rec, out)

    workers = _Pool(min(jobs - 1, len(tasks) - 1))
    try:
        for _ in range(workers.workers):  # (at most len(tasks) - 1: this process takes one at least)
            hand_out(workers.pool)
        handled = 0
        while handled < len(tasks):
            try:  # what the workers finished so far
                report(*finished.get_nowait())
                handled += 1
                continue
            except queue_mod.Empty:
                pass
            try:
                rec, args = todo.popleft()
            except IndexError:  # all handed out: wait for the workers (or a session a broken pool gave back)
                try:
                    report(*finished.get(timeout=0.2))
                    handled += 1
                except queue_mod.Empty:
                    pass
                continue
            done(rec, run_new(*args))
            handled += 1
    finally:
        workers.close()


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _warm_worker() -> None:
    """A pool worker's first act: hipmon's pipeline imported and its compiled kernels loaded
    (``hipmon.jit.warm_up``, ~1.5 s), while the parent loads its own for its first session."""
    from hipmon.jit import warm_up

    warm_up()


def _started() -> None:
    """A no-op task: submitting one makes the pool start a worker now."""


class _Pool:
    """The local process pool of ``workers`` processes, started at once: each worker imports and
    loads hipmon's kernels (``_warm_worker``) while the parent goes on.

    spawn: a clean interpreter per worker (no copy of this process's memory, safe with threads);
    one BLAS thread per worker (as Dask's workers): the workers are the parallelism."""

    def __init__(self, workers: int) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.workers = max(1, workers)
        saved = {v: os.environ.get(v) for v in _THREAD_VARS}
        for v in _THREAD_VARS:
            os.environ.setdefault(v, "1")
        try:  # (a spawned worker takes the environment of the moment it starts: each starts here)
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"),
                                            initializer=_warm_worker)
            for _ in range(self.workers):
                self.pool.submit(_started)
        finally:
            for v, val in saved.items():
                if val is None:
                    os.environ.pop(v, None)
                else:
                    os.environ[v] = val

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _size(path: str | os.PathLike[str]) -> int:
    """A session file's size in bytes (0 if it cannot be read): the analysis time goes with it."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


#: Dask settings for the ``LocalCluster`` that ``scheduler="local"`` starts (docs/scaling.md): no
#: statistical profiler (it samples the task's stack every 10 ms: 15-25 % of these analyses), the
#: memory and system monitors and the event loop's tick less often than every 100/500/20 ms, and
#: glibc's default heap trimming (Dask's workers trim from 64 KiB: numpy's chunk arrays then go back
#: to the kernel and are faulted in again, chunk after chunk).
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.tick.interval": "200ms",
    "distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1},
}


class _LocalCluster:
    """The ``LocalCluster`` of ``scheduler="local"``, started in a thread while the files are looked at
    (its scheduler and worker processes take seconds to come up, mostly waiting) and closed in a
    thread while the combined tables are written (its workers take a second or two to stop)."""

    def __init__(self, jobs: int) -> None:
        import threading

        self.cluster: Any = None
        self.error: BaseException | None = None
        self._closer: Any = None
        self._thread = threading.Thread(target=self._start, args=(max(jobs, 1),), name="hipmon-dask-start",
                                        daemon=True)
        self._thread.start()

    def _start(self, jobs: int) -> None:
        try:
            import dask
            from distributed import LocalCluster

            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                self.cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                            dashboard_address=None)
        except BaseException as exc:  # noqa: BLE001 - raised where the cluster is needed (``get``)
            self.error = exc

    def get(self) -> Any:
        """The running cluster (waits for its start; raises what the start raised)."""
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.cluster

    def close_in_background(self) -> None:
        import threading

        def close() -> None:
            self._thread.join()
            if self.cluster is not None:
                self.cluster.close()

        self._closer = threading.Thread(target=close, name="hipmon-dask-close", daemon=True)
        self._closer.start()

    def wait_closed(self) -> None:
        if self._closer is None:
            self.close_in_background()
        self._closer.join()


def _execute_dask(tasks, jobs, scheduler, done) -> None:
    from distributed import Client, as_completed

    own_cluster = None
    if isinstance(scheduler, Client):
        client, own_client = scheduler, False
    else:
        if scheduler == "local":
            scheduler = own_cluster = _LocalCluster(jobs)
        if isinstance(scheduler, _LocalCluster):  # started here, or by ``run_batch`` (which closes it)
            scheduler = scheduler.get()
        client, own_client = Client(scheduler), True
    try:
        # pure=False: each session runs once (a unique task key: the cache is ours, not Dask's); the largest
        # first (Dask runs higher priorities first), as the pool does, so the last to finish is short
        futs = [client.submit(run_new, *args, pure=False, key=f"hipmon-batch-{uuid.uuid4().hex}",
                              priority=_size(rec.path)) for rec, args in tasks]
        by_key = {f.key: rec for f, (rec, _a) in zip(futs, tasks)}
        for fut in as_completed(futs):
            rec = by_key[fut.key]
            try:
                out = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker lost with the task
                out = {"status": "failed", "error": f"worker failed: {type(exc).__name__}: {exc}", "transient": True}
            done(rec, out)
            fut.release()
    finally:
        if own_client:
            client.close()
        if own_cluster is not None:
            own_cluster.wait_closed()


def run_batch(in_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], settings: BatchSettings | None = None,
              *, jobs: int = 1, scheduler: Any = None, progress: Progress | None = None, rehash: bool = False,
              retry_failed: bool = False, force: bool = False) -> BatchReport:
    """Analyse every session under ``in_dir`` into ``out_dir`` (see the module docstring).

    ``jobs``: local worker processes (1: in this process); ``scheduler``: a Dask scheduler
    address, a ``distributed.Client``, a ``LocalCluster``, or ``"local"`` (a ``LocalCluster`` of
    ``jobs`` worker processes) instead of the pool. ``progress(done, total, record)`` after each
    session (cached ones first). ``force``: analyse everything again."""
    t_start = time.perf_counter()
    settings = settings or BatchSettings()
    in_dir, out = Path(in_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sessions").mkdir(exist_ok=True)
    manifest = _load_manifest(out)
    old_hashes = manifest.get("hashes", {})
    paths = find_sessions(in_dir, exclude=[out])
    base = in_dir if in_dir.is_dir() else in_dir.parent
    # a local Dask cluster starts (in a thread: 1-4 s) while the files are looked at, if any is new
    # or changed (those are likely to be analysed; an unchanged batch starts none)
    cluster = None
    if scheduler == "local" and (force or any(
            _stat_sig_or_none(p) != old_hashes.get(p.relative_to(base).as_posix(), {}).get("sig") for p in paths)):
        cluster = scheduler = _LocalCluster(jobs)
    try:
        records: list[SessionRecord] = []
        hashes: dict[str, Any] = {}
        tasks: list[tuple[SessionRecord, tuple]] = []
        total = len(paths)
        n_done = 0

        def report(rec: SessionRecord) -> None:
            nonlocal n_done
            n_done += 1
            if progress is not None:
                progress(n_done, total, rec)

        def stat_or_hash(p: Path) -> tuple[list[int], str | OSError | None]:
            """The file's stat signature and hash: the manifest's while the signature is unchanged;
            hashed here with ``rehash``; else None (a new or changed file: hashed by its worker)."""
            try:
                sig = _stat_sig(p)
                prev = old_hashes.get(p.relative_to(base).as_posix())
                if prev and prev.get("sig") == sig:
                    return sig, (file_hash(p) if rehash else prev["hash"])
                return sig, None
            except OSError as exc:
                return [], exc

        # only --rehash reads files here (in threads: hashlib releases the GIL): a new or changed
        # file is hashed by the worker that then analyses it (``run_new``), in parallel
        with ThreadPoolExecutor(max(1, min(jobs, 8))) as hashers:
            digests = list(hashers.map(stat_or_hash, paths))
        for p, (sig, digest) in zip(paths, digests):
            rel = p.relative_to(base).as_posix()
            if isinstance(digest, OSError):
                rec = SessionRecord(rel, str(p), "", "", "failed", f"cannot read: {digest.strerror or digest}")
                records.append(rec)
                report(rec)
                continue
            if digest is None:
                rec = SessionRecord(rel, str(p), "", "", "pending")
                records.append(rec)
                tasks.append((rec, (str(p), settings, str(out), force, retry_failed)))
                continue
            hashes[rel] = {"sig": sig, "hash": digest}
            key = cache_key(digest, settings)
            rec = SessionRecord(rel, str(p), digest, key, "pending")
            records.append(rec)
            meta = _reusable_meta(out, key, force, retry_failed)
            if meta is not None:
                _mark_cached(rec, meta)
                report(rec)
                continue
            tasks.append((rec, (str(p), settings, str(out), force, retry_failed, digest)))

        analysed = 0

        def done(rec: SessionRecord, out_rec: dict) -> None:
            nonlocal analysed
            rec.hash = out_rec.get("hash") or rec.hash
            rec.key = out_rec.get("key") or rec.key
            if out_rec.get("sig") is not None:  # hashed by its worker (with the signature before)
                hashes[rec.session] = {"sig": out_rec["sig"], "hash": rec.hash}
            if out_rec.get("cached"):  # new to the manifest, its content analysed before
                _mark_cached(rec, out_rec["cached"])
                report(rec)
                return
            analysed += not (out_rec.get("unreadable") or out_rec.get("transient"))  # (a worker lost: not analysed)
            rec.status = out_rec.get("status", "failed")
            rec.error = out_rec.get("error")
            rec.seconds = float(out_rec.get("seconds", 0.0))
            rec.info = {k: v for k, v in out_rec.items() if k not in ("path", "key", "status", "error", "hash", "sig")}
            if out_rec.get("transient") and rec.key:  # not the session's fault: not cached as a failure
                meta = out / "sessions" / rec.key / "meta.json"
                if meta.exists():
                    meta.unlink()
            report(rec)

        _execute(tasks, jobs, scheduler, done)
        if cluster is not None:
            cluster.close_in_background()  # while the tables are written

        listing = [[r.session, r.key, r.status.replace("cached-", "").replace("cached", "ok")] for r in records]
        rebuilt = force or listing != manifest.get("listing") or not all((out / f"{k}.parquet").exists() for k in KINDS)
        if rebuilt:
            _write_combined(out, records)
        _write_sessions_table(out, records)
        _write_json_atomic({"tables_version": TABLES_VERSION, "settings": _settings_json(settings),
                            "fingerprint": settings.fingerprint(), "listing": listing, "hashes": hashes,
                            "sessions": [asdict(r) for r in records]}, out / MANIFEST)
        return BatchReport(records, time.perf_counter() - t_start, analysed,
                           sum(1 for r in records if r.status.startswith("cached")),
                           sum(1 for r in records if r.status in ("failed", "cached-failed")), rebuilt, out)
    finally:
        if cluster is not None:
            cluster.wait_closed()


def _stat_sig_or_none(path: Path) -> list[int] | None:
    try:
        return _stat_sig(path)
    except OSError:
        return None


def _settings_json(s: BatchSettings) -> dict[str, Any]:
    d = asdict(s)
    d.pop("rules_text")
    d["rules_sha256"] = None if s.rules_text is None else hashlib.sha256(s.rules_text.encode()).hexdigest()
    return d


def _write_combined(out: Path, records: Iterable[SessionRecord]) -> None:
    """``OUT/<kind>.parquet``: the sessions' tables one after the other (a row group each),
    with ``session`` and ``key`` first; two sessions in memory at a time (the next one is read
    in a thread while this one is written: pyarrow does both without the GIL)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = [r for r in records if r.status in ("ok", "cached")]

    def read(kind_and_record: tuple[str, SessionRecord]) -> Any:
        kind, r = kind_and_record
        t = pq.read_table(out / "sessions" / r.key / f"{kind}.parquet")
        t = t.add_column(0, "key", pa.repeat(pa.scalar(r.key, pa.string()), t.num_rows))
        return t.add_column(0, "session", pa.repeat(pa.scalar(r.session, pa.string()), t.num_rows))

    tables = _read_ahead(read, [(kind, r) for kind in KINDS for r in good])
    try:
        for kind in KINDS:
            path = out / f"{kind}.parquet"
            tmp = _tmp_beside(path)
            writer = None
            try:
                schema = None
                for _ in good:
                    t = next(tables)
                    if writer is None:
                        schema = t.schema
                        writer = pq.ParquetWriter(tmp, schema, **_parquet_options(schema))
                    writer.write_table(t.cast(schema))
                    del t
                if writer is None:  # no session: an empty table of the right columns
                    empty = _empty_tables()[kind]
                    empty = empty.add_column(0, "key", pa.array([], pa.string()))
                    empty = empty.add_column(0, "session", pa.array([], pa.string()))
                    pq.write_table(empty, tmp)
                else:
                    writer.close()
                    writer = None
                os.replace(tmp, path)
            finally:
                if writer is not None:
                    writer.close()
                if tmp.exists():
                    tmp.unlink()
    finally:
        tables.close()


def _read_ahead(fn: Callable[[Any], Any], items: Sequence[Any]) -> Any:
    """A generator of ``fn(item)`` for each of ``items`` in order, the next one computed in a
    thread while the caller works on this one."""
    with ThreadPoolExecutor(1) as worker:
        ahead = worker.submit(fn, items[0]) if items else None
        for k in range(len(items)):
            got = ahead.result()
            ahead = worker.submit(fn, items[k + 1]) if k + 1 < len(items) else None
            yield got
            del got


def _empty_tables() -> dict[str, Any]:
    from hipmon.pipeline import SessionResult
    from hipmon.types import Frames

    return session_tables(SessionResult(Frames.empty(), None, [], [], []))


def _write_sessions_table(out: Path, records: Sequence[SessionRecord]) -> None:
    """``OUT/sessions.parquet`` (every session, its status and facts) and ``OUT/failures.parquet``."""
    import pyarrow as pa

    facts = ("duration_s", "frames", "valid_fraction", "events", "alerts", "gaps", "calibrated",
             "calibration_quality", "calibration_trusted", "second_pass", "events_error", "seconds", "cpu_s",
             "peak_rss_mb")
    rows: dict[str, list] = {k: [] for k in ("session", "key", "hash", "status", "error") + facts}
    for r in records:
        rows["session"].append(r.session)
        rows["key"].append(r.key)
        rows["hash"].append(r.hash)
        rows["status"].append(r.status)
        rows["error"].append(r.error)
        for k in facts:
            rows[k].append(r.info.get(k))
    types = {"duration_s": pa.float64(), "frames": pa.int64(), "valid_fraction": pa.float64(), "events": pa.int64(),
             "alerts": pa.int64(), "gaps": pa.int64(), "calibrated": pa.bool_(), "calibration_quality": pa.float64(),
             "calibration_trusted": pa.bool_(), "second_pass": pa.bool_(), "events_error": pa.string(),
             "seconds": pa.float64(), "cpu_s": pa.float64(), "peak_rss_mb": pa.float64()}
    schema = pa.schema([(k, pa.string()) for k in ("session", "key", "hash", "status", "error")]
                       + [(k, types[k]) for k in facts])
    _write_parquet_atomic(pa.table(rows, schema=schema), out / "sessions.parquet")
    bad = [r for r in records if r.status in ("failed", "cached-failed")]
    fail = pa.table({"session": [r.session for r in bad], "path": [r.path for r in bad],
                     "hash": [r.hash for r in bad], "error": [r.error or "" for r in bad]},
                    schema=pa.schema([(k, pa.string()) for k in ("session", "path", "hash", "error")]))
    _write_parquet_atomic(fail, out / "failures.parquet")
