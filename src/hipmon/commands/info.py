"""``hipmon info``: describe a session: duration, sensors, profiles, placements, samples, gaps."""

from __future__ import annotations

import argparse

HELP = "Describe a session: duration, sensors, profiles, placements, samples, gaps."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", metavar="SESSION", help="session file (hipmon record / hipmon import)")
    parser.add_argument("--json", action="store_true", help="print JSON (keys: docs/recording-format.md)")
    parser.add_argument("--check", action="store_true", help="also run SQLite's integrity check")


def _fmt(x: object, spec: str = "") -> str:
    if x is None:
        return "-"
    return format(x, spec) if spec else str(x)


def _damaged(args: argparse.Namespace, exc: Exception) -> int:
    """A damaged file: what ``hipmon repair`` would recover (the same salvage, read-only), exit 2.

    Exit 2, not 0: the file as it is cannot be analysed, replayed or exported; the
    report on stdout says what a repair keeps and the one-line error on stderr says why."""
    import json
    import sys

    from hipmon.cli import CommandError
    from hipmon.recording import RecordingError
    from hipmon.recording.salvage import salvage

    try:
        report = salvage(args.session).report
    except RecordingError:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps({"path": str(args.session), "damaged": True, "error": str(exc),
                          "repair_would_recover": report.to_json()}, indent=2))
    else:
        print(f"session     {args.session}: DAMAGED; hipmon repair {args.session} -o NEW.hipmon would recover:")
        print("\n".join("  " + line for line in report.lines()))
    print(f"hipmon info: {exc}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    import json

    from hipmon.cli import CommandError
    from hipmon.recording import RecordingError, SessionReader, summarize
    from hipmon.recording._common import DamagedFileError

    from hipmon.pipeline import measurable

    try:
        with SessionReader(args.session) as reader:
            info = summarize(reader)
            info.update(measurable([s.get("placement") for s in info["sensors"]]))
            info["warnings"] = reader.warnings
            md = info.get("metadata") or {}
            info["protocol"] = md.get("protocol")
            info["protocol_side"] = md.get("protocol_side")
            if args.check:
                info["integrity"] = reader.check_integrity()
    except DamagedFileError as exc:
        return _damaged(args, exc)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=False))
        return 0
    lines = [
        f"session     {info['path']}",
        f"source      {info['source']} (schema {info['schema_version']}, hipmon {info['software_version']},"
        f" created {info['created_utc']}{'' if info['closed_cleanly'] else ', NOT closed cleanly'})",
        f"duration    {info['duration_s']:.3f} s",
    ]
    for warning in info["warnings"]:
        lines.append(f"warning     {warning}")
    if info["protocol"]:
        from hipmon.protocols import PROTOCOLS

        p = PROTOCOLS.get(info["protocol"])
        lines.append(f"protocol    {info['protocol']}" + (f" ({p.label.lower()})" if p else "")
                     + (f", {info['protocol_side']} side" if info["protocol_side"] else ""))
    if info["metadata"]:
        lines.append("metadata    " + ", ".join(f"{k}={v}" for k, v in info["metadata"].items()
                                                if k not in ("import_files", "import_warnings", "import_conversions")))
        for warning in info["metadata"].get("import_warnings") or []:
            lines.append(f"warning     {warning}")
    lines.append("sensors")
    header = f"  {'sensor':<14}{'placement':<13}{'profile':<18}{'rate_Hz':>8}{'notifs':>9}{'samples':>10}{'gaps':>6}{'lost':>7}{'dec_err':>8}"
    lines.append(header)
    for s in info["sensors"]:
        gaps = s["gaps"] or {}
        lines.append(
            f"  {s['sensor_id']:<14}{_fmt(s['placement']):<13}{_fmt(s['profile']):<18}"
            f"{_fmt(s['rate_hz'], '.1f'):>8}{s['notifications']:>9}{_fmt(s['samples']):>10}"
            f"{_fmt(gaps.get('count')):>6}{_fmt(gaps.get('samples_lost')):>7}{s['decode_errors']:>8}"
        )
        by_reason = (s.get("gaps_recorded") or {}).get("by_reason") or {}
        if by_reason:
            lines.append("    recorded gaps: " + ", ".join(
                f"{r} {v['count']} ({v['samples_lost']} samples)" for r, v in sorted(by_reason.items())))
        if "decode_problem" in s:
            lines.append(f"    cannot decode: {s['decode_problem']}")
    lines.append(f"placements  {', '.join(info['placements']) or '-'}")
    lines.append(f"measures    {', '.join(info['measurable']) or 'nothing'}")
    if info["not_measurable"]:
        by_reason: dict[str, list[str]] = {}
        for q, why in info["not_measurable"].items():
            by_reason.setdefault(why, []).append(q)
        for why, qs in by_reason.items():
            lines.append(f"not         {', '.join(qs)}: {why}")
    lines.append(f"gaps        {info['gaps']['count']} ({info['gaps']['samples_lost']} samples lost)")
    lines.append(f"markers     {info['markers']}    alerts {info['alerts']}")
    cal = info.get("stored_calibration")
    if cal:
        verdict = "trusted" if cal.get("trusted", True) else "NOT TRUSTED"
        lines.append(f"calibration stored with the recording: quality {float(cal.get('quality', float('nan'))):.2f} ({verdict})")
    else:
        lines.append("calibration none stored: found when the session is processed; `hipmon analyze` shows its "
                     "quality and verdict")
    if "integrity" in info:
        lines.append(f"integrity   {info['integrity']}")
    print("\n".join(lines))
    return 0
