"""``hipmon report SESSION [--baseline SESSION] -o REPORT.html|REPORT.pdf``: one self-contained report.

The session (athlete, date, protocol, sensors, calibration and what it means), per kind and
side every event's pelvic drop, hip adduction, hip internal rotation and valgus composite
over time with mean ± SD, left-right difference and symmetry index, event-normalised curves,
the alerts on a timeline with their rules and limits, and with ``--baseline`` each metric's
change with its 95 % CI against the smallest detectable change, in plain sentences too.
The work is in ``hipmon.report``; formulas in docs/report.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hipmon.commands._options import add_pipeline_arguments
from hipmon.commands._progress import add_progress_arguments

HELP = "One self-contained HTML or PDF report of a session (optionally against a baseline)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", help="session file (from hipmon record / import)")
    parser.add_argument("--baseline", metavar="SESSION", help="an earlier session of the same athlete to compare with")
    parser.add_argument("-o", "--output", required=True, metavar="REPORT.html|REPORT.pdf",
                        help="the report file: .html (self-contained) or .pdf (printed by headless Chromium)")
    add_pipeline_arguments(parser)
    add_progress_arguments(parser)


def check_output(path: str) -> Path:
    """The output path, checked before any work (extension, folder writable)."""
    import os

    from hipmon.cli import CommandError

    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm", ".pdf"):
        raise CommandError(f"{path}: the report is .html or .pdf")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise CommandError(f"{path}: no such folder {parent}")
    if not os.access(parent, os.W_OK):
        raise CommandError(f"{path}: the folder is not writable")
    if out.is_dir():
        raise CommandError(f"{path}: is a folder")
    return out


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError
    from hipmon.commands._options import load_rules_option, pipeline_config
    from hipmon.report.model import analyse_session
    from hipmon.commands._progress import Progress
    from hipmon.report.render import ReportError, find_chromium, render_html, write_report

    out = check_output(args.output)
    if out.suffix.lower() == ".pdf" and find_chromium() is None:
        raise CommandError(f"{args.output}: a PDF needs Chromium (apt-get install chromium) to print the report; "
                           "use -o REPORT.html, or set HIPMON_CHROMIUM")
    rules = load_rules_option(args)
    config = pipeline_config(args, rules)
    # steps: (baseline), session, one per reported kind's figures, alerts, (comparison), writing
    est = 4 + (2 if args.baseline else 0)  # one reported kind assumed until the session is analysed
    prog = Progress("report", total=est, enabled=args.progress)
    if args.baseline:
        prog.step(f"analysing the baseline {args.baseline}")
        base = analyse_session(args.baseline, config, rules)
    else:
        base = None
    prog.step(f"analysing {args.session}")
    a = analyse_session(args.session, config, rules)
    prog.total = prog.n + len(a.kinds) + 2 + (1 if base is not None else 0)
    html = render_html(a, base, step=prog.step)
    prog.step(f"writing {args.output}" + (" (printing with Chromium)" if out.suffix.lower() == ".pdf" else ""))
    try:
        write_report(html, out)
    except ReportError as exc:
        raise CommandError(str(exc)) from None
    prog.done(f"wrote {args.output}")
    print(f"wrote {args.output}")
    return 0
