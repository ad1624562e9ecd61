"""``hipmon profiles``: List the firmware profiles and what each can stream."""

from __future__ import annotations

import argparse
import json

HELP = "List the firmware profiles and what each can stream."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the profiles as JSON")
    parser.add_argument("--dir", action="append", default=[], metavar="DIR",
                        help="also load the *.toml profiles of DIR (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show UUIDs, advertised names, sources and the start sequence bytes")


def _rate(r: float) -> str:
    return str(int(r)) if float(r).is_integer() else str(r)


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError
    from hipmon.profiles import ProfileError, load_profiles

    try:
        profiles = load_profiles(args.dir)
    except ProfileError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        out = []
        for p in profiles.values():
            out.append({
                "name": p.name, "codec": p.codec, "description": p.description,
                "channels": p.channels, "rates_hz": p.rates_hz, "default_rate_hz": p.default_rate_hz,
                "ranges": p.ranges, "time_source": p.time_source, "sensor_frame": p.sensor_frame,
                "service_uuid": p.service_uuid, "characteristics": p.characteristics,
                "advertised_names": p.advertised_names, "file": str(p.path),
            })
        print(json.dumps(out, indent=2))
        return 0
    rows = [("NAME", "CODEC", "CHANNELS", "RATES (Hz)", "TIME", "RANGES")]
    for p in profiles.values():
        ranges = " ".join(f"{k}={_rate(v)}" for k, v in p.ranges.items())
        rates = ",".join(_rate(r) for r in p.rates_hz)
        rows.append((p.name, p.codec, "+".join(p.channels), f"{rates} (default {_rate(p.default_rate_hz)})", p.time_source, ranges))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if args.verbose:
        for p in profiles.values():
            print(f"\n{p.name}: {p.description}\n  file: {p.path}\n  service: {p.service_uuid}")
            for role, uuid in p.characteristics.items():
                print(f"  {role}: {uuid}")
            print(f"  advertised names: {', '.join(p.advertised_names)}\n  sensor frame: {p.sensor_frame}")
            if p.notes:
                print(f"  notes: {p.notes}")
            print(f"  start at {_rate(p.default_rate_hz)} Hz:")
            for s in p.start_steps():
                detail = f"{s.seconds} s" if s.op == "wait" else s.data.hex(" ")
                print(f"    {s.op:6} {s.char_role:8} {detail}")
            for src in p.sources:
                print(f"  source: {src}")
    return 0
