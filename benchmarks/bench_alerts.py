"""Alerts: false alert rate on healthy runners and detection delay on fatiguing ones (issue 11).

Each session is simulated (``hipmon.simulate.simulate("run", ...)``, soft tissue
ON unless ``--sim soft_tissue=false``), fed to the causal pipeline as decoded
samples (``hipmon.pipeline.process_samples``: sync, fusion, calibration,
kinematics, events and the pipeline's own ``AlertEngine``), and its alerts are
scored against the simulation's truth:

- healthy runners (no fault, no fatigue): every alert is false; prints false
  alerts per hour per seed and the mean, plus the settled pelvic-drop baseline
  against the true median drop of the session (deg);
- fatiguing presets: the true onset is the simulator's fatigue start
  (``stand_s + fatigue_onset_s`` of session time for run/walk, see
  ``hipmon.simulate.motion.build_motion``), the fatiguing side is
  ``fatigue_side``; detection delay = first alert on that side at or after the
  onset minus the onset; an alert on the other side, or before the onset, is false.

    .venv/bin/python benchmarks/bench_alerts.py                               # 10 seeds x 20 min + presets
    .venv/bin/python benchmarks/bench_alerts.py --seeds 0,1 --minutes 5 --preset-seeds 0
    .venv/bin/python benchmarks/bench_alerts.py --fast                       # frames from the truth (no pipeline)
    .venv/bin/python benchmarks/bench_alerts.py --rules my_rules.toml --sim soft_tissue_mm=20

Results: docs/events-and-alerts.md, "Alerts: false alert rate and detection delay".
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from hipmon.alerts import AlertEngine, load_rules
from hipmon.pipeline import PipelineConfig, process_samples
from hipmon.simulate import PRESETS, simulate
from hipmon.types import PLACEMENTS, SensorSpec

DROP = "peak_pelvic_drop_deg"


def fatigue_presets() -> list[str]:
    """The simulator's presets with fatigue (``fatigue_deg`` > 0)."""
    return [name for name, opts in PRESETS.items() if opts.get("fatigue_deg", 0.0) > 0.0]


def true_fatigue_onset_s(sim) -> float:
    """Session time (s) at which the simulated fatigue starts.

    Run and walk: the gait starts after ``stand_s``, fatigue ``fatigue_onset_s``
    later. Single-leg stance: fatigue restarts with every hold, so the onset is
    the start of the first true hold on the fatiguing side (plus ``fatigue_onset_s``).
    """
    if sim.kind in ("run", "walk"):
        return float(sim.athlete.stand_s + sim.athlete.fatigue_onset_s)
    if sim.kind == "stance":
        sides = ("left", "right") if sim.athlete.fatigue_side == "both" else (sim.athlete.fatigue_side,)
        holds = [e.start_s for e in sim.events if e.kind == "hold" and e.side in sides]
        return float(min(holds) + sim.athlete.fatigue_onset_s)
    raise ValueError(f"fatigue onset is defined here for run, walk and stance, not {sim.kind!r}")


def task_of(preset: str) -> tuple[str, float | None]:
    """(task, seconds or None for ``--preset-minutes``) a fatigue preset is run on.

    A preset whose fatigue restarts per hold (no ``fatigue_onset_s``, e.g.
    ``trendelenburg_right``) is the single-leg stance test (80 s: one hold per side).
    """
    return ("run", None) if PRESETS[preset].get("fatigue_onset_s") is not None else ("stance", 80.0)


def with_pelvis_drift(events, drift_deg: float, t0_s: float, t1_s: float):
    """Copies of ``events`` with a pelvis roll error ramping 0 -> ``drift_deg`` over [t0_s, t1_s] (s).

    A pelvis obliquity error d (right side up) adds d to right-stance drop and
    right hip adduction and takes d off the left ones (left side mirrored).
    """
    out = []
    for e in events:
        c = _copy(e)
        d = drift_deg * float(np.clip((e.start_s - t0_s) / max(t1_s - t0_s, 1e-9), 0.0, 1.0))
        sign = {"right": 1.0, "left": -1.0}.get(e.side, 0.0)
        c.peak_pelvic_drop_deg = e.peak_pelvic_drop_deg + sign * d
        c.peak_hip_adduction_deg = e.peak_hip_adduction_deg + sign * d
        out.append(c)
    return out


def run_session(sim, rules, fast: bool, pelvis_drift_deg: float = 0.0):
    """(events, alerts, engine or None) of a simulation through the pipeline (or from its truth with ``fast``).

    ``pelvis_drift_deg``: the events are re-judged with an added pelvis roll
    error ramping to that size from 2 min to the end (``with_pelvis_drift``).
    """
    if pelvis_drift_deg:
        events, _, _ = run_session(sim, rules, fast)
        events = with_pelvis_drift(events, pelvis_drift_deg, 120.0, float(sim.truth_time_s[-1]))
        engine = AlertEngine(rules)
        return events, engine.update(events), engine
    if fast:
        from hipmon.events import detect_events, frames_from_simulation

        frames = frames_from_simulation(sim, angle_bias_deg=1.0, angle_noise_deg=0.4, seed=sim.seed)
        events = detect_events(frames)
        engine = AlertEngine(rules)
        return events, engine.update(events), engine
    specs = [SensorSpec(p, p, None, sim.sensors[p].rate_hz) for p in PLACEMENTS]
    samples = {p: (sim.sensors[p].time_session_s, sim.sensors[p].acc_sensor, sim.sensors[p].gyr_sensor, None)
               for p in PLACEMENTS}
    res = process_samples(samples, specs, PipelineConfig(alert_rules=rules))
    return res.events, res.alerts, None


def healthy(seeds, minutes, rules, sim_opts, fast, pelvis_drift_deg=0.0):
    print(f"## healthy runners: {minutes:g} min, soft tissue {sim_opts.get('soft_tissue')}"
          + (f", added pelvis roll drift {pelvis_drift_deg:g} deg" if pelvis_drift_deg else ""))
    print("| seed | stances | false alerts | per hour | alerts (rule side time_s) | drop baseline - true median L / R deg |")
    print("|---|---|---|---|---|---|")
    rates = []
    for seed in seeds:
        sim = simulate("run", 60.0 * minutes, seed, **sim_opts)
        events, alerts, _ = run_session(sim, rules, fast, pelvis_drift_deg)
        per_h = len(alerts) / (minutes / 60.0)
        rates.append(per_h)
        # the engine the pipeline used is not exposed: re-form the baseline from the events (same rule, same order)
        eng = AlertEngine(rules)
        eng.update([_copy(e) for e in events])
        berr = []
        for side in ("left", "right"):
            b = eng.baseline.get("stance", side, DROP)
            true = np.median([e.peak_pelvic_drop_deg for e in sim.events if e.kind == "stance" and e.side == side])
            berr.append(f"{b - true:+.2f}" if b is not None else "none")
        n_st = sum(e.kind == "stance" for e in events)
        listed = " ".join(f"{a.rule} {a.side} {a.time_s:.0f}" for a in alerts[:6]) + (" …" if len(alerts) > 6 else "")
        print(f"| {seed} | {n_st} | {len(alerts)} | {per_h:.2f} | {listed} | {' / '.join(berr)} |", flush=True)
    print(f"\nmean false alerts per hour: {np.mean(rates):.2f} over {len(seeds)} seeds x {minutes:g} min "
          f"({len(seeds) * minutes / 60.0:.1f} h)\n")
    return rates


def presets(names, seeds, minutes, rules, sim_opts, fast):
    print(f"## fatiguing presets: {minutes:g} min runs")
    print("| preset (task) | seed | side | true onset s | first alert on that side s | delay s | false alerts (rule side time_s) |")
    print("|---|---|---|---|---|---|---|")
    delays = {}
    for name in names:
        for seed in seeds:
            task, seconds = task_of(name)
            sim = simulate(task, seconds or 60.0 * minutes, seed, preset=name, **sim_opts)
            onset = true_fatigue_onset_s(sim)
            sides = ("left", "right") if sim.athlete.fatigue_side == "both" else (sim.athlete.fatigue_side,)
            _, alerts, _ = run_session(sim, rules, fast)
            hits = [a for a in alerts if a.side in sides and a.time_s >= onset]
            false = [a for a in alerts if a.side not in sides or a.time_s < onset]
            first = min((a.time_s for a in hits), default=float("nan"))
            delay = first - onset
            delays.setdefault(name, []).append(delay)
            rules_hit = ",".join(sorted({a.rule for a in hits}))
            listed = "; ".join(f"{a.rule} {a.side} {a.time_s:.0f}" for a in false)
            print(f"| {name} ({task}) | {seed} | {'/'.join(sides)} | {onset:.1f} | {first:.1f} ({rules_hit}) | {delay:.1f} | "
                  f"{len(false)}{': ' + listed if listed else ''} |", flush=True)
    print()
    for name, d in delays.items():
        d = np.asarray(d)
        missed = int(np.sum(~np.isfinite(d)))
        worst = np.nanmax(d) if np.isfinite(d).any() else float("nan")
        print(f"{name}: detection delay median {np.nanmedian(d):.1f} s, worst {worst:.1f} s, missed {missed} of {d.size}")
    return delays


def _copy(e):
    import copy

    c = copy.copy(e)
    c.extra = dict(e.extra)
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9", help="healthy runners' seeds")
    ap.add_argument("--minutes", type=float, default=20.0, help="healthy session length")
    ap.add_argument("--presets", default=",".join(fatigue_presets()),
                    help="fatigue presets (default: every preset with fatigue; run task, or the single-leg stance "
                         "test for a per-hold fatigue); empty for none")
    ap.add_argument("--preset-seeds", default="0,1,2")
    ap.add_argument("--preset-minutes", type=float, default=4.0)
    ap.add_argument("--rules", default=None, help="alert rules TOML (default: the shipped rules)")
    ap.add_argument("--sim", action="append", default=[], metavar="KEY=VALUE",
                    help="simulator option (JSON value), e.g. soft_tissue=false, soft_tissue_mm=20")
    ap.add_argument("--fast", action="store_true", help="frames from the simulation truth instead of the pipeline")
    ap.add_argument("--pelvis-drift", type=float, default=0.0, metavar="DEG",
                    help="healthy runners: re-judge with a pelvis roll error ramping to DEG (from 2 min to the end)")
    args = ap.parse_args()
    sim_opts = {"soft_tissue": True}
    for kv in args.sim:
        k, v = kv.split("=", 1)
        sim_opts[k] = json.loads(v)
    rules = load_rules(args.rules)
    t0 = time.process_time()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    if seeds:
        healthy(seeds, args.minutes, rules, sim_opts, args.fast, args.pelvis_drift)
    names = [p for p in args.presets.split(",") if p]
    if names:
        presets(names, [int(s) for s in args.preset_seeds.split(",") if s], args.preset_minutes, rules, sim_opts,
                args.fast)
    print(f"\nCPU {time.process_time() - t0:.0f} s; simulator options {sim_opts}")


if __name__ == "__main__":
    main()
