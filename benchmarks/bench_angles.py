"""Angle accuracy on simulated sessions (docs/accuracy.md, "Angles on simulated sessions").

Each session: ``hipmon.simulate.simulate(kind, seconds, seed, mounting="random")``
(soft tissue calibrated on a real walk since issue 10, sensor noise, constant + random-walk gyroscope bias, scale errors, acc bias,
lever arms, timing jitter: the simulator's defaults), fed to the causal pipeline
as decoded samples on their session time (``hipmon.pipeline.process_samples``),
compared with the truth angles interpolated to the frame times. RMSE over every
valid frame after calibration; first and last minute; landings: per-landing peak
hip adduction and internal rotation (``hipmon.metrics.event_peaks`` over the true
landing window) against the true peaks.

    .venv/bin/python benchmarks/bench_angles.py --kind run --seconds 600 --seeds 0,1,2                          # honest default (soft tissue on)
    .venv/bin/python benchmarks/bench_angles.py --kind run --seconds 600 --seeds 0,1,2 --sim soft_tissue=false   # ideal (rigid) sensors
    .venv/bin/python benchmarks/bench_angles.py --kind jump --seconds 120 --seeds 0,1,2

Magnetometer-aided mode (``PipelineConfig(use_mag=True)``: VQF 9D, the sensors'
magnetometers fed to the pipeline) against the simulator's field, with any
simulator option changed by ``--sim KEY=VALUE`` (JSON values), e.g.:

    .venv/bin/python benchmarks/bench_angles.py --kind run --seconds 300 --mag on            # Earth field + floor dipole + hard/soft iron
    .venv/bin/python benchmarks/bench_angles.py --kind run --seconds 300 --mag on --sim mag_disturbance=false
    .venv/bin/python benchmarks/bench_angles.py --kind run --seconds 300 --mag on --sim mag_hard_iron_ut=0 --sim mag_soft_iron_pct=0

Soft-tissue artefact (docs/simulator.md, "Soft-tissue artefact") and the thigh heading's
source (``--thigh-heading axis``: ``CalibrationConfig(thigh_heading="axis")``, the flexion
axis instead of the hip joint centre). Each seed also prints the calibration's thigh
heading error (estimated against the true nominal mounting, deg), the hip-joint residual
ratios and whether the heading fell back to the flexion axis:

    .venv/bin/python benchmarks/bench_angles.py --kind jump --seconds 120 --seeds 0,1,2,3,4,5 --sim soft_tissue=true --sim soft_tissue_mm=10
    .venv/bin/python benchmarks/bench_angles.py --kind jump --seconds 120 --seeds 0,1,2,3,4,5 --sim soft_tissue=true --thigh-heading axis
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from hipmon import rotations as rot
from hipmon.calibration import CalibrationConfig
from hipmon.heading import HeadingConfig
from hipmon.pipeline import PipelineConfig, process_samples
from hipmon.simulate import simulate
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS, SensorSpec

LIMITS = {  # 10-minute run, each side (issue 5)
    "pelvis_obliquity_deg": 1.5,
    "hip_adduction": 2.0,
    "hip_flexion": 3.0,
    "hip_internal_rotation": 4.0,
}


def run_session(kind: str, seconds: float, seed: int, heading: HeadingConfig | None = None, use_mag: bool = False,
                mag_shared_heading: bool = False, thigh_heading: str = "auto", **sim_options):
    """(simulation, SessionResult, truth (N, 9) at the frame times)."""
    sim = simulate(kind, seconds, seed, mounting="random", **sim_options)
    specs = [SensorSpec(p, p, None, sim.sensors[p].rate_hz) for p in PLACEMENTS]
    samples = {
        p: (sim.sensors[p].time_session_s, sim.sensors[p].acc_sensor, sim.sensors[p].gyr_sensor,
            sim.sensors[p].mag_sensor if use_mag else None)
        for p in PLACEMENTS
    }
    cfg = PipelineConfig(events=False, heading=heading or HeadingConfig(), use_mag=use_mag,
                         mag_shared_heading=mag_shared_heading,
                         calibration_config=CalibrationConfig(thigh_heading=thigh_heading))
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


def calibration_summary(sim, result) -> dict:
    """Thigh heading error of the calibration (deg, rotation about the segment's long axis from the true
    nominal mounting to the estimate), the hip-joint residual ratios and whether the thigh heading fell
    back to the flexion axis."""
    from scipy.signal import butter, sosfiltfilt

    cal = result.calibration
    out: dict = {"quality_reasons": list(cal.reasons)}
    for p in PLACEMENTS:  # what the artefact adds to the calibration walk: accelerometer content above 10 Hz
        s = sim.sensors[p]
        hp = sosfiltfilt(butter(4, 10.0 / (s.rate_hz / 2), "highpass", output="sos"), s.acc_sensor, axis=0)
        k = (s.time_session_s >= cal.movement_s[0]) & (s.time_session_s <= cal.movement_s[1])
        out[f"{p}_walk_acc_above_10hz_rms_m_s2"] = float(np.sqrt(np.mean(np.sum(hp[k] ** 2, axis=1))))
    for p in ("left_thigh", "right_thigh"):
        q = rot.multiply(cal.q_sensor_segment[p], rot.conjugate(sim.sensors[p].q_sensor_segment))
        out[f"{p}_heading_err_deg"] = float(np.degrees(rot.to_rotvec(q[None])[0][1]))
        out[f"{p}_hip_joint_residual_ratio"] = cal.metrics.get(f"{p}_hip_joint_residual_ratio", float("nan"))
        out[f"{p}_fallback"] = any(r.startswith(p) and "heading from the flexion axis" in r for r in cal.reasons)
    return out


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
    ap.add_argument("--thigh-heading", default="auto", choices=["auto", "hip_joint", "axis"],
                    help="CalibrationConfig.thigh_heading: auto (default: hip joint centre in walking "
                         "calibrations, flexion axis in running), hip joint centre, or flexion axis")
    ap.add_argument("--hip-joint-cutoff", type=float, default=None, metavar="HZ",
                    help="experiment: low-pass cutoff of the hip-joint fit (hipmon.hip_joint, default 12 Hz), "
                         "patched in for this run only")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    sim_options = {}
    for kv in a.sim:
        k, v = kv.split("=", 1)
        try:
            sim_options[k] = json.loads(v)
        except json.JSONDecodeError:
            sim_options[k] = v
    if a.hip_joint_cutoff is not None:
        import functools

        import hipmon.hip_joint as hj

        hj.fit_relative_orientation = functools.partial(hj.fit_relative_orientation, cutoff_hz=a.hip_joint_cutoff)
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
                                      mag_shared_heading=a.mag == "shared", thigh_heading=a.thigh_heading,
                                      **sim_options)
        row = {"seed": seed, **angle_errors(res, truth), "calibration": calibration_summary(sim, res),
               "seconds_cpu": time.perf_counter() - t0}
        if a.kind == "jump":
            row["landings"] = landing_errors(sim, res)
        rows.append(row)
        if not a.json:
            al, fm, lm = row["all"], row["first_min"], row["last_min"]
            print(f"seed {seed}: calibrated at {row['calibrated_at_s']:.1f} s, quality {row['calibration_quality']:.2f}")
            cs = row["calibration"]
            print("  thigh heading err (deg) " + "  ".join(
                f"{p[0].upper()} {cs[f'{p}_heading_err_deg']:+.2f}" for p in ("left_thigh", "right_thigh"))
                + "   hip-joint residual ratio " + "  ".join(
                f"{p[0].upper()} {cs[f'{p}_hip_joint_residual_ratio']:.2f}" for p in ("left_thigh", "right_thigh"))
                + "   fallback to axis " + "  ".join(
                f"{p[0].upper()} {'yes' if cs[f'{p}_fallback'] else 'no'}" for p in ("left_thigh", "right_thigh")))
            print("  calibration walk: accelerometer RMS above 10 Hz (m/s2) " + "  ".join(
                f"{p} {cs[f'{p}_walk_acc_above_10hz_rms_m_s2']:.2f}" for p in PLACEMENTS))
            for r in cs["quality_reasons"]:
                print(f"  calibration: {r}")
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
        cs = [r["calibration"] for r in rows]
        he = np.abs([c[f"{p}_heading_err_deg"] for c in cs for p in ("left_thigh", "right_thigh")])
        rr = np.array([c[f"{p}_hip_joint_residual_ratio"] for c in cs for p in ("left_thigh", "right_thigh")])
        fb = sum(c[f"{p}_fallback"] for c in cs for p in ("left_thigh", "right_thigh"))
        hf = np.array([c[f"{p}_walk_acc_above_10hz_rms_m_s2"] for c in cs for p in ("left_thigh", "right_thigh")])
        print(f"calibration walk, thigh accelerometer RMS above 10 Hz {hf.min():.2f}-{hf.max():.2f} m/s2; "
              f"quality {min(r['calibration_quality'] for r in rows):.2f}-{max(r['calibration_quality'] for r in rows):.2f}")
        print(f"thigh heading |err| max {he.max():.2f} mean {he.mean():.2f} deg; hip-joint residual ratio "
              f"{np.nanmin(rr) if np.isfinite(rr).any() else float('nan'):.2f}-"
              f"{np.nanmax(rr) if np.isfinite(rr).any() else float('nan'):.2f}; fallbacks {fb} of {he.size}")
        if a.kind == "jump":
            le = [x for r in rows for x in r["landings"]]
            e = np.array([[abs(x["adduction_err"]), abs(x["ir_err"])] for x in le])
            print(f"landings {len(le)}: within 3 deg (both) {100 * np.mean(e.max(1) <= 3.0):.1f} %; "
                  f"worst adduction {e[:, 0].max():.2f}, IR {e[:, 1].max():.2f} deg")


if __name__ == "__main__":
    main()
