"""``hipmon demo``: the live dashboard on emulated sensors (a simulated runner who fatigues)."""

from __future__ import annotations

import argparse

from hipmon.commands._feedback import add_feedback_arguments, fade_schedule
from hipmon.commands._recordings import add_recordings_argument, recordings_dir

HELP = "Live dashboard on emulated sensors (a simulated runner who fatigues); --duration/--screenshot for headless use."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, metavar="S", help="quit after S seconds (wall clock)")
    parser.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window before quitting")
    add_feedback_arguments(parser)
    add_recordings_argument(parser)
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    parser.add_argument("--speed", type=float, default=1.0, help="play the simulated run this many times real time")
    parser.add_argument(
        "--source",
        choices=("emulated", "truth"),
        default="emulated",
        help="emulated: sensors over the bumble BLE stack through the pipeline (default); "
        "truth: the simulator's true angles straight to the dashboard",
    )
    from hipmon.commands.record import add_placement_arguments

    add_placement_arguments(parser)
    parser.add_argument("--athlete", default="Demo runner", help="athlete name shown in the window")
    parser.add_argument("--session", default="demo: fatiguing run", help="session name shown in the window")


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError

    if args.duration is not None and args.duration <= 0:
        raise CommandError("--duration must be positive")
    if args.speed <= 0:
        raise CommandError("--speed must be positive")
    rec_dir = recordings_dir(args)
    from hipmon.app.main import run_live
    from hipmon.app.session import make_source

    from hipmon.commands.record import parse_off_air, parse_placements

    placements = parse_placements(args.placements)
    if args.source == "emulated":
        if args.speed != 1.0:
            raise CommandError("--speed works with --source truth only (the BLE chain runs in real time)")
        # the emulated sensors play this much simulated running, then the demo ends
        seconds = (args.duration + 15.0) if args.duration else 300.0
        source = make_source("demo", seconds=seconds, seed=args.seed, placements=placements,
                             off_air=parse_off_air(args.off_air, placements))
    else:
        if len(placements) != 3 or args.off_air:
            raise CommandError("--placements and --off-air need the emulated sensors (--source emulated)")
        seconds = min(180.0, (args.duration or 0) * args.speed + 15.0) if args.duration else 180.0
        source = make_source("truth", seconds=max(seconds, 75.0), seed=args.seed, speed=args.speed, loop=True)
    return run_live(source, duration=args.duration, screenshot=args.screenshot, muted=args.mute,
                    athlete=args.athlete, session=args.session, fade=fade_schedule(args), recordings_dir=rec_dir)
