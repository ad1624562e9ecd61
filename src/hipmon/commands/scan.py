"""``hipmon scan``: Scan for BLE sensors whose advertisements match a firmware profile."""

from __future__ import annotations

import argparse

HELP = "Scan for BLE sensors whose advertisements match a firmware profile."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=5.0, help="scan time (s; default 5)")
    parser.add_argument("--all", action="store_true", help="also list devices that match no profile")
    parser.add_argument("--emulate", action="store_true",
                        help="scan the emulated sensors (one per profile) instead of a real adapter")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from hipmon.cli import CommandError

    if args.timeout <= 0:
        raise CommandError(f"--timeout must be > 0, got {args.timeout}")

    async def go():
        from hipmon.ble.scan import scan

        if not args.emulate:
            return await scan(args.timeout, only_sensors=not args.all)
        from hipmon.emulation import EmulatedRadio, EmulatedSensor, SyntheticSource
        from hipmon.emulation.backend import BumbleBleakScanner
        from hipmon.profiles import load_profiles

        async with EmulatedRadio() as radio:
            for name, prof in sorted(load_profiles().items()):
                src = SyntheticSource.make(1.0, prof.default_rate_hz)
                await EmulatedSensor(radio, prof, src, rate_hz=prof.default_rate_hz).start()
            return await scan(args.timeout, backend=BumbleBleakScanner, only_sensors=not args.all, radio=radio)

    try:
        found = asyncio.run(go())
    except CommandError:
        raise
    except Exception as exc:
        raise CommandError(
            f"no Bluetooth adapter available ({type(exc).__name__}: {exc}); try --emulate"
        ) from None
    if not found:
        print("no sensors found")
        return 0
    print(f"{'address':<18} {'rssi':>5}  {'profile':<16} name")
    for f in found:
        print(f"{f.address:<18} {f.rssi if f.rssi is not None else '':>5}  {f.profile or '-':<16} {f.name or ''}")
    return 0
