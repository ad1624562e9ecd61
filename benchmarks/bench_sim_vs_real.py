"""The simulator against the real walk (docs/simulator.md, "Realism"): the same statistics side by side.

Real: ``../shared/data/real/neura-sparse-s02-walk`` (Xsens on sacrum and thighs, Vicon). Simulated:
the DEFAULT simulated walk (``simulate("walk", ...)``, soft tissue on), several seeds.

- floor per angle: each sensor's VQF 6D orientation with the best constant sensor-to-segment and
  world alignments fitted to the reference segments (real: the Vicon segments, standing-zeroed;
  simulated: the TRUE segments), RMSE over walking after its first 2 s (+ standing after, real).
  Both fits run to convergence (``realism.fit_constant_alignments``); the real floor with
  ``oracle_floor.py``'s own 60-step fit is printed too (it stops short, see the docs);
- the floor error's spectrum (RMS per band) and its gains on the hip angles (deg/deg, R²);
- noise at rest, heel-strike impacts (peak |a| − g, ringing above 10 Hz), stride-time CV.

    .venv/bin/python benchmarks/bench_sim_vs_real.py --seeds 0,1,2,3,4,5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from hipmon.simulate import simulate
from hipmon.simulate import realism as R
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "neura-sparse-s02-walk"
WALK_REAL = (12.7, 21.7)
WINDOW_REAL = ((12.7, 21.7), (22.5, 25.0))
DRIVERS = {"pelvis": ("hip_flexion_left_deg", "hip_flexion_right_deg")}
for _s in ("left", "right"):
    DRIVERS[_s] = tuple(f"hip_{k}_{_s}_deg" for k in ("flexion", "adduction", "internal_rotation"))


def _drivers(col: str) -> tuple[str, ...]:
    return DRIVERS["left" if "left" in col else "right" if "right" in col else "pelvis"]


def real_trial(iterations: int | None = None) -> dict:
    """Real floor and statistics of the Neura walk."""
    sys.path.insert(0, str(REAL))
    import load_neura as L
    import oracle_floor as O

    floor = R.real_walk_floor(L, {p: O._sensor_orientation(p, "vqf") for p in PLACEMENTS}, iterations)
    t, est_a, ref_a = floor["time_s"], floor["angles_deg"], floor["reference_deg"]
    vic = L.load_vicon()
    ref = L.reference_angles(vic)
    out = {"floor": R.floor_rmse(t, est_a, ref_a, WINDOW_REAL)}
    w = (t >= WALK_REAL[0]) & (t <= WALK_REAL[1])
    out["bands"], out["coupling"] = {}, {}
    for i, c in enumerate(ANGLE_COLUMNS):
        e = est_a[:, i] - ref_a[:, i]
        if c == "pelvis_rotation_deg":
            e = (e + 180) % 360 - 180
        out["bands"][c] = R.error_bands_deg(e[w], 100.0)
        out["coupling"][c] = R.angle_coupling(e[w], np.column_stack([ref[d][w] for d in _drivers(c)]))
    imu = {p: L.load_imu(p) for p in PLACEMENTS}
    ev = L.zeni_events(vic, L.quiet_and_walk_windows(imu["pelvis"]["gyr"])["walk"])
    straight = lambda x: x[(x < 13.8) | (x > 15.8)]  # noqa: E731  (the turn gives spurious events)
    out["rest"] = {p: R.rest_noise(imu[p]["acc"][200:900], imu[p]["gyr"][200:900]) for p in PLACEMENTS}
    ic = {"left": straight(ev["ic_left_s"]), "right": straight(ev["ic_right_s"])}
    out["impact"] = {p: R.impact_stats(imu[p]["time_s"], imu[p]["acc"],
                                       np.concatenate(list(ic.values())) if p == "pelvis" else ic[p.split("_")[0]], 100.0)
                     for p in PLACEMENTS}
    out["stride_cv"] = float(np.nanmean([R.stride_cv(ic["left"]), R.stride_cv(ic["right"])]))
    return out


def simulated_walk(seed: int, seconds: float, **options) -> dict:
    """The same statistics on the default simulated walk (truth = the simulator's segments)."""
    sim = simulate("walk", seconds, seed, **options)
    st = sim.athlete.stand_s
    t, est, tru = R.simulated_floor(sim, (st, seconds))
    out = {"floor": R.floor_rmse(t, est, tru, [(st + 2.0, seconds)])}
    w = t >= st + 2.0
    col = {c: i for i, c in enumerate(ANGLE_COLUMNS)}
    out["bands"], out["coupling"] = {}, {}
    for i, c in enumerate(ANGLE_COLUMNS):
        e = est[:, i] - tru[:, i]
        if c == "pelvis_rotation_deg":
            e = (e + 180) % 360 - 180
        out["bands"][c] = R.error_bands_deg(e[w], 100.0)
        out["coupling"][c] = R.angle_coupling(e[w], np.column_stack([tru[w, col[d]] for d in _drivers(c)]))
    ic = {s: np.array([e.extra["initial_contact_s"] for e in sim.events if e.side == s and "initial_contact_s" in e.extra])
          for s in ("left", "right")}
    out["rest"], out["impact"] = {}, {}
    for p in PLACEMENTS:
        s = sim.sensors[p]
        k = (s.time_session_s > 0.5) & (s.time_session_s < st - 0.5)
        out["rest"][p] = R.rest_noise(s.acc_sensor[k], s.gyr_sensor[k])
        out["impact"][p] = R.impact_stats(s.time_session_s, s.acc_sensor,
                                          np.concatenate(list(ic.values())) if p == "pelvis" else ic[p.split("_")[0]], s.rate_hz)
    out["stride_cv"] = float(np.nanmean([R.stride_cv(ic["left"]), R.stride_cv(ic["right"])]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2,3,4,5")
    ap.add_argument("--seconds", type=float, default=20.0, help="simulated walk length, s (4 s standing first)")
    ap.add_argument("--ideal", action="store_true", help="simulate with ideal sensors (no soft tissue, no errors)")
    a = ap.parse_args()
    real = real_trial()
    real60 = real_trial(iterations=60)["floor"]
    opts = {"ideal": True} if a.ideal else {}
    sims = [simulated_walk(int(s), a.seconds, **opts) for s in a.seeds.split(",")]
    short = {c: c.replace("_deg", "").replace("hip_", "").replace("internal_rotation", "IR") for c in ANGLE_COLUMNS}
    print("floor RMSE, deg (sim: mean [min-max] over seeds; ratio = sim mean / real)")
    print(f"  {'angle':24s} {'real 60-step':>12s} {'real':>6s} {'sim':>6s}  {'range':>13s} {'ratio':>6s}")
    for c in ANGLE_COLUMNS:
        v = np.array([s["floor"][c] for s in sims])
        print(f"  {short[c]:24s} {real60[c]:12.2f} {real['floor'][c]:6.2f} {v.mean():6.2f}  [{v.min():5.2f}-{v.max():5.2f}] "
              f"{v.mean() / real['floor'][c]:6.2f}")
    print("floor error per band (Hz: " + ", ".join(f"{lo:g}-{hi:g}" for lo, hi in R.BANDS_HZ) + "), RMS deg, walking")
    for c in ANGLE_COLUMNS:
        sb = np.mean([s["bands"][c] for s in sims], axis=0)
        print(f"  {short[c]:24s} real " + " ".join(f"{x:4.2f}" for x in real["bands"][c]) + "   sim " + " ".join(f"{x:4.2f}" for x in sb))
    print("floor error gains on the hip angles (deg/deg; pelvis: flex L, flex R; hips: flex, add, IR) and R²")
    for c in ANGLE_COLUMNS:
        g, r2 = real["coupling"][c]
        sg = np.mean([s["coupling"][c][0] for s in sims], axis=0)
        sr = np.mean([s["coupling"][c][1] for s in sims])
        print(f"  {short[c]:24s} real " + " ".join(f"{x:+.2f}" for x in g) + f" R² {r2:.2f}   sim (mean) "
              + " ".join(f"{x:+.2f}" for x in sg) + f" R² {sr:.2f}")
    print("at rest: acc SD m/s², gyr SD rad/s (median axis)  |  heel strike: peak |a|-g m/s², ringing >10 Hz m/s²")
    for p in PLACEMENTS:
        ra, rg = real["rest"][p]
        sa = np.mean([s["rest"][p][0] for s in sims])
        sgy = np.mean([s["rest"][p][1] for s in sims])
        ri, si = real["impact"][p], {k: np.mean([s["impact"][p][k] for s in sims]) for k in real["impact"][p]}
        print(f"  {p:12s} real {ra:.4f} {rg:.4f} | {ri['peak_mps2']:5.2f} {ri['ring_above_10hz_mps2']:5.2f}    "
              f"sim {sa:.4f} {sgy:.4f} | {si['peak_mps2']:5.2f} {si['ring_above_10hz_mps2']:5.2f}")
    print(f"stride-time CV: real {real['stride_cv']:.3f}   sim {np.mean([s['stride_cv'] for s in sims]):.3f}")


if __name__ == "__main__":
    main()
