"""``hipmon batch``: every session under a folder analysed into tidy Parquet tables.

``hipmon batch IN OUT [--jobs N] [--scheduler ADDRESS] [--rules TOML] [--filter F] [--rate HZ] [--mag]``

Each ``*.hipmon`` under ``IN`` is analysed as ``hipmon analyze`` does (``hipmon.pipeline.process_session``
with the same pipeline settings) into ``OUT/sessions/<key>/{angles,events,alerts,summary,calibration}.parquet``;
``OUT/<kind>.parquet`` combines them (column ``session``: the path under ``IN``), ``OUT/sessions.parquet``
lists every session and ``OUT/failures.parquet`` the ones that failed, with the reason (a failure is
never fatal to the batch). Results are cached by the file's SHA-256, the settings and the hipmon
version: a second run analyses only what changed. Work runs in ``--jobs`` local processes, or on a
Dask cluster (``--scheduler tcp://HOST:8786``, or ``local`` for a ``LocalCluster`` of ``--jobs``
workers). Progress goes to stderr, one line per session. The work is in ``hipmon.batch``.
Exit status: 0, or 1 when a session failed (the others are written); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hipmon.commands._options import add_pipeline_arguments

HELP = "Analyse every session under a folder into Parquet tables (cached, parallel, Dask)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="folder of sessions (searched recursively for *.hipmon), or one session")
    parser.add_argument("output", metavar="OUT", help="folder for the Parquet tables (created)")
    parser.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                        help="local worker processes (default: the CPU count; 1 = in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="run on a Dask distributed cluster at ADDRESS (tcp://host:8786), or 'local' "
                             "for a LocalCluster of --jobs worker processes; sessions and OUT must be "
                             "on a file system the workers share")
    parser.add_argument("--force", action="store_true", help="analyse every session again (ignore the cache)")
    parser.add_argument("--retry-failed", action="store_true", help="analyse the sessions that failed last time again")
    parser.add_argument("--rehash", action="store_true",
                        help="hash every file again (default: re-use a file's hash while its size and mtime are unchanged)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no per-session progress lines")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from hipmon.alerts import RulesError
    from hipmon.batch import BatchSettings, run_batch
    from hipmon.cli import CommandError

    src, out = Path(args.input), Path(args.output)
    if not src.exists():
        raise CommandError(f"{src}: no such folder or session")
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise CommandError(f"--jobs {jobs}: must be at least 1")
    try:
        settings = BatchSettings.from_rules_file(args.rules, rate_hz=args.rate, filter=args.filter,
                                                 use_mag=bool(args.mag))
    except RulesError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"{args.rules}: cannot read ({exc.strerror or exc})") from None

    def progress(done: int, total: int, rec) -> None:  # noqa: ANN001
        if args.quiet:
            return
        took = f"{rec.seconds:6.1f} s" if rec.status in ("ok", "failed") else "        "
        why = f"  {rec.error}" if rec.error else ""
        print(f"[{done:>{len(str(total))}}/{total}] {rec.status:<13} {took}  {rec.session}{why}", file=sys.stderr,
              flush=True)

    try:
        report = run_batch(src, out, settings, jobs=jobs, scheduler=args.scheduler, progress=progress,
                           rehash=args.rehash, retry_failed=args.retry_failed, force=args.force)
    except OSError as exc:
        raise CommandError(f"{out}: {exc.strerror or exc}") from None
    except (ImportError, ValueError, TimeoutError) as exc:  # e.g. an unreachable Dask scheduler
        raise CommandError(" ".join(f"{type(exc).__name__}: {exc}".split())) from None
    n = len(report.records)
    print(f"{n} sessions: {report.analysed} analysed, {report.cached} cached, {report.failed} failed; "
          f"tables in {out} ({report.seconds:.1f} s)", file=sys.stderr)
    for r in report.records:
        if r.status in ("failed", "cached-failed"):
            print(f"failed: {r.session}: {r.error}", file=sys.stderr)
    return 1 if report.failed else 0
