"""``hipmon record``: Record a session without a GUI, from sensors or --emulate KIND, to a SQLite session file."""

from __future__ import annotations

import sys

import argparse

from hipmon.commands._recordings import emulation_rate_hz

HELP = "Record a session without a GUI, from sensors or --emulate KIND, to a SQLite session file."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="SESSION", help="session file to create (without it: a new file "
                        "in the athlete library, with --athlete)")
    parser.add_argument("--seconds", type=float, default=10.0, help="recording length (s; default 10)")
    parser.add_argument("--emulate", metavar="KIND", help="emulated sensors fed by the simulator (run, jump, squat, stance, walk)")
    parser.add_argument("--config", metavar="TOML", help="session configuration: sensors, placements, profiles (hardware)")
    parser.add_argument("--profile", help="firmware profile (emulation default: movesense-gsp)")
    parser.add_argument("--rate", type=float, help="sample rate (Hz; default: 208 in emulation, else the profile's)")
    parser.add_argument("--loss", type=float, default=0.0, help="emulation: notification loss probability (e.g. 0.02)")
    parser.add_argument("--disconnects", type=int, default=0, help="emulation: forced disconnects per sensor")
    parser.add_argument("--seed", type=int, default=0, help="emulation: random seed")
    parser.add_argument("--speed", type=float, default=1.0, help="emulation: clock speed factor (1 = real time)")
    parser.add_argument("--preset", metavar="NAME", help="emulation: named athlete (as hipmon simulate --preset: "
                        "healthy, right_hip_tires, left_hip_tires, weak_right_glute, right_valgus, trendelenburg_right)")
    parser.add_argument("--sim", action="append", default=[], metavar="KEY=VALUE",
                        help="emulation: any hipmon.simulate.simulate option, repeatable "
                             "(e.g. --sim right_valgus_deg=8 --sim reps=4); numbers and on/off parsed")
    add_placement_arguments(parser)
    from hipmon.commands.sessions import add_library_argument, add_protocol_arguments

    add_protocol_arguments(parser)
    parser.add_argument("--athlete", metavar="NAME", help="athlete name stored in the metadata (without -o: the "
                        "session goes to LIBRARY/<athlete>/<date>_<protocol>_<n>.hipmon)")
    add_library_argument(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing session file (once the new "
                        "one holds data: until then, and on an error or Ctrl-C, the old file stays as it was)")


def add_placement_arguments(parser: argparse.ArgumentParser) -> None:
    """``--placements`` and ``--off-air`` (emulation; shared with ``hipmon live``)."""
    parser.add_argument("--placements", metavar="LIST", default="pelvis,left_thigh,right_thigh",
                        help="emulation: the sensors worn, comma-separated: all three (default) or 'pelvis' alone "
                             "(one sensor on the sacrum: pelvis angles, contacts, pelvic drop; no hip angles). "
                             "Real sensors: the placements of --config")
    parser.add_argument("--off-air", action="append", default=[], metavar="PLACEMENT:START:SECONDS",
                        help="emulation: that sensor goes away at START s of session time for SECONDS s "
                             "(a thigh lost part-way: its hip is a gap), repeatable")


def parse_placements(text: str) -> tuple[str, ...]:
    """``"pelvis"`` / ``"pelvis,left_thigh,right_thigh"`` -> placements in PLACEMENTS order; CommandError otherwise."""
    from hipmon.ble.config import ConfigError, check_placements
    from hipmon.cli import CommandError
    from hipmon.types import PLACEMENTS

    names = [p.strip().replace("-", "_") for p in str(text).split(",") if p.strip()]
    bad = [p for p in names if p not in PLACEMENTS]
    if bad:
        raise CommandError(f"--placements {text}: unknown placement(s) {', '.join(bad)} "
                           f"(choose from {', '.join(PLACEMENTS)})")
    try:
        check_placements(names, f"--placements {text}")
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    return tuple(p for p in PLACEMENTS if p in names)


def parse_off_air(items: list[str], placements: tuple[str, ...]) -> dict[str, tuple[tuple[float, float], ...]]:
    """``["left_thigh:12:5", ...]`` -> ``{"left_thigh": ((12.0, 5.0),)}``; CommandError for a bad item."""
    from hipmon.cli import CommandError

    out: dict[str, list[tuple[float, float]]] = {}
    for item in items:
        parts = item.split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            p, start, seconds = parts[0].strip().replace("-", "_"), float(parts[1]), float(parts[2])
        except ValueError:
            raise CommandError(f"--off-air {item!r}: expected PLACEMENT:START:SECONDS (e.g. left_thigh:12:5)") from None
        if p not in placements:
            raise CommandError(f"--off-air {item!r}: no {p} sensor in this session ({', '.join(placements)})")
        if start < 0 or seconds <= 0:
            raise CommandError(f"--off-air {item!r}: START must be >= 0 and SECONDS > 0")
        out.setdefault(p, []).append((start, seconds))
    return {p: tuple(v) for p, v in out.items()}


#: ``simulate`` arguments ``hipmon record`` sets from its own options.
_SIM_RESERVED = {"kind": "--emulate", "seconds": "--seconds", "seed": "--seed", "rate_hz": "--rate"}


def parse_value(text: str) -> object:
    """A ``--sim`` value: on/off/true/false/yes/no -> bool, else int, else float, else the text."""
    t = text.strip()
    low = t.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t


def simulate_options(preset: str | None, items: list[str]) -> dict[str, object]:
    """``--preset`` and ``--sim KEY=VALUE`` items -> ``simulate`` keyword arguments, checked as
    ``hipmon simulate`` checks them (same messages); CommandError otherwise."""
    from hipmon.cli import CommandError

    options: dict[str, object] = {}
    if preset is not None:
        options["preset"] = preset
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise CommandError(f"--sim {item!r}: expected KEY=VALUE (e.g. --sim right_valgus_deg=8)")
        if key in _SIM_RESERVED:
            raise CommandError(f"--sim {key}: use {_SIM_RESERVED[key]}")
        options[key] = parse_value(value)
    if options:
        from hipmon.simulate import check_options

        try:
            check_options(**options)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    return options


def _check(args: argparse.Namespace) -> None:
    from hipmon.cli import CommandError

    if args.seconds <= 0:
        raise CommandError(f"--seconds must be > 0, got {args.seconds}")
    if not 0.0 <= args.loss < 1.0:
        raise CommandError(f"--loss must be in [0, 1), got {args.loss}")
    if args.disconnects < 0:
        raise CommandError(f"--disconnects must be >= 0, got {args.disconnects}")
    if args.speed <= 0:
        raise CommandError(f"--speed must be > 0, got {args.speed}")


def session_metadata(args: argparse.Namespace) -> dict:
    """The protocol (``--protocol``, else the emulated kind when it is one), its side and the athlete,
    checked: a protocol the emulated athlete does not perform is an error."""
    from hipmon.cli import CommandError
    from hipmon.commands.sessions import protocol_metadata
    from hipmon.protocols import PROTOCOLS

    emulate = args.emulate
    default = emulate if emulate in PROTOCOLS else None
    meta = protocol_metadata(args, default)
    if emulate and meta.get("protocol") and PROTOCOLS[meta["protocol"]].sim_kind != emulate:
        raise CommandError(f"--protocol {meta['protocol']} with --emulate {emulate}: the emulated athlete does "
                           f"'{emulate}'; use --emulate {PROTOCOLS[meta['protocol']].sim_kind}")
    if args.athlete:
        meta["athlete"] = args.athlete
    return meta


def emulated_sides(meta: dict, options: dict, explicit: bool = True) -> dict:
    """The emulated athlete follows an explicitly given protocol (``--protocol``): only the chosen side's
    set, and the protocol's target (a 30 s hold, 5 squats or jumps per side), unless ``--sim`` says otherwise."""
    from hipmon.protocols import PROTOCOLS

    if not explicit or not meta.get("protocol"):
        return options
    out = dict(options)
    if meta.get("protocol_side"):
        out.setdefault("sides", meta["protocol_side"])
    target = PROTOCOLS[meta["protocol"]].target
    if "hold_s" in target:
        out.setdefault("hold_s", target["hold_s"])
    elif "reps" in target:
        out.setdefault("reps", int(target["reps"]))
    return out


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError

    _check(args)
    from hipmon.commands.sessions import library_output
    from hipmon.recording import RecordingError
    from hipmon.recording.writer import amend_metadata, check_output_path

    meta = session_metadata(args)
    args.output, _in_library = library_output(args, args.output, meta.get("protocol"))

    try:  # before any work: a directory, a missing or non-directory parent, an existing file
        check_output_path(args.output, args.overwrite)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    if args.emulate:
        from hipmon.ble.record import record_emulated
        from hipmon.recording.reader import EMULATION_SPEED_SYNCS, speed_warning

        if not EMULATION_SPEED_SYNCS[0] <= args.speed <= EMULATION_SPEED_SYNCS[1]:
            print(f"warning: {speed_warning(args.speed)}", file=sys.stderr)
        options = emulated_sides(meta, simulate_options(args.preset, args.sim), explicit=bool(args.protocol))
        placements = parse_placements(args.placements)
        summary = record_emulated(
            args.output, kind=args.emulate, seconds=args.seconds, profile=args.profile or "movesense-gsp",
            rate_hz=emulation_rate_hz(args.profile or "movesense-gsp", args.rate), loss=args.loss, disconnects=args.disconnects, seed=args.seed,
            speed=args.speed, overwrite=args.overwrite, simulate_options=options, placements=placements,
            off_air=parse_off_air(args.off_air, placements),
        )
    else:
        from hipmon.ble.record import record_hardware

        if args.preset is not None or args.sim:
            raise CommandError("--preset and --sim describe the simulated athlete: use them with --emulate KIND")
        if args.off_air:
            raise CommandError("--off-air is an emulated sensor's fault: use it with --emulate KIND")
        if not args.config:
            raise CommandError("give --config SESSION.toml (sensors and placements) or --emulate KIND")
        summary = record_hardware(args.output, args.config, seconds=args.seconds, profile=args.profile,
                                  rate_hz=args.rate, overwrite=args.overwrite)
    import os

    if meta and os.path.exists(args.output):
        amend_metadata(args.output, **meta)
    print(summary.format())
    if meta.get("protocol"):
        print(f"protocol {meta['protocol']}" + (f" ({meta['protocol_side']} side)" if meta.get("protocol_side") else "")
              + (f", athlete {meta['athlete']}" if meta.get("athlete") else ""))
    return 0 if summary.ok else 1
