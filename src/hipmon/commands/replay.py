"""``hipmon replay``: open a recording in the dashboard: play, pause, speed, scrub, jump to alerts."""

from __future__ import annotations

import argparse
import os

from hipmon.commands._options import add_pipeline_arguments

HELP = "Open a recording in the dashboard: play, pause, speed, scrub, jump to alerts."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", metavar="SESSION", help="a session file (hipmon record / import / the dashboard)")
    parser.add_argument("--play", action="store_true", help="start playing at once")
    parser.add_argument("--speed", type=float, default=1.0, help="playback speed, 0.25 to 8 (default 1)")
    parser.add_argument("--at", type=float, metavar="S", help="start at session time S")
    parser.add_argument("--first-alert", action="store_true", help="start at the first alert")
    parser.add_argument("--mute", action="store_true", help="no audible cue when playback passes an alert")
    parser.add_argument("--duration", type=float, metavar="S", help="quit after S seconds (wall clock)")
    parser.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window before quitting")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError

    if not os.path.exists(args.session):
        raise CommandError(f"{args.session}: no such session file")
    if not 0.25 <= args.speed <= 8:
        raise CommandError("--speed must be between 0.25 and 8")
    from hipmon.app.replay import ReplayModel
    from hipmon.commands._options import is_default, pipeline_config
    from hipmon.recording import RecordingError

    config = None if is_default(args) else pipeline_config(args)
    try:
        model = ReplayModel.from_session(args.session, config)
    except RecordingError as exc:  # names the file already
        raise CommandError(str(exc)) from None
    except Exception as exc:  # the pipeline names the problem
        raise CommandError(f"{args.session}: {exc}") from None
    if model.time_s.size == 0:
        raise CommandError(f"{args.session}: no frames (too short, or no sensors for all three placements)")
    model.set_speed(args.speed)
    if args.at is not None:
        model.seek(args.at)
    if args.first_alert and model.next_alert() is None:
        print(f"hipmon replay: {args.session} has no alerts")
    from hipmon.app.main import run_replay

    return run_replay(model, duration=args.duration, screenshot=args.screenshot, muted=args.mute, play=args.play)
