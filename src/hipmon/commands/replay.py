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
    parser.add_argument("--lsl", action="store_true",
                        help="stream the session to the Lab Streaming Layer instead of opening the window: angles "
                             "(type MoCap) at --speed times real time, events, alerts and markers as JSON strings")
    parser.add_argument("--wait-for-inlet", type=float, default=0.0, metavar="S",
                        help="with --lsl: wait up to S seconds for an inlet to connect before streaming")
    parser.add_argument("--lsl-name", default="hipmon", metavar="NAME",
                        help="with --lsl: the streams' name prefix (NAME angles, NAME markers; default hipmon), "
                             "to tell several replays apart")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError

    if not os.path.exists(args.session):
        raise CommandError(f"{args.session}: no such session file")
    if not 0.25 <= args.speed <= 8:
        raise CommandError("--speed must be between 0.25 and 8")
    if args.lsl:
        return _replay_lsl(args)
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


def _replay_lsl(args: argparse.Namespace) -> int:
    """``--lsl``: the processed session to LSL outlets, no window."""
    from hipmon.cli import CommandError
    from hipmon.commands._options import is_default, pipeline_config
    from hipmon.lsl import LslError, LslPublisher, replay_to_lsl
    from hipmon.pipeline import process_session
    from hipmon.recording import RecordingError, SessionReader

    config = None if is_default(args) else pipeline_config(args)
    try:
        result = process_session(args.session, config)
        with SessionReader(args.session) as reader:
            markers = list(reader.markers)
            meta = reader.metadata
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    t = result.frames.time_s
    if len(t) < 2:
        raise CommandError(f"{args.session}: no frames to stream")
    import numpy as np

    rate = 1.0 / float(np.median(np.diff(t)))
    try:
        pub = LslPublisher(round(rate, 6), args.lsl_name, f"{args.lsl_name}-replay-{os.path.basename(args.session)}",
                           {"session_file": args.session, "athlete": str(meta.get("athlete", "")),
                            "calibration_quality": "" if result.calibration is None else f"{result.calibration.quality:.2f}"})
    except LslError as exc:
        raise CommandError(str(exc)) from None
    if args.wait_for_inlet > 0 and not pub.wait_for_consumers(args.wait_for_inlet):
        print(f"hipmon replay: no LSL inlet connected within {args.wait_for_inlet:g} s; streaming anyway")
    print(f"streaming {args.session} to LSL: {len(t)} frames at {rate:g} Hz, {len(result.events)} events, "
          f"{len(result.alerts)} alerts, {len(markers)} markers, speed {args.speed:g}x")
    replay_to_lsl(result, pub, markers, speed=args.speed)
    print(f"sent {pub.samples_sent} frames and {pub.markers_sent} markers")
    return 0
