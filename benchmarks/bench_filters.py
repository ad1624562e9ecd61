"""Every ``--filter`` hipmon offers against the default (VQF), on simulated and real data (docs/fusion.md).

Usage (from the repository root):

    .venv/bin/python benchmarks/bench_filters.py [--filters vqf,madgwick,mahony,ekf]
        [--kind run --seconds 120 --seeds 0,1] [--real ../shared/data/real] [--broad 02,07,...]

1. Simulated session (``hipmon.simulate``, ``mounting="random"``, the simulator's
   default sensor errors: noise, constant + random-walk gyroscope bias, scale
   errors, acc bias): each filter through the whole pipeline
   (``process_samples``, ``PipelineConfig(filter=...)``); per angle, RMSE and
   worst-case |error| (deg) against the truth over the valid frames; and per sensor,
   the inclination RMSE (deg) of the filter's own orientation (angle between the
   estimated and the true vertical in the sensor frame, after 5 s).
2. Real trial ``neura-sparse-s02-walk`` (``../shared/data/real``): per angle, the
   pipeline's RMSE against the marker angles, and the trial's "floor" computed with
   this filter's orientations (``oracle_floor.py``: best constant alignments fitted
   to the markers, so what remains is the filter plus soft tissue), over the
   trial's window (walking after its first 2 s, standing after).
3. ``--broad``: mean inclination RMSE on those BROAD trials (optical truth,
   ``benchmarks/bench_fusion_broad.py``).

``--mag``: part 1 only, magnetometer-aided (``PipelineConfig(use_mag=True)``, the
simulator's field with its floor dipole and hard/soft iron), the refused ahrs 9D
variants included (``hipmon.fusion.REFUSED`` is lifted for this run) to show why
they are refused:

    .venv/bin/python benchmarks/bench_filters.py --mag --seconds 120 --seeds 0,1

A filter passes when, on each data set, its largest per-angle RMSE and its largest
worst-case error are at most 1.5x the default filter's (``RATIO``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from hipmon import rotations as rot
from hipmon.fusion import make_filter
from hipmon.pipeline import PipelineConfig, process_samples
from hipmon.simulate import simulate
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS, SensorSpec

HERE = Path(__file__).resolve().parent
RATIO = 1.5
SHORT = ["tilt", "obliq", "rot", "flex L", "add L", "IR L", "flex R", "add R", "IR R"]


def parse_spec(spec: str) -> tuple[str, dict]:
    """``"madgwick:gain=0.1:rest_bias=false"`` -> ``("madgwick", {"gain": 0.1, "rest_bias": False})``."""
    name, *pairs = spec.split(":")
    params: dict = {}
    for pair in pairs:
        key, value = pair.split("=")
        params[key] = {"true": True, "false": False}[value.lower()] if value.lower() in ("true", "false") else float(value)
    return name, params


def pipeline_config(spec: str) -> PipelineConfig:
    """The pipeline's settings for one filter spec (VQF keeps the pipeline's own VQF settings)."""
    name, params = parse_spec(spec)
    cfg = PipelineConfig(filter=name, events=False)
    cfg.filter_params = {**cfg.filter_params, **params}
    return cfg


def inclination_rmse_deg(sim, spec: str, after_s: float = 5.0) -> dict[str, float]:
    """Per sensor: RMSE (deg) of the angle between estimated and true vertical (sensor frame), after ``after_s``."""
    name, params = parse_spec(spec)
    cfg = PipelineConfig(filter=name)
    out = {}
    for p in PLACEMENTS:
        s = sim.sensors[p]
        q = make_filter(name, s.rate_hz, **{**cfg.filter_params, **params}).update(s.acc_sensor, s.gyr_sensor)
        idx = np.clip(np.round(s.time_session_s * sim.truth_rate_hz).astype(int), 0, sim.truth_time_s.size - 1)
        q_mount = s.q_sensor_segment if s.q_sensor_segment_t is None else s.q_sensor_segment_t
        q_true = rot.multiply(sim.q_segment_global[p][idx], q_mount)  # q_sensor_global
        up_est = rot.rotate(rot.conjugate(q), np.array([0.0, 0.0, 1.0]))  # earth z up
        up_true = rot.rotate(rot.conjugate(q_true), np.array([0.0, 1.0, 0.0]))  # global Y up
        e = np.degrees(np.arccos(np.clip(np.sum(up_est * up_true, axis=1), -1.0, 1.0)))
        k = s.time_session_s > after_s
        out[p] = float(np.sqrt(np.mean(e[k] ** 2)))
    return out


def simulated(specs: list[str], kind: str, seconds: float, seeds: list[int], use_mag: bool = False) -> dict[str, dict]:
    """{spec: {"rmse": (9,), "worst": (9,), "incl": {placement: rmse}, "cpu_s": float}} pooled over seeds."""
    res: dict[str, dict] = {s: {"err": [], "incl": [], "cpu_s": 0.0} for s in specs}
    for seed in seeds:
        sim = simulate(kind, seconds, seed, mounting="random")
        samples = {p: (sim.sensors[p].time_session_s, sim.sensors[p].acc_sensor, sim.sensors[p].gyr_sensor,
                       sim.sensors[p].mag_sensor if use_mag else None) for p in PLACEMENTS}
        sensor_specs = [SensorSpec(p, p, None, sim.sensors[p].rate_hz) for p in PLACEMENTS]
        for spec in specs:
            t0 = time.process_time()
            cfg = pipeline_config(spec)
            cfg.use_mag = use_mag
            r = process_samples(samples, sensor_specs, cfg)
            res[spec]["cpu_s"] += time.process_time() - t0
            f = r.frames
            truth = np.stack([np.interp(f.time_s, sim.truth_time_s, sim.truth_angles_deg[:, c]) for c in range(9)], 1)
            err = f.angles_deg[f.valid] - truth[f.valid]
            err[:, 2] = (err[:, 2] + 180.0) % 360.0 - 180.0
            res[spec]["err"].append(err)
            res[spec]["incl"].append({p: float("nan") for p in PLACEMENTS} if use_mag else inclination_rmse_deg(sim, spec))
            print(f"sim seed {seed} {spec}: max RMSE {np.sqrt(np.mean(err**2, 0)).max():.2f}, "
                  f"worst {np.abs(err).max():.2f} deg", file=sys.stderr, flush=True)
    out = {}
    for spec, v in res.items():
        err = np.concatenate(v["err"])
        out[spec] = {"rmse": np.sqrt(np.mean(err**2, axis=0)), "worst": np.abs(err).max(axis=0),
                     "incl": {p: float(np.sqrt(np.mean([d[p] ** 2 for d in v["incl"]]))) for p in PLACEMENTS},
                     "cpu_s": v["cpu_s"]}
    return out


def real_trial(specs: list[str], real: Path) -> dict[str, dict]:
    """{spec: {"rmse": (9,) pipeline vs markers, "worst": (9,), "floor": (9,) oracle fit with this filter}}."""
    folder = real / "neura-sparse-s02-walk"
    if not folder.is_dir():
        raise SystemExit(f"{folder}: real recording missing (../shared beside the checkout)")
    sys.path.insert(0, str(folder))
    import load_neura as L
    import oracle_floor as O
    from scipy.spatial.transform import Rotation

    ref = L.reference_angles(L.load_vicon())
    imu = {p: L.load_imu(p) for p in PLACEMENTS}
    t_ref = ref["time_s"]
    window = np.zeros(t_ref.size, bool)
    for a, b in O.WINDOW:
        window |= (t_ref >= a) & (t_ref <= b)
    out = {}
    for spec in specs:
        cfg = pipeline_config(spec)

        def orientation(placement, source, cfg=cfg):  # oracle_floor's hook: this filter instead of its VQF
            q = make_filter(cfg.filter, L.FS, **cfg.filter_params).update(imu[placement]["acc"], imu[placement]["gyr"])
            return Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()

        O._sensor_orientation = orientation
        floor = O.errors(O.oracle_angles(), ref)
        samples = {p: (imu[p]["time_s"], imu[p]["acc"], imu[p]["gyr"], None) for p in PLACEMENTS}
        r = process_samples(samples, [SensorSpec(p, p, None, L.FS) for p in PLACEMENTS], cfg)
        f = r.frames
        rmse, worst = np.full(9, np.nan), np.full(9, np.nan)
        for i, c in enumerate(ANGLE_COLUMNS):
            est = np.interp(t_ref, f.time_s[f.valid], f.angles_deg[f.valid, i], left=np.nan, right=np.nan)
            e = (est - ref[c])[window]
            if c == "pelvis_rotation_deg":
                e = (e + 180.0) % 360.0 - 180.0
            e = e[np.isfinite(e)]
            rmse[i], worst[i] = np.sqrt(np.mean(e**2)), np.abs(e).max()
        out[spec] = {"rmse": rmse, "worst": worst, "floor": np.array([floor[c][0] for c in ANGLE_COLUMNS])}
        print(f"real {spec}: max RMSE {rmse.max():.2f} deg", file=sys.stderr, flush=True)
    return out


def verdict(res: dict[str, dict], default: str, keys=("rmse", "worst")) -> dict[str, str]:
    """"pass" when each of ``keys``' largest per-angle value is within RATIO x the default filter's."""
    out = {}
    for spec, v in res.items():
        ratios = [float(np.nanmax(v[k]) / np.nanmax(res[default][k])) for k in keys]
        out[spec] = ("pass" if max(ratios) <= RATIO else "FAIL") + " (" + ", ".join(f"{r:.2f}x" for r in ratios) + ")"
    return out


def angle_table(res: dict[str, dict], key: str, title: str) -> list[str]:
    lines = [f"{title}", "", "| filter | " + " | ".join(SHORT) + " | max |", "|---" * 11 + "|"]
    for spec, v in res.items():
        lines.append(f"| {spec} | " + " | ".join(f"{x:.2f}" for x in v[key]) + f" | {np.nanmax(v[key]):.2f} |")
    return lines + [""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--filters", default="vqf,madgwick,mahony,ekf", help="comma-separated specs, e.g. madgwick:gain=0.1")
    ap.add_argument("--kind", default="run")
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--real", type=Path, default=HERE.parent.parent / "shared" / "data" / "real")
    ap.add_argument("--mag", action="store_true", help="magnetometer-aided, simulated part only, refused filters included")
    ap.add_argument("--broad", default="", help="BROAD trial prefixes (e.g. 02,07,12), empty: skip")
    args = ap.parse_args()
    specs = args.filters.split(",")
    default = specs[0]
    seeds = [int(s) for s in args.seeds.split(",")]
    lines = [f"Default (reference) filter: `{default}`; pass = largest per-angle RMSE and worst-case error "
             f"within {RATIO}x the default's.", ""]

    if args.mag:
        import hipmon.fusion

        hipmon.fusion.REFUSED.clear()  # measure the refused ones too (this process only)
    sim = simulated(specs, args.kind, args.seconds, seeds, args.mag)
    v = verdict(sim, default)
    mode = " (magnetometer-aided)" if args.mag else ""
    lines += angle_table(sim, "rmse", f"Simulated `{args.kind}`{mode}, {args.seconds:g} s, seeds {args.seeds}: angle RMSE (deg)")
    lines += angle_table(sim, "worst", "Same sessions: worst-case |error| (deg)")
    lines += ["| filter | inclination RMSE pelvis / left thigh / right thigh (deg) | CPU s (pipeline) | verdict |",
              "|---|---|---|---|"]
    for spec, r in sim.items():
        lines.append(f"| {spec} | " + " / ".join(f"{r['incl'][p]:.2f}" for p in PLACEMENTS)
                     + f" | {r['cpu_s']:.0f} | {v[spec]} |")
    lines.append("")
    if args.mag:
        print("\n".join(lines))
        return 0

    real = real_trial(specs, args.real)
    v = verdict(real, default)
    lines += angle_table(real, "rmse", "Real trial `neura-sparse-s02-walk` (walking after its first 2 s, standing after): "
                                       "pipeline angle RMSE vs markers (deg)")
    lines += angle_table(real, "worst", "Same window: worst-case |error| (deg)")
    lines += angle_table(real, "floor", "Same window: floor with this filter's orientations (oracle_floor.py fit), RMSE (deg)")
    lines += ["| filter | verdict (real) |", "|---|---|"] + [f"| {s} | {v[s]} |" for s in specs] + [""]

    if args.broad:
        sys.path.insert(0, str(HERE))
        from bench_fusion_broad import run as broad_run

        rows = broad_run(args.real.parent / "broad", specs, args.broad.split(","), False)
        lines += ["| filter | BROAD inclination RMSE, mean over trials (deg) |", "|---|---|"]
        for spec in specs:
            lines.append(f"| {spec} | {np.mean([r['inclination'] for r in rows if r['filter'] == spec]):.2f} |")
        lines.append("")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
