"""Angle accuracy on simulated sessions (docs/accuracy.md, "Angles on simulated sessions").

Each session: ``hipmon.simulate.simulate(kind, seconds, seed, mounting="random")``
(sensor noise, constant + random-walk gyroscope bias, scale errors, acc bias,
lever arms, timing jitter: the simulator's defaults), fed to the causal pipeline
as decoded samples on their session time (``hipmon.pipeline.process_samples``),
compared with the truth angles interpolated to the frame times. RMSE over every
valid frame after calibration; first and last minute; landings: per-landing peak
hip adduction and internal rotation (``hipmon.metrics.event_peaks`` over the true
landing window) against the true peaks.

    .venv/bin/python benchmarks/bench_angles.py --kind run --seconds 600 --seeds 0,1,2
    .venv/bin/python benchmarks/bench_angles.py --kind jump --seconds 120 --seeds 0,1,2

Magnetometer-aided mode (``PipelineConfig(use_mag=True)``: VQF 9D, the sensors'
magnetometers fed to the pipeline) against the simulator's field, with any
simulator option changed by ``--sim KEY=VALUE`` (JSON values), e.g.:

    .venv/bin/python benchmarks/bench_angles.py --kind run --seconds 300 --mag on            # Earth field + floor dipole + hard/soft iron
    .venv/bin/python benchmarks/bench_angles.py --kind run --seconds 300 --mag on --sim mag_disturbance=false
    .venv/bin/python benchmarks/bench_angles.py --kind run --seconds 300 --mag on --sim mag_hard_iron_ut=0 --sim mag_soft_iron_pct=0
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from hipmon.heading import HeadingConfig
from hipmon.pipeline import PipelineConfig, SensorSpec, process_samples
from hipmon.simulate import simulate
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS

LIMITS = {  # 10-minute run, each side (issue 5)
    "pelvis_obliquity_deg": 1.5,
    "hip_adduction": 2.0,
    "hip_flexion": 3.0,
    "hip_internal_rotation": 4.0,
}


def run_session(kind: str, seconds: float, seed: int, heading: HeadingConfig | None = None, use_mag: bool = False,
                mag_shared_heading: bool = False, **sim_options):
    """(simulation, SessionResult, truth (N, 9) at the frame times)."""
    sim = simulate(kind, seconds, seed, mounting="random", **sim_options)
    specs = [SensorSpec(p, p, None, sim.sensors[p].rate_hz) for p in PLACEMENTS]
    samples = {
        p: (sim.sensors[p].time_session_s, sim.sensors[p].acc_sensor, sim.sensors[p].gyr_sensor,
            sim.sensors[p].mag_sensor if use_mag else None)
        for p in PLACEMENTS
    }
    cfg = PipelineConfig(events=False, heading=heading or HeadingConfig(), use_mag=use_mag,
                         mag_shared_heading=mag_shared_heading)
    result = process_samples(samples, specs, cfg)
    f = result.frames
    truth = np.stack([np.interp(f.time_s, sim.truth_time_s, sim.truth_angles_deg[:, c]) for c in range(9)], axis=1)
    return sim, result, truth


def angle_errors(result, truth) -> dict:
    """RMSE (deg) per column: whole movement after calibration, first and last minute."""
    f = result.frames
    v = f.valid
    err = f.angles_deg[v] - truth[v]
    t = f.time_s[v]

    def rmse(m):
        return {c: float(np.sqrt(np.mean(err[m, i] ** 2))) for i, c in enumerate(ANGLE_COLUMNS)}

    return {
        "all": rmse(np.ones(t.size, bool)),
        "first_min": rmse(t < t[0] + 60.0),
        "last_min": rmse(t > t[-1] - 60.0),
        "calibrated_at_s": float(t[0]),
        "calibration_quality": float(result.calibration.quality),
    }


def landing_errors(sim, result) -> list[dict]:
    """Per true landing: (our peak - true peak) for hip adduction and internal rotation (deg)."""
    from hipmon.metrics import event_peaks

    f = result.frames
    out = []
    for e in sim.events:
        if e.kind != "landing":
            continue
        pk = event_peaks(f.time_s, f.angles_deg, e.side, e.start_s, e.end_s, f.valid)
        out.append({
            "side": e.side, "start_s": e.start_s,
            "adduction_err": pk["peak_hip_adduction_deg"] - e.peak_hip_adduction_deg,
            "ir_err": pk["peak_hip_internal_rotation_deg"] - e.peak_hip_internal_rotation_deg,
        })
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", default="run")
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--heading", default="on", choices=["on", "off", "thigh", "offset-only", "no-rest"],
                    help="heading-drift correction variant (for the comparison table)")
    ap.add_argument("--mag", default="off", choices=["off", "on", "shared"],
                    help="magnetometer-aided mode (VQF 9D, use_mag=True); shared: also every sensor's heading "
                         "from the pelvis's at calibration (mag_shared_heading=True)")
    ap.add_argument("--sim", action="append", default=[], metavar="KEY=VALUE",
                    help="simulator option (JSON value), e.g. mag_disturbance=false; repeatable")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    sim_options = {}
    for kv in a.sim:
        k, v = kv.split("=", 1)
        try:
            sim_options[k] = json.loads(v)
        except json.JSONDecodeError:
            sim_options[k] = v
    heading = {
        "on": HeadingConfig(),
        "off": HeadingConfig(thigh=False, pelvis=False, rest_reset=False),
        "no-rest": HeadingConfig(rest_reset=False),
        "thigh": HeadingConfig(pelvis=False),
        "offset-only": HeadingConfig(thigh_rate=False),
    }[a.heading]
    rows = []
    for seed in (int(s) for s in a.seeds.split(",")):
        t0 = time.perf_counter()
        sim, res, truth = run_session(a.kind, a.seconds, seed, heading, use_mag=a.mag != "off",
                                      mag_shared_heading=a.mag == "shared", **sim_options)
        row = {"seed": seed, **angle_errors(res, truth), "seconds_cpu": time.perf_counter() - t0}
        if a.kind == "jump":
            row["landings"] = landing_errors(sim, res)
        rows.append(row)
        if not a.json:
            al, fm, lm = row["all"], row["first_min"], row["last_min"]
            print(f"seed {seed}: calibrated at {row['calibrated_at_s']:.1f} s, quality {row['calibration_quality']:.2f}")
            for c in ANGLE_COLUMNS:
                print(f"  {c:34s} rmse {al[c]:5.2f}   first min {fm[c]:5.2f}   last min {lm[c]:5.2f}")
            if a.kind == "jump":
                le = row["landings"]
                ea = np.abs([x["adduction_err"] for x in le])
                ei = np.abs([x["ir_err"] for x in le])
                print(f"  landings {len(le)}: |peak adduction err| max {ea.max():.2f} mean {ea.mean():.2f};"
                      f" |peak IR err| max {ei.max():.2f} mean {ei.mean():.2f}")
    if a.json:
        print(json.dumps(rows, indent=1))
    else:
        print("\nworst over seeds (rmse / last-first):")
        for c in ANGLE_COLUMNS:
            w = max(r["all"][c] for r in rows)
            d = max(r["last_min"][c] - r["first_min"][c] for r in rows)
            print(f"  {c:34s} {w:5.2f}  {d:+5.2f}")


if __name__ == "__main__":
    main()
