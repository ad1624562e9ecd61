"""``hipmon live``: the live dashboard on real sensors (session configuration) or emulated ones; --no-gui for a terminal."""

from __future__ import annotations

import argparse
import math
import sys
import time

from hipmon.commands._feedback import add_feedback_arguments, fade_schedule
from hipmon.commands._recordings import add_recordings_argument, recordings_dir

HELP = "Live dashboard on real sensors from a session configuration or a scan; --no-gui prints one line per stride."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="TOML", help="session configuration: sensors, placements, profiles "
                        "(`hipmon scan` finds them)")
    parser.add_argument("--emulate", metavar="KIND", help="emulated sensors over the BLE stack instead (run, walk, ...)")
    parser.add_argument("--truth", action="store_true", help="with --emulate: the simulator's true angles, no BLE")
    parser.add_argument("--no-gui", action="store_true", help="no window: one line per stride or landing, with alerts")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window before quitting")
    add_feedback_arguments(parser)
    add_recordings_argument(parser)
    parser.add_argument("--seed", type=int, default=7, help="with --emulate: simulator seed")
    parser.add_argument("--athlete", default="", help="athlete name")
    parser.add_argument("--session", default="", help="session name (e.g. baseline, week 4)")


def format_event(ev) -> str:
    """One terminal line per stride/landing: time, kind, side, the three peaks, the alert rule if active."""
    def f(v: float) -> str:
        return "  —  " if not math.isfinite(v) else f"{v:5.1f}"

    line = (f"{ev.end_s:8.2f} s  {ev.kind:<7} {ev.side:<5}  drop {f(ev.peak_pelvic_drop_deg)}°  "
            f"ADD {f(ev.peak_hip_adduction_deg)}°  IR {f(ev.peak_hip_internal_rotation_deg)}°")
    if ev.alert:
        line += f"  [{ev.alert}]"
    return line


def _source(args: argparse.Namespace):
    from hipmon.cli import CommandError

    seconds = (args.duration + 15.0) if args.duration else 3600.0
    if args.emulate:
        if args.truth:
            from hipmon.app.feeds import demo_feed

            return demo_feed(seconds=min(seconds, 180.0), seed=args.seed, loop=True)
        from hipmon.app.chain import ChainSource

        return ChainSource.emulated(seconds=min(seconds, 1800.0), seed=args.seed, kind=args.emulate)
    if not args.config:
        raise CommandError("give --config SESSION.toml (run `hipmon scan` to find your sensors) or --emulate KIND")
    from hipmon.app.chain import ChainSource

    try:
        return ChainSource.hardware(config=args.config)
    except Exception as exc:
        raise CommandError(f"{args.config}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError

    if args.duration is not None and args.duration <= 0:
        raise CommandError("--duration must be positive")
    rec_dir = None if args.no_gui else recordings_dir(args)
    source = _source(args)
    if not args.no_gui:
        from hipmon.app.main import run_live

        return run_live(source, duration=args.duration, screenshot=args.screenshot, muted=args.mute,
                        athlete=args.athlete, session=args.session, fade=fade_schedule(args), recordings_dir=rec_dir)
    return run_terminal(source, args.duration)


def run_terminal(source, duration: float | None, out=None) -> int:
    """No Qt: the runner thread fills a LiveState; this loop prints each new event and alert."""
    from hipmon.app.session import SessionRunner
    from hipmon.buffers import LiveState

    out = out or sys.stdout
    state = LiveState()
    runner = SessionRunner(source, state)
    runner.start()
    ev_seq = al_seq = 0
    t0 = time.monotonic()
    last_cal = ""
    print("# time      kind    side   peaks (pelvic drop, hip adduction, hip internal rotation)  [active alert]",
          file=out, flush=True)
    try:
        while True:
            cal = state.calibration()
            text = f"{cal.stage}: {cal.message}" if cal.stage != "none" else ""
            if text and text != last_cal:
                print(f"# calibration {text}" + (f" (quality {cal.quality:.2f})" if cal.quality is not None else ""),
                      file=out, flush=True)
                last_cal = text
            for seq, ev in state.events_since(ev_seq):
                ev_seq = seq
                print(format_event(ev), file=out, flush=True)
            for a in state.alerts(al_seq):
                al_seq = a.seq
                print(f"{a.time_s:8.2f} s  ALERT   {a.message}", file=out, flush=True)
            if runner.finished.is_set() or (duration is not None and time.monotonic() - t0 >= duration):
                break
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()
    if runner.error is not None:
        from hipmon.cli import CommandError

        raise CommandError(f"acquisition failed: {runner.error}")
    return 0
