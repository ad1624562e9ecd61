"""``hipmon live``: the live dashboard on real sensors (session configuration) or emulated ones; --no-gui for a terminal."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

from hipmon.commands._feedback import add_feedback_arguments, fade_schedule
from hipmon.commands._options import add_pipeline_arguments
from hipmon.commands._recordings import add_recordings_argument, emulation_rate_hz, recordings_dir

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
    parser.add_argument("--profile", help="with --emulate: the emulated sensors' firmware profile (default movesense-gsp)")
    parser.add_argument("--rate", type=float, help="with --emulate: sample rate (Hz; default 208)")
    parser.add_argument("--loss", type=float, default=0.0, help="with --emulate: notification loss probability")
    parser.add_argument("--disconnects", type=int, default=0, help="with --emulate: forced disconnects per sensor")
    parser.add_argument("--preset", metavar="NAME", help="with --emulate: named athlete (as hipmon simulate --preset; "
                        "default: right_hip_tires)")
    from hipmon.commands.record import add_placement_arguments

    add_placement_arguments(parser)
    parser.add_argument("--record", metavar="SESSION", nargs="?", const="",
                        help="record the raw notifications to this session file from the start (with --no-gui; the "
                             "window has its Record button); without SESSION: a new file in the athlete library "
                             "(needs --athlete)")
    add_pipeline_arguments(parser, grid_rate=False)
    parser.add_argument("--lsl", action="store_true",
                        help="also stream the angles (type MoCap) and events, alerts and markers (JSON strings) to "
                             "the Lab Streaming Layer (hipmon.lsl)")
    parser.add_argument("--lsl-name", default="hipmon", metavar="NAME",
                        help="with --lsl: the streams' name prefix (NAME angles, NAME markers)")
    parser.add_argument("--athlete", default="", help="athlete name (the Record button and --record without a file "
                        "write into the athlete library under this name)")
    parser.add_argument("--session", default="", help="session name (e.g. baseline, week 4)")
    from hipmon.commands.sessions import add_library_argument, add_protocol_arguments

    add_protocol_arguments(parser)
    add_library_argument(parser)


def format_event(ev) -> str:
    """One terminal line per stride/landing: time, kind, side, the three peaks, the alert rule if active."""
    def f(v: float) -> str:
        return "  —  " if not math.isfinite(v) else f"{v:5.1f}"

    from hipmon.metric_registry import HIP_ADDUCTION, HIP_INTERNAL_ROTATION, PELVIC_DROP

    drop, add, ir = (getattr(ev, m.name) for m in (PELVIC_DROP, HIP_ADDUCTION, HIP_INTERNAL_ROTATION))
    line = f"{ev.end_s:8.2f} s  {ev.kind:<7} {ev.side:<5}  drop {f(drop)}°  ADD {f(add)}°  IR {f(ir)}°"
    if ev.alert:
        line += f"  [{ev.alert}]"
    return line


def _source(args: argparse.Namespace):
    from hipmon.cli import CommandError
    from hipmon.commands.record import parse_off_air, parse_placements

    seconds = (args.duration + 15.0) if args.duration else 3600.0
    placements = parse_placements(args.placements)
    if not args.emulate and (args.off_air or args.preset or args.loss or args.disconnects):
        raise CommandError("--off-air, --preset, --loss and --disconnects describe emulated sensors: "
                           "use them with --emulate KIND")
    if args.emulate:
        if args.truth:
            from hipmon.app.feeds import demo_feed

            if placements != ("pelvis", "left_thigh", "right_thigh") or args.off_air:
                raise CommandError("--truth shows the simulator's angles of all three sensors: "
                                   "--placements and --off-air need the emulated sensors (drop --truth)")
            return demo_feed(seconds=min(seconds, 180.0), seed=args.seed, loop=True)
        from hipmon.app.chain import DEMO_PRESET, ChainSource

        if not 0.0 <= args.loss < 1.0 or args.disconnects < 0 or (args.rate is not None and args.rate <= 0):
            raise CommandError("--loss must be in [0, 1), --disconnects >= 0, --rate > 0")
        try:
            from hipmon.commands.record import emulated_sides, session_metadata

            return ChainSource.emulated(seconds=min(seconds, 1800.0), seed=args.seed, kind=args.emulate,
                                        simulate_options=emulated_sides(session_metadata(args), {},
                                                                                explicit=bool(args.protocol)),
                                        profile=args.profile or "movesense-gsp",
                                        rate_hz=emulation_rate_hz(args.profile or "movesense-gsp", args.rate),
                                        loss=args.loss, disconnects=args.disconnects,
                                        preset=args.preset or DEMO_PRESET, placements=placements,
                                        off_air=parse_off_air(args.off_air, placements))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
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
    from hipmon.commands.record import session_metadata
    from hipmon.commands.sessions import library_output
    from hipmon.library import library_root

    meta = session_metadata(args)
    rec_dir = None if args.no_gui else recordings_dir(args)
    if args.record is not None and not args.record:
        args.record, _ = library_output(args, None, meta.get("protocol"), what="--record SESSION")
    from hipmon.commands._options import pipeline_config

    config = pipeline_config(args, grid_rate=False)
    if args.truth and (args.filter != "vqf" or args.mag or args.rules):
        raise CommandError("--truth shows the simulator's angles: --filter, --mag and --rules need the sensors")
    source = _source(args)
    if source.can_record:  # sensors (emulated or real) through hipmon.pipeline
        source.pipeline_config = config
    if args.record:
        if not args.no_gui:
            raise CommandError("--record is for --no-gui (the window records with its Record button)")
        if os.path.exists(args.record):
            raise CommandError(f"{args.record}: already exists (choose a new session file)")
        if not source.can_record:
            raise CommandError("--record needs sensors (emulated or real), not --truth")
    sinks = []
    marker_sinks = []
    if args.lsl:
        from hipmon.lsl import LiveLsl, LslError

        try:
            lsl = LiveLsl(source, name=args.lsl_name, session_info={"athlete": args.athlete, "session": args.session,
                                                                 "source": source.label})
        except LslError as exc:
            raise CommandError(str(exc)) from None
        sinks.append(lsl)
        marker_sinks.append(lsl.marker)
    if not args.no_gui:
        from hipmon.app.main import run_live

        return run_live(source, duration=args.duration, screenshot=args.screenshot, muted=args.mute,
                        athlete=args.athlete, session=args.session, fade=fade_schedule(args), recordings_dir=rec_dir,
                        sinks=sinks, marker_sinks=marker_sinks, protocol=meta.get("protocol"), side=meta.get("protocol_side"),
                        library=str(library_root(args.library)))
    return run_terminal(source, args.duration, record=args.record, sinks=sinks, metadata=meta)


def describe_placements(placements) -> list[str]:
    """``# sensors: ...`` header lines: what this session measures and what it cannot (``pipeline.measurable``)."""
    from hipmon.metric_registry import is_metric_quantity
    from hipmon.pipeline import measurable

    m = measurable(placements)
    lines = [f"# sensors: {', '.join(m['placements'])}"
             + (" (one sensor on the sacrum)" if m["placements"] == ["pelvis"] else "")]
    if m["not_measurable"]:
        by_why: dict[str, list[str]] = {}
        for q, why in m["not_measurable"].items():
            if not is_metric_quantity(q):
                by_why.setdefault(why, []).append(q)
        for why, qs in by_why.items():
            lines.append(f"# not measured: {', '.join(qs)} ({why}); shown as '—'")
    return lines


def _print_new(state, ev_seq: int, al_seq: int, out) -> tuple[int, int]:
    """Print the events and alerts after ``ev_seq``/``al_seq``; the new sequence numbers."""
    from hipmon.buffers import alert_message  # noqa: PLC0415

    for seq, ev in state.events_since(ev_seq):
        ev_seq = seq
        print(format_event(ev), file=out, flush=True)
    for seq, a in state.alerts_since(al_seq):
        al_seq = seq
        print(f"{a.time_s:8.2f} s  ALERT   {alert_message(a)}", file=out, flush=True)
    return ev_seq, al_seq


def run_terminal(source, duration: float | None, out=None, record: str | None = None, sinks=None,
                 metadata: dict | None = None) -> int:
    """No Qt: the runner thread fills a LiveState; this loop prints each new event and alert.

    ``record``: a session file the runner writes from the start (raw notifications, alerts);
    ``metadata``: protocol, its side and the athlete (stored in it; with a protocol its result is
    printed at the end, ``# ``-prefixed)."""
    from hipmon.app.session import SessionRunner
    from hipmon.buffers import LiveState

    from hipmon.app.model import PROTOCOL_WINDOW_S, ProtocolChoice, protocol_result

    out = out or sys.stdout
    metadata = dict(metadata or {})
    state = LiveState(seconds=PROTOCOL_WINDOW_S)
    runner = SessionRunner(source, state, sinks=sinks)
    if record:
        runner.start_recording(record, metadata=metadata)  # served on the runner thread once the source has started
    runner.start()
    ev_seq = al_seq = 0
    t0 = time.monotonic()
    last_cal = ""
    links: dict[str, bool] = {}
    for line in describe_placements(source.placements):
        print(line, file=out, flush=True)
    print("# time      kind    side   peaks (pelvic drop, hip adduction, hip internal rotation)  [active alert]",
          file=out, flush=True)
    try:
        while True:
            for st in state.sensors():
                was = links.get(st.sensor_id)
                if was is None and not st.connected:
                    continue  # still connecting at the start
                if was is not None and was != st.connected:  # a sensor lost: its angles are gaps until it is back
                    print(f"# {st.placement or st.sensor_id}: " + ("back" if st.connected else
                          "connection lost (its angles are gaps until it is back)")
                          + f" at {state.now_s() or 0.0:.1f} s", file=out, flush=True)
                links[st.sensor_id] = st.connected
            cal = state.calibration()
            text = f"{cal.stage}: {cal.message}" if cal.stage != "none" else ""
            if text and text != last_cal:
                print(f"# calibration {text}" + (f" (quality {cal.quality:.2f})" if cal.quality is not None else ""),
                      file=out, flush=True)
                last_cal = text
            ev_seq, al_seq = _print_new(state, ev_seq, al_seq, out)
            if runner.finished.is_set() or (duration is not None and time.monotonic() - t0 >= duration):
                break
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        # the runner ends the session: what is still queued goes to the recording and the
        # pipeline, which is flushed (as a replay ends); the lines below are its last events
        runner.stop(timeout=120.0)
    _print_new(state, ev_seq, al_seq, out)
    choice = ProtocolChoice(metadata.get("protocol"), metadata.get("protocol_side"))
    if choice.name:
        for line in protocol_result(state, choice).lines():
            print(f"# {line}", file=out, flush=True)
    if record and os.path.exists(record):
        print(f"# recorded {record}", file=out, flush=True)
    if runner.error is not None:
        from hipmon.cli import CommandError

        raise CommandError(f"acquisition failed: {runner.error}")
    return 0
