"""Options shared by the commands that open the live dashboard (``demo``, ``live``)."""

from __future__ import annotations

import argparse


def add_feedback_arguments(parser: argparse.ArgumentParser) -> None:
    """``--mute`` and ``--fade`` (faded feedback for the audible cue)."""
    parser.add_argument("--mute", action="store_true", help="start with the audible alert cue off")
    parser.add_argument("--fade", nargs="?", const="1,2,4/5", metavar="N,N,.../MIN",
                        help="faded feedback: the audible cue on every Nth alert per stage of MIN minutes "
                        "(bare --fade: 1,2,4/5 = every alert for 5 min, then every 2nd, then every 4th); "
                        "the screen still shows every alert. Default: every alert")


def fade_schedule(args: argparse.Namespace):
    """The ``FadeSchedule`` asked for with ``--fade``, or None; a bad value is a CommandError."""
    from hipmon.app.feedback import FadeSchedule
    from hipmon.cli import CommandError

    if not args.fade:
        return None
    try:
        return FadeSchedule.parse(args.fade)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
