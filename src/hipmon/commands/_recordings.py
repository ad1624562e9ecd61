"""``--recordings DIR``: where the dashboard's Record button writes sessions (``demo`` and ``live``)."""

from __future__ import annotations

import argparse
import os


def add_recordings_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recordings", metavar="DIR", default=".",
                        help="folder the Record button writes NAME-YYYYmmdd-HHMMSS.hipmon to "
                        "(created if missing; default: the current folder)")


def recordings_dir(args: argparse.Namespace) -> str:
    """The checked ``--recordings`` folder (created if missing); a clear error when it cannot be written."""
    from hipmon.cli import CommandError

    path = os.path.abspath(args.recordings)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"--recordings {args.recordings}: cannot create the folder ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CommandError(f"--recordings {args.recordings}: the folder is not writable")
    return path


def emulation_rate_hz(profile: str, rate_hz: float | None) -> float:
    """The emulated sensors' rate: ``--rate``, else 208 Hz where the profile streams at it, else the
    profile's default (WitMotion and Thingy stream at 10-100 Hz); an unknown profile is a clear error."""
    from hipmon.cli import CommandError
    from hipmon.profiles import ProfileError, get_profile

    if rate_hz:
        return float(rate_hz)
    try:
        prof = get_profile(profile)
    except (KeyError, ProfileError) as exc:
        raise CommandError(f"--profile {profile}: {exc}") from None
    return 208.0 if 208 in [int(r) for r in prof.rates_hz] else float(prof.default_rate_hz)
