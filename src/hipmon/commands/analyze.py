"""``hipmon analyze``: Per-side summary of a session's events, metrics and alerts.

``hipmon analyze SESSION [--json] [--rules RULES.toml] [--baseline B]``
processes the session with ``hipmon.pipeline.process_session`` and prints, per
event kind and side: the number of events, mean ± SD of the peak pelvic drop,
hip adduction, hip internal rotation and valgus composite, the left-right
asymmetry and the trend per minute (fatigue), and the alerts; with each metric its
real-world uncertainty (``hipmon.uncertainty``: one event's peak, and the left-right
difference; ``uncertainty_deg`` per metric in ``--json``). ``--baseline``
takes an earlier session (or a baseline JSON written by ``--save-baseline``)
whose first events set the limits instead of this session's own first events.

The work is in ``summarize_result`` (over a ``hipmon.pipeline.SessionResult``), so it is
testable without files.
"""

from __future__ import annotations

import argparse
import json
import sys
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from hipmon.commands._options import add_pipeline_arguments

if TYPE_CHECKING:
    from hipmon.pipeline import SessionResult

HELP = "Per-side summary of a session's events, metrics and alerts."


def _metric_labels() -> tuple[tuple[str, str], ...]:
    """(metric, label) of the summary's rows, from ``hipmon.metric_registry``."""
    from hipmon.metric_registry import METRICS, SUMMARY_METRICS

    return tuple((name, METRICS[name].label) for name in SUMMARY_METRICS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", help="session file (from hipmon record / import)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_pipeline_arguments(parser)
    parser.add_argument(
        "--baseline",
        metavar="SESSION_OR_JSON",
        help="baseline session (or baseline JSON) whose first events set the alert limits",
    )
    parser.add_argument("--save-baseline", metavar="JSON", help="write this session's baseline to JSON")
    parser.add_argument("--events", action="store_true",
                        help="one line per event and alert, the lines `hipmon live --no-gui` printed")
    from hipmon.commands._progress import add_progress_arguments

    add_progress_arguments(parser)
    parser.add_argument("--accept-untrusted", action="store_true",
                        help="exit 0 even when the session has no calibration or one that is not trusted "
                             "(the results are printed either way; without this the exit status is 3)")


def _process(path: str, config: Any = None) -> SessionResult:
    from hipmon.cli import CommandError

    if not Path(path).exists():
        raise CommandError(f"{path}: no such session")
    from hipmon.pipeline import process_session

    try:
        return process_session(path, config, keep="angles")  # the analysis reads angles and validity only
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - one error path: a line, not a traceback
        raise CommandError(f"{path}: cannot analyse ({type(exc).__name__}: {exc})") from None


def _load_baseline(spec: str, rules: Any, config: Any = None) -> Any:
    from hipmon.alerts import Baseline
    from hipmon.cli import CommandError

    if spec.endswith(".json"):
        try:
            return Baseline.load(spec)
        except (OSError, ValueError, AttributeError) as exc:
            raise CommandError(f"{spec}: not a baseline JSON ({exc})") from None
    return Baseline.from_events(_process(spec, config).events, rules)


def summarize_result(result: SessionResult, rules: Any = None, baseline: Any = None, rejudge: bool = False,
                     placements: Sequence[str] | None = None) -> dict:
    """JSON-ready summary of a ``hipmon.pipeline.SessionResult``.

    ``result.events`` (list of ``Event``), ``result.alerts`` (list of
    ``Alert``), ``result.gaps``. With ``rejudge`` (or a ``rules`` /
    ``baseline`` given) the alerts are recomputed on copies of the events with
    those rules; otherwise the pipeline's own alerts are summarised.
    ``placements``: the session's sensors (default: those with valid frames, when the
    frames say per sensor); with them, what the session can measure (``measurable``).
    Returns ``hipmon.metrics.summarize_events`` plus ``duration_s``,
    ``alert_log`` (rule, side, time_s, event kind and values) and ``gaps``.
    """
    import copy

    from hipmon.alerts import AlertEngine
    from hipmon.metrics import summarize_events

    events = list(result.events)
    alerts = list(result.alerts)
    if rejudge or rules is not None or baseline is not None:
        events = [copy.copy(e) for e in events]
        for e in events:
            e.extra = dict(e.extra)
        alerts = AlertEngine(rules, baseline).update(events)
    summary = summarize_events(events, alerts)
    frames = result.frames
    t = frames.time_s
    if len(t):
        summary["duration_s"] = float(t[-1] - t[0])
    elif events:
        summary["duration_s"] = float(max(e.end_s for e in events) - min(e.start_s for e in events))
    summary["alert_log"] = [
        {
            "rule": a.rule,
            "side": a.side,
            "time_s": a.time_s,
            "event_kind": None if a.event is None else a.event.kind,
            "values": {k: (v if isinstance(v, (int, float)) and math.isfinite(v) else None) for k, v in a.values.items()},
        }
        for a in alerts
    ]
    summary["gaps"] = len(result.gaps)
    from hipmon.pipeline import measurable

    if placements is None and frames.valid_sensor:
        placements = [p for p, v in frames.valid_sensor.items() if len(v) and v.any()]
    if placements is not None:
        summary.update(measurable(placements))
    _add_uncertainty(summary)
    return summary


def _add_uncertainty(summary: dict) -> None:
    """Each metric's real-world uncertainty (``hipmon.uncertainty``, the one table): an
    ``uncertainty_deg`` per metric and side (one event's peak), ``asymmetry_uncertainty_deg``
    per kind, and the table's pooled numbers with their source under ``uncertainty``."""
    from hipmon import uncertainty as unc

    for kind, block in summary.get("kinds", {}).items():
        for side_block in block["sides"].values():
            for field, _label in _metric_labels():
                if isinstance(side_block.get(field), dict):
                    side_block[field]["uncertainty_deg"] = unc.per_event_deg(field, kind)
        block["asymmetry_uncertainty_deg"] = {f: unc.asymmetry_deg(f, kind) for f, _l in _metric_labels()}
    summary["uncertainty"] = unc.summary_table()


def _fmt(x: Any, nd: int = 1) -> str:
    return "  -  " if x is None else f"{x:.{nd}f}"


def _uncertainty_lines(kind: str, block: dict) -> list[str]:
    """``real-world: pelvic drop left 4.1 ± 1.5°, right 3.9 ± 1.5° (per stance; L - R ± 0.2°)``, one line per
    metric with a number (``hipmon.uncertainty``), or a note where no real-world reference exists."""
    out = []
    sides = block["sides"]
    for field, label in _metric_labels():
        parts = []
        u = None
        for s, b in sides.items():
            m = b.get(field) or {}
            if m.get("mean") is None:
                continue
            u = m.get("uncertainty_deg")
            parts.append(f"{s} {m['mean']:.1f}" + (f" ± {u:.1f}°" if u is not None else "°"))
        if not parts or u is None:
            continue
        asym = (block.get("asymmetry_uncertainty_deg") or {}).get(field)
        tail = f"; L - R ± {asym:.1f}°" if asym is not None and len(parts) == 2 else ""
        out.append(f"    {label} {', '.join(parts)} (real-world, per {kind}{tail})")
    if out:
        out.insert(0, f"  real-world ± of one {kind}'s peak (one walk vs optical markers, docs/placement.md):")
    elif any((b.get(f) or {}).get("mean") is not None for b in sides.values() for f, _ in _metric_labels()):
        out.append(f"  (no real-world reference for {kind} peaks yet: the uncertainties were measured on walking stances)")
    return out


#: said with a calibration made from running (``Calibration.metrics["side_checks_skipped_running"]``)
SIDES_NOT_CHECKED = ("left and right were not checked: the calibration came from running, where swapped "
                     "thigh sensors or a mirrored sensor frame cannot be detected (docs/calibration.md); "
                     "make sure each thigh sensor is on its labelled side")


def calibration_notes(cal) -> list[str]:
    """What the calibration could not check, in words (not reasons to distrust it)."""
    return [SIDES_NOT_CHECKED] if cal.metrics.get("side_checks_skipped_running") else []


def _calibration_and_warnings(path: str, result: SessionResult) -> tuple[dict | None, list[str]]:
    """The calibration's quality, verdict and reasons, and the import's warnings (session metadata)."""
    cal = result.calibration
    block = None if cal is None else {"quality": float(cal.quality), "trusted": bool(cal.trusted),
                                      "reasons": list(cal.reasons), "notes": calibration_notes(cal)}
    warnings: list[str] = []
    try:
        from hipmon.recording.reader import SessionReader

        with SessionReader(path) as reader:
            warnings = [str(w) for w in (reader.metadata.get("import_warnings") or [])] + list(reader.warnings)
    except Exception:  # noqa: BLE001 - the summary does not depend on them; the pipeline already read the file
        warnings = []
    return block, warnings


def format_summary(summary: dict) -> str:
    """Human-readable text of ``summarize_result``'s output (degrees, per minute)."""
    from hipmon.metric_registry import compact_name, is_metric_quantity

    lines = []
    dur = summary.get("duration_s")
    lines.append(f"{summary['n_events']} events" + (f" in {dur:.1f} s" if dur is not None else ""))
    for kind, block in summary["kinds"].items():
        sides = block["sides"]
        lines.append("")
        counts = ", ".join(f"{s} {b['count']}" for s, b in sides.items())
        lines.append(f"{kind}: {counts}")
        header = f"  {'peak (deg)':<20}" + "".join(f"{s + ' mean ± SD':>18}{'trend/min':>14}" for s in sides)
        if block["asymmetry_left_minus_right"]:
            header += f"{'L - R':>8}"
        lines.append(header)
        for field, label in _metric_labels():
            row = f"  {label:<20}"
            for s, b in sides.items():
                m = b[field]
                row += f"{_fmt(m['mean']):>9} ± {_fmt(m['sd']):<6}"
                tr = m["trend"]
                star = "*" if tr["significant"] else " "
                slope, (lo, hi) = tr["slope_per_min"], tr["ci95"]
                cell = "-" if slope is None or lo is None else f"{slope:+.2f}±{(hi - lo) / 2:.2f}"
                row += f"{cell:>13}{star}"
            if block["asymmetry_left_minus_right"]:
                row += f"{_fmt(block['asymmetry_left_minus_right'].get(field)):>8}"
            lines.append(row)
        lines.extend(_uncertainty_lines(kind, block))
        flagged = ", ".join(f"{s} {b['alerts']}" for s, b in sides.items())
        lines.append(f"  events in alert: {flagged}")
    lines.append("")
    if summary["alert_log"]:
        lines.append("alerts (screening cues relative to the athlete's baseline, not diagnoses):")
        for a in summary["alert_log"]:
            v = a["values"]
            parts = []
            for key, val in v.items():
                if key.endswith("_deg") and val is not None:
                    lim = v.get(f"{key}_limit")
                    parts.append(f"{compact_name(key)} {val:.1f} > {_fmt(lim)}")
            lines.append(f"  {a['time_s']:8.2f} s  {a['rule']:<12} {a['side']:<6} {a['event_kind'] or '':<8} " + "; ".join(parts))
    else:
        lines.append("alerts: none")
    from hipmon.metrics import MIN_TREND_EVENTS

    lines.append(f"(trend: slope ± its 95 % confidence half-width, from {MIN_TREND_EVENTS} events of a side "
                 "on; * significant at 95 %)")
    if summary.get("not_measurable"):
        missing = ", ".join(q for q in summary["not_measurable"] if not is_metric_quantity(q))
        lines.append(f"sensors: {', '.join(summary.get('placements', []))}; not measured: {missing}")
        for why in sorted(set(summary["not_measurable"].values())):
            lines.append(f"  ({why}: hip metrics are shown as '-')" if "thigh" in why else f"  ({why})")
    return "\n".join(lines)


def protocol_block(path: str, result: SessionResult) -> dict | None:
    """The session's protocol (stored, else inferred: ``hipmon.protocols.infer_protocol``) and its result
    (``hipmon.protocols.protocol_result``), JSON-ready; None when the session says nothing of one."""
    from hipmon.protocols import infer_protocol, protocol_result
    from hipmon.recording.reader import SessionReader

    try:
        with SessionReader(path) as reader:
            md = dict(reader.metadata or {})
    except Exception:  # noqa: BLE001 - the pipeline already read the file; no metadata is no protocol
        md = {}
    name = infer_protocol(md, result.events)
    if name is None:
        return None
    f = result.frames
    res = protocol_result(name, result.events, f.time_s, f.angles_deg, f.valid, side=md.get("protocol_side"))
    return {"name": name, "side": md.get("protocol_side"), "stored": bool(md.get("protocol")),
            "result": res.to_dict(), "lines": res.lines()}


def run(args: argparse.Namespace) -> int:
    from hipmon.alerts import Baseline, load_rules
    from hipmon.commands._options import load_rules_option, pipeline_config
    from hipmon.commands._progress import Progress

    rules = load_rules_option(args)
    config = pipeline_config(args, rules)
    prog = Progress("analyze", total=(2 if args.baseline else 1) + 1, enabled=args.progress)
    if args.baseline:
        prog.step(f"analysing the baseline {args.baseline}")
        baseline = _load_baseline(args.baseline, rules if rules is not None else load_rules(), config)
    else:
        baseline = None
    prog.step(f"processing {args.session} (fusion, calibration, angles, events)")
    result = _process(args.session, config)
    prog.step("summarising")
    summary = summarize_result(result, rules, baseline)
    summary["calibration"], summary["import_warnings"] = _calibration_and_warnings(args.session, result)
    proto = protocol_block(args.session, result)
    summary["protocol"] = None if proto is None else {k: v for k, v in proto.items() if k != "lines"}
    prog.done("analysed")
    if args.save_baseline:
        Baseline.from_events(result.events, rules if rules is not None else load_rules()).save(args.save_baseline)
    if args.events:
        from hipmon.buffers import describe_alert
        from hipmon.commands.live import format_event

        for ev in result.events:
            print(format_event(ev))
        for a in result.alerts:
            print(f"{a.time_s:8.2f} s  ALERT   {describe_alert(str(a.rule), str(a.side), dict(a.values or {}))}")
        return _untrusted_exit(args, summary["calibration"])
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False))
    else:
        cal = summary["calibration"]
        if cal is None:
            print("calibration: none found (need >= 2 s of quiet standing, then walking, running or landings)")
        else:
            verdict = "trusted" if cal["trusted"] else "NOT TRUSTED: read the reasons before the numbers"
            print(f"calibration quality {cal['quality']:.2f} ({verdict})")
            for reason in cal["reasons"]:
                print(f"  - {reason}")
            for note in cal["notes"]:
                print(f"  note: {note}")
        for w in summary["import_warnings"]:
            print(f"warning: {w}")
        if proto is not None:
            print(f"protocol {proto['name']}" + ("" if proto["stored"] else " (not stored: from the events)"))
            print("\n".join("  " + line for line in proto["lines"]))
            print()
        print(format_summary(summary))
    return _untrusted_exit(args, summary["calibration"])


#: exit status of ``analyze`` when the results cannot be trusted (no calibration, or not trusted)
EXIT_UNTRUSTED = 3


def _untrusted_exit(args: argparse.Namespace, cal: dict | None) -> int:
    """0, or ``EXIT_UNTRUSTED`` with one line on stderr when the calibration is missing or not
    trusted and ``--accept-untrusted`` was not given (the results were printed either way)."""
    if args.accept_untrusted or (cal is not None and cal["trusted"]):
        return 0
    why = ("no calibration was found: angles and events are missing" if cal is None else
           f"the calibration is not trusted (quality {cal['quality']:.2f}): the numbers may be wrong")
    print(f"hipmon analyze: {args.session}: {why}; pass --accept-untrusted to exit 0", file=sys.stderr)
    return EXIT_UNTRUSTED
