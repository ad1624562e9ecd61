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
    parser.add_argument("session", nargs="?", help="session file (from hipmon record / import)")
    parser.add_argument("--athlete", metavar="NAME", help="instead of SESSION: the athlete's trends across their "
                        "sessions in the athlete library (per protocol, in date order)")
    from hipmon.commands.sessions import add_library_argument

    add_library_argument(parser)
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
    from hipmon.report.render import find_chromium, render_html

    if args.athlete:
        if args.session or args.baseline:
            raise CommandError("--athlete draws the library's sessions: leave out SESSION and --baseline")
        return run_athlete(args)
    if not args.session:
        raise CommandError("give SESSION, or --athlete NAME for the trends across an athlete's sessions")
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
    _write(html, out, args.output, prog)
    print(f"wrote {args.output}")
    return 0


def _write(html: str, out: Path, name: str, prog) -> None:
    """The report to ``out`` (HTML, or PDF printed by Chromium); a failure is the command's error."""
    from hipmon.cli import CommandError
    from hipmon.report.render import ReportError, write_report

    try:
        write_report(html, out)
    except ReportError as exc:
        raise CommandError(str(exc)) from None
    prog.done(f"wrote {name}")


def run_athlete(args: argparse.Namespace) -> int:
    """``report --athlete NAME``: every library session of the athlete analysed, trends per protocol."""
    from hipmon.cli import CommandError
    from hipmon.commands._options import load_rules_option, pipeline_config
    from hipmon.commands._progress import Progress
    from hipmon.library import LibraryError, library_root, list_sessions
    from hipmon.report.model import analyse_session
    from hipmon.report.protocol_section import trends_context
    from hipmon.report.render import find_chromium, render_trends_html

    out = check_output(args.output)
    if out.suffix.lower() == ".pdf" and find_chromium() is None:
        raise CommandError(f"{args.output}: a PDF needs Chromium (apt-get install chromium); use -o REPORT.html")
    rules = load_rules_option(args)
    config = pipeline_config(args, rules)
    prog = Progress("report", enabled=args.progress)
    try:
        entries = list_sessions(library_root(args.library), args.athlete, step=prog.step)
    except LibraryError as exc:
        raise CommandError(str(exc)) from None
    entries = [e for e in entries if not e.get("error")]
    if not entries:
        raise CommandError(f"athlete {args.athlete!r}: no session in the library can be analysed")
    analyses = []
    for e in entries:
        prog.step(f"analysing {e['rel']}")
        analyses.append(analyse_session(e["path"], config, rules))
    name = next((a.athlete for a in analyses if a.athlete), args.athlete)
    html = render_trends_html(trends_context(name, analyses, step=prog.step))
    prog.step(f"writing {args.output}")
    _write(html, out, args.output, prog)
    print(f"wrote {args.output} ({len(analyses)} sessions of {name})")
    return 0
