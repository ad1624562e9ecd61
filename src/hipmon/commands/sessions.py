"""``hipmon sessions [--athlete NAME] [--json] [--library DIR]``: the athlete library's sessions.

Per athlete, in date order: date, protocol (and side), duration, calibration, and the protocol's key
numbers (``hipmon.protocols.key_numbers``: hold time, pelvic drop and its drift for stance holds,
valgus composite for squats and jumps, pelvic drop for runs and walks). The numbers come from the
library's index, a cache refreshed for every new or changed file (``hipmon.library``).

Also the shared options of the commands that write into the library (``record``, ``live``,
``import``): ``--athlete``, ``--library``, ``--protocol``, ``--side``.
"""

from __future__ import annotations

import argparse
import json

from hipmon.commands._progress import add_progress_arguments

HELP = "List the athlete library's sessions: athletes, dates, protocols and their key numbers."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--athlete", metavar="NAME", help="only this athlete's sessions")
    parser.add_argument("--json", action="store_true", help="print the list as JSON")
    add_library_argument(parser)
    add_progress_arguments(parser)


# ---------------------------------------------------------------- shared options


def add_library_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--library", metavar="DIR", default=None,
                        help="the athlete library folder (default: $HIPMON_LIBRARY, else ~/hipmon-library)")


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """``--protocol NAME`` and ``--side left|right`` (stored in the session metadata)."""
    from hipmon.protocols import PROTOCOLS

    names = ", ".join(f"{p.name} ({p.label.lower()})" for p in PROTOCOLS.values())
    parser.add_argument("--protocol", metavar="NAME", help=f"the test protocol: {names}")
    parser.add_argument("--side", metavar="left|right", help="the tested side of a one-leg protocol (stance, squat)")


def protocol_metadata(args: argparse.Namespace, default: str | None = None) -> dict:
    """``{"protocol": ..., "protocol_side": ...}`` from ``--protocol``/``--side`` (or ``default``), checked."""
    from hipmon.cli import CommandError
    from hipmon.protocols import ProtocolError, check_side, get_protocol

    name = args.protocol or default
    side = args.side
    if name is None:
        if side:
            raise CommandError("--side needs --protocol (stance or squat)")
        return {}
    try:
        p = get_protocol(name)
        side = check_side(p, side)
    except ProtocolError as exc:
        raise CommandError(f"--protocol {name}: {exc}" if "protocol" not in str(exc) else str(exc)) from None
    return {"protocol": p.name, **({"protocol_side": side} if side else {})}


def library_output(args: argparse.Namespace, output: str | None, protocol: str | None,
                   what: str = "-o SESSION") -> tuple[str, bool]:
    """The session file to write: ``output`` if given, else a new library path for ``--athlete``.

    Returns ``(path, in_library)``; a ``CommandError`` when neither is given."""
    from hipmon.cli import CommandError
    from hipmon.library import LibraryError, library_root, new_session_path

    if output:
        return output, False
    athlete = args.athlete
    if not athlete:
        raise CommandError(f"give {what}, or --athlete NAME to write into the athlete library")
    try:
        return str(new_session_path(library_root(args.library), athlete, protocol)), True
    except LibraryError as exc:
        raise CommandError(str(exc)) from None


# ---------------------------------------------------------------- the command


def _cell(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def format_sessions(entries: list[dict]) -> str:
    lines = []
    folder = None
    for e in entries:
        if e["folder"] != folder:
            folder = e["folder"]
            name = e.get("athlete") or folder
            n = sum(1 for x in entries if x["folder"] == folder)
            lines.append(("" if not lines else "\n") + f"{name}  ({folder}/, {n} session{'s' if n != 1 else ''})")
        date = (e.get("date") or "")[:16].replace("T", " ") or "no date"
        proto = (e.get("protocol") or "-") + (f" {e['side']}" if e.get("side") else "")
        if e.get("error"):
            lines.append(f"  {date:<16}  {proto:<12}  {e['file']}: cannot analyse ({e['error']})")
            continue
        cal = e.get("calibration")
        calw = "no cal" if cal is None else (f"cal {cal['quality']:.2f}" + ("" if cal["trusted"] else "!"))
        keys = "  ".join(f"{k} {_cell(v)}" for k, v in (e.get("key") or {}).items())
        lines.append(f"  {date:<16}  {proto:<12} {e.get('duration_s', 0):6.0f} s  {calw:<9}  {keys}  [{e['file']}]")
    if not entries:
        lines.append("no sessions")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError
    from hipmon.commands._progress import Progress
    from hipmon.library import LibraryError, library_root, list_sessions

    root = library_root(args.library)
    prog = Progress("sessions", enabled=args.progress)
    try:
        entries = list_sessions(root, args.athlete, step=prog.step)
    except LibraryError as exc:
        raise CommandError(str(exc)) from None
    if prog.n:
        prog.done(f"indexed {prog.n} new or changed session{'s' if prog.n != 1 else ''}")
    if args.json:
        print(json.dumps({"library": str(root), "sessions": [{k: v for k, v in e.items() if k != "stamp"}
                                                             for e in entries]}, indent=2, allow_nan=False))
    else:
        print(f"library {root}")
        print(format_sessions(entries))
    return 0
