"""hipmon on real people: the nine angles of the real walk against its Vicon markers, next to the floor.

The trial is ``../shared/data/real/neura-sparse-s02-walk`` (Xsens on sacrum and both lateral
thighs, 10.7 s standing, a walk out, a 180° turn, a walk back, standing; read its README).
hipmon is run as a new user would (the loader's ``export_for_hipmon`` CSVs -> ``hipmon import``
-> ``hipmon export``, default settings); the floor is the trial's own ``oracle_floor.py`` (each
real sensor's VQF orientation with the best constant alignments fitted to the markers).
Then the same data through the pipeline, changed in ways that must not change the angles:
each sensor rotated by a random fixed rotation, resampled to 52 and 208 Hz, the standing
shortened, the session cut short.

    python benchmarks/bench_real.py [--rotations 5] [--json OUT.json]

Results and the command: docs/validation.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from hipmon.pipeline import PipelineConfig, process_samples
from hipmon.types import ANGLE_COLUMNS, SensorSpec
from hipmon.validation import angle_errors, angles_difference_rms, resample_imu, rotate_imu

TRIAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "neura-sparse-s02-walk"
#: walking after its first 2 s, and standing after (the issue's windows, oracle_floor.WINDOW)
WINDOWS = ((12.7, 21.7), (22.5, 25.0))
WALK = (10.71, 21.7)
AFTER_TURN = ((15.5, 25.0),)
PLACEMENTS = ("pelvis", "left_thigh", "right_thigh")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, TRIAL / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(TRIAL))
    spec.loader.exec_module(mod)
    return mod


def run_cli(L, workdir: Path) -> tuple[np.ndarray, np.ndarray]:
    """export_for_hipmon -> hipmon import -> hipmon export; returns (time_s, angles_deg (N, 9))."""
    L.export_for_hipmon(str(workdir))
    session = workdir / "neura.hipmon"
    subprocess.run(["hipmon", "import", "--pelvis", str(workdir / "pelvis.csv"), "--left-thigh",
                    str(workdir / "left_thigh.csv"), "--right-thigh", str(workdir / "right_thigh.csv"),
                    "-o", str(session)], check=True, capture_output=True)
    subprocess.run(["hipmon", "export", str(session), "--angles", str(workdir / "angles.csv"),
                    "--events", str(workdir / "events.csv")], check=True, capture_output=True)
    a = np.genfromtxt(workdir / "angles.csv", delimiter=",", names=True)
    return a["time_s"], np.column_stack([a[c] for c in ANGLE_COLUMNS])


def run_pipeline(imu: dict, config: PipelineConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    samples = {p: (d[0], d[1], d[2], None) for p, d in imu.items()}
    rate = float(np.round(1.0 / np.median(np.diff(imu["pelvis"][0]))))  # as `hipmon import` gives it
    r = process_samples(samples, [SensorSpec(p, p, None, rate) for p in PLACEMENTS], config or PipelineConfig())
    return r.frames.time_s, r.frames.angles_deg


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rotations", type=int, default=5, help="random fixed rotations per sensor to try")
    ap.add_argument("--json", help="write the numbers here")
    args = ap.parse_args(argv)
    L, O = _load("load_neura"), _load("oracle_floor")
    ref = L.reference_angles(L.load_vicon())
    raw = {p: L.load_imu(p) for p in PLACEMENTS}
    imu = {p: (d["time_s"], d["acc"], d["gyr"]) for p, d in raw.items()}
    floor = O.errors(O.oracle_angles("vqf"), ref)
    out: dict = {"floor": {c: floor[c][0] for c in ANGLE_COLUMNS}}

    with tempfile.TemporaryDirectory() as tmp:
        t, a = run_cli(L, Path(tmp))
    err = angle_errors(t, a, ref["time_s"], ref, WINDOWS)
    walk = angle_errors(t, a, ref["time_s"], ref, (WALK,))
    turn = angle_errors(t, a, ref["time_s"], ref, AFTER_TURN, ["pelvis_rotation_deg"])
    out["hipmon"] = err
    out["walking_coverage"] = min(v["coverage"] for v in walk.values())
    out["pelvis_rotation_after_turn"] = turn["pelvis_rotation_deg"]

    print("real walk (neura-sparse-s02-walk), walking after its first 2 s and standing after, degrees")
    print(f"{'angle':34s} {'hipmon':>7s} {'floor':>7s} {'excess':>7s} {'bias':>6s} {'corr':>5s}")
    for c in ANGLE_COLUMNS:
        e = err[c]
        print(f"{c:34s} {e['rmse']:7.2f} {floor[c][0]:7.2f} {e['rmse'] - floor[c][0]:+7.2f} {e['bias']:6.2f} {e['corr']:5.2f}")
    print(f"angles for {100 * out['walking_coverage']:.0f} % of the walking time ({WALK[0]}-{WALK[1]} s)")
    tr = out["pelvis_rotation_after_turn"]
    print(f"pelvis rotation after the turn (15.5-25 s): RMSE {tr['rmse']:.2f}, worst {tr['max_abs']:.2f}")

    # the same data, changed in ways that must not change the angles (pipeline, default settings)
    t0, a0 = run_pipeline(imu)
    rng = np.random.default_rng(0)
    variants: dict[str, dict[str, float]] = {}
    for k in range(args.rotations):
        rot = {p: Rotation.random(random_state=int(rng.integers(2**31))).as_matrix() for p in PLACEMENTS}
        changed = {p: (v[0], *rotate_imu(v[1], v[2], rot[p])) for p, v in imu.items()}
        variants[f"rotated #{k + 1}"] = angles_difference_rms(t0, a0, *run_pipeline(changed), WINDOWS)
    for rate in (52.0, 208.0, 416.0):
        changed = {p: resample_imu(*v, rate) for p, v in imu.items()}
        variants[f"resampled {rate:.0f} Hz"] = angles_difference_rms(t0, a0, *run_pipeline(changed), WINDOWS)
    for label, lo, hi in (("standing cut to its last 4 s", 6.7, None), ("session cut at 22 s", None, 22.0)):
        changed = {}
        for p, (tt, acc, gyr) in imu.items():
            m = np.ones(tt.size, bool)
            if lo is not None:
                m &= tt >= lo
            if hi is not None:
                m &= tt <= hi
            changed[p] = (tt[m], acc[m], gyr[m])
        win = WINDOWS if hi is None else ((12.7, 21.7),)
        variants[label] = angles_difference_rms(t0, a0, *run_pipeline(changed), win)
    out["variants"] = variants
    print("\nthe same data changed: RMS difference from the original run, worst angle (deg)")
    for label, d in variants.items():
        worst = max(d, key=lambda c: d[c])
        print(f"  {label:30s} {d[worst]:6.3f}  ({worst})")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
