"""``hipmon simulate``: Simulate an athlete (run, jump, squat, stance, walk): sensor CSVs, truth angles and events."""

from __future__ import annotations

import argparse

HELP = "Simulate an athlete (run, jump, squat, stance, walk): sensor CSVs, truth angles and events."

_KINDS = ("run", "walk", "jump", "squat", "stance", "stand")
#: ImuModel's on/off fields (kept equal by tests/test_simulate_options.py; importing the simulator here
#: would load scipy for every command)
_SWITCHES = ("gyro_bias", "gyro_bias_drift", "acc_bias", "acc_scale", "gyro_scale", "saturation",
             "mag_disturbance", "timing", "clock", "lever_arm", "soft_tissue")


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected on/off, not {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=_KINDS, help="task to simulate")
    parser.add_argument("--seconds", type=float, required=True, help="session length, s")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed: byte-identical files)")
    parser.add_argument("-o", "--output", required=True, help="output directory")
    parser.add_argument("--preset", help="named athlete: healthy, right_hip_tires, left_hip_tires, "
                        "weak_right_glute, right_valgus, trendelenburg_right")
    g = parser.add_argument_group("athlete")
    g.add_argument("--speed", type=float, dest="speed_mps", help="gait speed, m/s (run 3.3, walk 1.3)")
    g.add_argument("--cadence", type=float, dest="cadence_spm", help="steps per minute")
    g.add_argument("--overground", action="store_true", help="gait travels forward (default for walk)")
    g.add_argument("--treadmill", action="store_true", help="gait on a treadmill (default for run)")
    for side in ("left", "right"):
        g.add_argument(f"--{side}-drop", type=float, dest=f"{side}_drop_deg",
                       help=f"peak contralateral pelvic drop in {side} stance, deg")
        g.add_argument(f"--{side}-adduction", type=float, dest=f"{side}_adduction_deg",
                       help=f"peak {side} hip adduction in {side} stance, deg")
        g.add_argument(f"--{side}-ir", type=float, dest=f"{side}_ir_deg", help=f"peak {side} hip internal rotation, deg")
        g.add_argument(f"--{side}-valgus", type=float, dest=f"{side}_valgus_deg",
                       help=f"extra {side} hip adduction and internal rotation (dynamic valgus), deg")
    g.add_argument("--fatigue", type=float, dest="fatigue_deg", help="extra pelvic drop by the end of the fatigue, deg")
    g.add_argument("--fatigue-side", choices=("left", "right", "both"), dest="fatigue_side")
    g.add_argument("--fatigue-onset", type=float, dest="fatigue_onset_s", help="s after the task starts")
    g.add_argument("--fatigue-duration", type=float, dest="fatigue_duration_s", help="s to full fatigue")
    g.add_argument("--variability", type=float, dest="variability_deg", help="SD of per-event peaks, deg")
    g.add_argument("--sides", help="order of single-leg sets, e.g. right,left")
    g.add_argument("--reps", type=int, help="squats / hops / jumps per side")
    g.add_argument("--hold", type=float, dest="hold_s", help="single-leg stance hold, s")
    g.add_argument("--jump-style", choices=("dvj", "hop"), dest="jump_style")
    s = parser.add_argument_group("sensors")
    s.add_argument("--rate", type=float, dest="rate_hz", help="sample rate, Hz (208)")
    s.add_argument("--truth-rate", type=float, dest="truth_rate_hz", help="truth.csv rate, Hz (200)")
    s.add_argument("--mounting", choices=("default", "aligned", "random"))
    s.add_argument("--noise", type=float, help="white-noise scale (1 = datasheet, 0 = none)")
    s.add_argument("--ideal", action="store_true", help="no sensor errors, timing irregularity, clock effects or soft-tissue artefact")
    for name in _SWITCHES:
        s.add_argument("--" + name.replace("_", "-"), type=_bool, dest=name, metavar="on|off")
    s.add_argument("--soft-tissue-mm", type=float, dest="soft_tissue_mm",
                   help="soft-tissue artefact amplitude, translation, mm (10; the artefact is on by default, "
                   "--soft-tissue off: rigidly attached sensors)")
    s.add_argument("--soft-tissue-deg", type=float, dest="soft_tissue_deg",
                   help="soft-tissue wobble amplitude after impacts, rotation, deg (3)")


def run(args: argparse.Namespace) -> int:
    from hipmon.cli import CommandError
    from hipmon.simulate import OPTION_NAMES, simulate

    options = {k: v for k, v in vars(args).items() if k in OPTION_NAMES and v is not None and v is not False}
    if args.overground and args.treadmill:
        raise CommandError("--overground and --treadmill exclude each other")
    if args.overground:
        options["treadmill"] = False
    if args.treadmill:
        options["treadmill"] = True
    if args.ideal:
        options["ideal"] = True
    for name in _SWITCHES:
        if getattr(args, name) is False:
            options[name] = False
    if args.seconds <= 0:
        raise CommandError("--seconds must be positive")
    try:
        sim = simulate(args.kind, args.seconds, args.seed, **options)
        out = sim.write_dir(args.output)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc}") from None
    counts: dict[str, int] = {}
    for e in sim.events:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no events"
    print(f"{out}: {args.kind} {args.seconds:g} s seed {args.seed}; {summary}")
    return 0
