"""``hipmon record``: Record a session without a GUI, from sensors or --emulate KIND, to a SQLite session file."""

from __future__ import annotations

import argparse
import sys

HELP = "Record a session without a GUI, from sensors or --emulate KIND, to a SQLite session file."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="SESSION", help="session file to create")
    parser.add_argument("--seconds", type=float, default=10.0, help="recording length (s; default 10)")
    parser.add_argument("--emulate", metavar="KIND", help="emulated sensors fed by the simulator (run, jump, squat, stance, walk)")
    parser.add_argument("--config", metavar="TOML", help="session configuration: sensors, placements, profiles (hardware)")
    parser.add_argument("--profile", help="firmware profile (emulation default: movesense-gsp)")
    parser.add_argument("--rate", type=float, help="sample rate (Hz; default: 208 in emulation, else the profile's)")
    parser.add_argument("--loss", type=float, default=0.0, help="emulation: notification loss probability (e.g. 0.02)")
    parser.add_argument("--disconnects", type=int, default=0, help="emulation: forced disconnects per sensor")
    parser.add_argument("--seed", type=int, default=0, help="emulation: random seed")
    parser.add_argument("--speed", type=float, default=1.0, help="emulation: clock speed factor (1 = real time)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing session file")


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


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError

    _check(args)
    if args.emulate:
        from hipmon.ble.record import record_emulated

        summary = record_emulated(
            args.output, kind=args.emulate, seconds=args.seconds, profile=args.profile or "movesense-gsp",
            rate_hz=args.rate or 208.0, loss=args.loss, disconnects=args.disconnects, seed=args.seed,
            speed=args.speed, overwrite=args.overwrite,
        )
    else:
        from hipmon.ble.record import record_hardware

        if not args.config:
            raise CommandError("give --config SESSION.toml (sensors and placements) or --emulate KIND")
        summary = record_hardware(args.output, args.config, seconds=args.seconds, profile=args.profile,
                                  rate_hz=args.rate, overwrite=args.overwrite)
    print(summary.format())
    return 0 if summary.ok else 1
