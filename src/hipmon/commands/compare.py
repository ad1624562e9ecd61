"""``hipmon compare SESSION SESSION [...] [--json]``: a course of sessions as one table.

The sessions are put in date order (recording date, then file name); the first is the
baseline. Per event kind, side and metric: each session's mean ± SD (n), and each later
session's change against the first with its 95 % CI, the smallest detectable change and
the verdict (better / worse / no change / unknown). ``--json`` prints the same with the
change against the previous session too. Formulas: ``hipmon.report.stats``, docs/report.md.

``hipmon compare SESSION --by-condition [--reference COND]``: the conditions of one session
(its markers' conditions, ``hipmon mark``) compared the same way: each event belongs to the
condition of the latest marker with a condition before it (before the first: ``baseline``);
the first condition (or ``--reference``) is the baseline; no session offset (same sensors).
With several sessions each one's conditions become columns ``SESSION: condition``.
"""

from __future__ import annotations

import argparse
import json

from hipmon.commands._options import add_pipeline_arguments
from hipmon.commands._progress import add_progress_arguments

HELP = "Compare sessions in date order (a rehabilitation course): changes with 95 %% CIs and detectability."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sessions", nargs="+", metavar="SESSION", help="two or more session files")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument("--by-condition", action="store_true",
                        help="compare the conditions of a session, split at its markers (hipmon mark)")
    parser.add_argument("--reference", metavar="COND", help="with --by-condition: the condition the others are "
                        "compared against (default: the first, 'baseline' if events precede the first marker)")
    add_pipeline_arguments(parser)
    add_progress_arguments(parser)


def _f(x, nd: int = 1, sign: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def format_course(data: dict, heading: str = "sessions (date order; the first is the baseline):") -> str:
    """The comparison as a text table (one block per kind)."""
    from hipmon.report.model import KIND_NAMES

    sess = data["sessions"]
    lines = [heading]
    for i, s in enumerate(sess):
        cal = s["calibration"]
        calw = "no calibration" if cal is None else (f"calibration {cal['quality']:.2f}"
                                                     + ("" if cal["trusted"] else " NOT TRUSTED"))
        lines.append(f"  {i + 1}. {s['name']}  {s['date'] or 'no date'}  {s['athlete'] or '-'}  {s['protocol']}  ({calw})")
    names = [f"#{i + 1}" for i in range(len(sess))]
    for kind in data["kinds"]:
        lines.append("")
        lines.append(f"{KIND_NAMES.get(kind, kind)}s: mean ± SD (n) per session; change vs #1 [95 % CI] SDC verdict")
        for row in data["rows"]:
            if row["kind"] != kind:
                continue
            head = f"  {row['label']:<18} {row['side']:<6} "
            cells = []
            for name, e in zip(names, row["sessions"]):
                cell = f"{name} {_f(e['mean'])} ± {_f(e['sd'])} ({e['n']})"
                c = e.get("vs_first")
                if c is not None:
                    ci = c["ci95"]
                    cell += (f"  {_f(c['change'], sign=True)} [{_f(ci[0], sign=True)}, {_f(ci[1], sign=True)}]"
                             f" SDC {_f(c['sdc95'])} {c['verdict']}")
                cells.append(cell)
            lines.append(head + " | ".join(cells))
    lines.append("")
    lines.append("(" + data["method"] + ")")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError
    from hipmon.report.comparison import course
    from hipmon.report.model import session_order_key

    if args.reference is not None and not args.by_condition:
        raise CommandError("--reference needs --by-condition")
    if args.by_condition:
        return _run_by_condition(args)
    if len(args.sessions) < 2:
        raise CommandError("give at least two sessions to compare")
    prog, analysed = _analyse_each(args)
    analyses = sorted((a for _, a in analysed), key=session_order_key)
    prog.step("comparing")
    data = course(analyses)
    if args.json:
        print(json.dumps(data, indent=2, allow_nan=False))
    else:
        print(format_course(data))
    prog.done("compared")
    return 0


def _analyse_each(args: argparse.Namespace) -> tuple:
    """(the command's progress, [(path, ``hipmon.report.model`` analysis)] of ``args.sessions``)
    with the command's pipeline settings and rules, in the order given."""
    from hipmon.commands._options import load_rules_option, pipeline_config
    from hipmon.commands._progress import Progress
    from hipmon.report.model import analyse_session

    rules = load_rules_option(args)
    config = pipeline_config(args, rules)
    prog = Progress("compare", total=len(args.sessions) + 1, enabled=args.progress)
    out = []
    for path in args.sessions:
        prog.step(f"analysing {path}")
        out.append((path, analyse_session(path, config, rules)))
    return prog, out


def _run_by_condition(args: argparse.Namespace) -> int:
    """``--by-condition``: the conditions of each session (split at its markers) as the columns."""
    from hipmon.cli import CommandError
    from hipmon.recording import RecordingError, SessionReader
    from hipmon.report.comparison import course, split_by_condition
    from hipmon.report.model import session_order_key

    prog, analysed = _analyse_each(args)
    analyses = []
    for path, a in analysed:
        try:
            with SessionReader(path) as reader:
                markers = reader.markers
        except RecordingError as exc:
            raise CommandError(str(exc)) from None
        analyses.append((a, split_by_condition(a, markers)))
    analyses.sort(key=lambda x: session_order_key(x[0]))
    parts = []
    for a, conds in analyses:
        for c in conds:
            if len(analyses) > 1:
                c.name = f"{a.name}: {c.name}"
            parts.append(c)
    if args.reference is not None:
        ref = [p for p in parts if p.name == args.reference or p.name.endswith(f": {args.reference}")]
        if not ref:
            raise CommandError(f"no condition {args.reference!r} in {', '.join(args.sessions)} "
                               f"(conditions: {', '.join(p.name for p in parts) or 'none'})")
        parts = ref[:1] + [p for p in parts if p is not ref[0]]
    if len(parts) < 2:
        raise CommandError(f"{', '.join(args.sessions)}: fewer than two conditions to compare "
                           "(place markers with a condition: hipmon mark SESSION --at S --label L --condition C)")
    prog.step("comparing")
    data = course(parts, same_session=len(analyses) == 1)
    data["by_condition"] = True
    if args.json:
        print(json.dumps(data, indent=2, allow_nan=False))
    else:
        print(format_course(data, heading="conditions (split at the markers; the first is the baseline):"))
    prog.done("compared")
    return 0
