"""``hipmon compare SESSION SESSION [...] [--json]``: a course of sessions as one table.

The sessions are put in date order (recording date, then file name); the first is the
baseline. Per event kind, side and metric: each session's mean ± SD (n), and each later
session's change against the first with its 95 % CI, the smallest detectable change and
the verdict (better / worse / no change / unknown). ``--json`` prints the same with the
change against the previous session too. Formulas: ``hipmon.report.stats``, docs/report.md.
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
    add_pipeline_arguments(parser)
    add_progress_arguments(parser)


def _f(x, nd: int = 1, sign: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def format_course(data: dict) -> str:
    """The comparison as a text table (one block per kind)."""
    from hipmon.report.model import KIND_NAMES

    sess = data["sessions"]
    lines = ["sessions (date order; the first is the baseline):"]
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
    from hipmon.commands._options import load_rules_option, pipeline_config
    from hipmon.report.comparison import course
    from hipmon.report.model import analyse_session, session_order_key
    from hipmon.commands._progress import Progress

    if len(args.sessions) < 2:
        raise CommandError("give at least two sessions to compare")
    rules = load_rules_option(args)
    config = pipeline_config(args, rules)
    prog = Progress("compare", total=len(args.sessions) + 1, enabled=args.progress)
    analyses = []
    for path in args.sessions:
        prog.step(f"analysing {path}")
        analyses.append(analyse_session(path, config, rules))
    analyses.sort(key=session_order_key)
    prog.step("comparing")
    data = course(analyses)
    if args.json:
        print(json.dumps(data, indent=2, allow_nan=False))
    else:
        print(format_course(data))
    prog.done("compared")
    return 0
