"""Pelvic obliquity: what narrows the sacral sensor's disagreement with the bony pelvis? (issue 10)

The same measurements on the real walk (``../shared/data/real/neura-sparse-s02-walk``, Vicon
pelvis as reference) and on the default simulated walk (soft tissue on; the TRUE pelvis as
reference):

- the floor (each sensor's VQF 6D orientation with the best constant alignments fitted to the
  reference, ``hipmon.simulate.realism``): obliquity RMSE, bias, correlation, error per band;
- (a) filtering: the floor obliquity low-passed at 3 and 1.5 Hz, and averaged over one stride;
- (b) the hip joint centres seen from both thighs (``hipmon.obliquity``; lever arms from
  ``hipmon.hip_joint`` fitted on the walk, guesses from the oracle alignments): the HJC witness
  alone in its band, and blended 50/50 with the sacral sensor in that band;
- per-stance peak contralateral pelvic drop (what coaches read): RMSE, bias, SD and the error of
  the left-minus-right difference, for each variant;
- (real only, ``--hipmon``) hipmon itself (``hipmon import`` -> ``hipmon export``, defaults):
  RMSE and bias of every angle and of the per-stance peaks (the uncertainty table of
  docs/placement.md).

    .venv/bin/python benchmarks/bench_obliquity.py --seeds 0,1,2 --hipmon

Results and the command: docs/placement.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from hipmon import obliquity as OB
from hipmon import rotations as rot
from hipmon.hip_joint import fit_relative_orientation
from hipmon.simulate import realism as R
from hipmon.simulate import simulate
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS

TRIAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "neura-sparse-s02-walk"
FS = 100.0
OBL = ANGLE_COLUMNS.index("pelvis_obliquity_deg")
WALK_REAL = (12.7, 21.7)
TURN_REAL = (13.8, 15.8)


def _quat_from_matrix(m: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(m).as_quat()[..., [3, 0, 1, 2]]


def hjc_obliquity_rad(acc, gyr, r_earth, guesses, stand, move) -> tuple[np.ndarray, dict]:
    """The HJC witness (N,) rad from sensor data on one grid: lever arms from ``hip_joint`` (stand middle
    -> end of the movement window), vertical HJC accelerations, band-passed double integral."""
    (s0, s1), (m0, m1) = stand, move
    i0 = (s0 + s1) // 2
    lever, info = {}, {}
    for p in ("left_thigh", "right_thigh"):
        bias = {q: gyr[q][s0:s1].mean(0) for q in ("pelvis", p)}
        fit = fit_relative_orientation(acc["pelvis"][i0:m1], gyr["pelvis"][i0:m1] - bias["pelvis"],
                                       acc[p][i0:m1], gyr[p][i0:m1] - bias[p], FS, guesses[p], fit_from=m0 - i0)
        lever[p] = fit
        info[p] = fit.residual_rms_m_s2 / fit.signal_rms_m_s2
    d = float(np.linalg.norm(lever["right_thigh"].lever_arm_pelvis_m - lever["left_thigh"].lever_arm_pelvis_m))
    az = {p: OB.hjc_vertical_acc_earth(acc[p], gyr[p], r_earth[p], lever[p].lever_arm_thigh_m, FS)
          for p in ("left_thigh", "right_thigh")}
    info["inter_hjc_m"] = d
    return OB.obliquity_from_hip_joint_centres_rad(az["left_thigh"], az["right_thigh"], d, FS), info


def stride_average(x: np.ndarray, stride_s: float) -> np.ndarray:
    """Moving average over one stride (a stride-synchronous mean of the signal)."""
    n = max(1, int(round(stride_s * FS)))
    return np.convolve(x, np.ones(n) / n, mode="same")


def variants(obl_floor_deg, obl_hjc_rad, stride_s) -> dict[str, np.ndarray]:
    """The obliquity estimates (deg) compared in every table."""
    lp = lambda x, fc: np.degrees(OB.low_pass(np.radians(x), FS, fc))  # noqa: E731
    return {
        "sacral floor": obl_floor_deg,
        "low-pass 3 Hz": lp(obl_floor_deg, 3.0),
        "low-pass 1.5 Hz": lp(obl_floor_deg, 1.5),
        "stride average": stride_average(obl_floor_deg, stride_s),
        "HJC witness (band only)": np.degrees(obl_hjc_rad),
        "blend 50/50 in band": np.degrees(OB.blend_obliquity_rad(np.radians(obl_floor_deg), obl_hjc_rad, FS)),
    }


def score(t, est, ref, mask, stances) -> dict:
    """Sample RMSE / bias / corr, band RMSE (0.3-3 Hz), and per-stance peak drop errors."""
    e = est - ref
    band = OB.band_pass(est, FS, OB.HJC_BAND_HZ) - OB.band_pass(ref, FS, OB.HJC_BAND_HZ)
    pk_e = OB.stance_peak_drop_deg(t, est, stances)
    pk_r = OB.stance_peak_drop_deg(t, ref, stances)
    return {"rmse": float(np.sqrt(np.mean(e[mask] ** 2))), "bias": float(np.mean(e[mask])),
            "corr": float(np.corrcoef(est[mask], ref[mask])[0, 1]), "band_rmse": float(np.sqrt(np.mean(band[mask] ** 2))),
            "peaks": OB.peak_error_summary(pk_e, pk_r, np.array([s[0] for s in stances]))}


# ----------------------------------------------------------------------------- real
def _real_modules():
    sys.path.insert(0, str(TRIAL))
    import load_neura as L

    return L


def real_trial() -> dict:
    L = _real_modules()
    vic = L.load_vicon()
    ref = L.reference_angles(vic)
    t = vic["time_s"]
    imu = {p: L.load_imu(p) for p in PLACEMENTS}
    r_imu = {p: rot.matrix(R.vqf_orientation(imu[p]["time_s"], imu[p]["acc"], imu[p]["gyr"])) for p in PLACEMENTS}
    floor = R.real_walk_floor(L, r_imu)
    rw, seg, g0 = floor["world"], floor["segments"], floor["global0"]
    _, x, _ = L._yxz(np.einsum("ji,njk->nik", g0, seg["pelvis"]))
    obl_floor = np.degrees(-x)
    i0 = 550
    guesses = {p: _quat_from_matrix((rw["pelvis"] @ r_imu["pelvis"][i0]).T @ (rw[p] @ r_imu[p][i0]))
               for p in ("left_thigh", "right_thigh")}
    acc = {p: imu[p]["acc"] for p in PLACEMENTS}
    gyr = {p: imu[p]["gyr"] for p in PLACEMENTS}
    obl_hjc, info = hjc_obliquity_rad(acc, gyr, r_imu, guesses, (200, 900), (1071, 2170))
    ev = L.zeni_events(vic, L.quiet_and_walk_windows(imu["pelvis"]["gyr"])["walk"])
    stances = []
    for side in ("left", "right"):
        for ic in ev[f"ic_{side}_s"]:
            to = ev[f"to_{side}_s"][(ev[f"to_{side}_s"] > ic) & (ev[f"to_{side}_s"] < ic + 1.2)]
            if to.size and not (TURN_REAL[0] < ic < TURN_REAL[1]) and ic >= WALK_REAL[0] - 0.5:
                stances.append((side, float(ic), float(to[0])))
    ics = np.sort(ev["ic_left_s"][(ev["ic_left_s"] < TURN_REAL[0]) | (ev["ic_left_s"] > TURN_REAL[1])])
    stride = float(np.median(np.diff(ics)[np.diff(ics) < 2.0]))
    mask = (t >= WALK_REAL[0]) & (t <= WALK_REAL[1])
    ro = ref["pelvis_obliquity_deg"]
    out = {"stride_s": stride, "hjc": info, "stances": stances,
           "bands_floor": R.error_bands_deg(obl_floor[mask] - ro[mask], FS), "bands_ref": R.error_bands_deg(ro[mask], FS),
           "scores": {k: score(t, v, ro, mask, stances) for k, v in variants(obl_floor, obl_hjc, stride).items()}}
    fd = (ref["hip_flexion_left_deg"] - ref["hip_flexion_right_deg"])[mask] / 2
    out["coupling"] = R.angle_coupling(obl_floor[mask] - ro[mask], fd[:, None])
    return out


def hipmon_on_real(stances) -> dict:
    """hipmon as a new user runs it; per angle RMSE/bias over the walk (after 2 s), per-stance peaks."""
    L = _real_modules()
    ref = L.reference_angles(L.load_vicon())
    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp)
        L.export_for_hipmon(str(w))
        subprocess.run(["hipmon", "import", "--pelvis", str(w / "pelvis.csv"), "--left-thigh", str(w / "left_thigh.csv"),
                        "--right-thigh", str(w / "right_thigh.csv"), "-o", str(w / "s.hipmon")], check=True, capture_output=True)
        subprocess.run(["hipmon", "export", str(w / "s.hipmon"), "--angles", str(w / "a.csv")], check=True, capture_output=True)
        a = np.genfromtxt(w / "a.csv", delimiter=",", names=True)
    t = ref["time_s"]
    out = {}
    mask = (t >= WALK_REAL[0]) & (t <= WALK_REAL[1])
    sides = np.array([s[0] for s in stances])
    for c in ANGLE_COLUMNS:
        est = np.interp(t, a["time_s"], a[c], left=np.nan, right=np.nan)
        e = est - ref[c]
        if c == "pelvis_rotation_deg":
            e = (e + 180) % 360 - 180
        m = mask & np.isfinite(e)
        row = {"rmse": float(np.sqrt(np.mean(e[m] ** 2))), "bias": float(np.mean(e[m])), "coverage": float(m.mean() / mask.mean())}
        side = "left" if "_left_" in c else "right" if "_right_" in c else None
        if c == "pelvis_obliquity_deg":
            row["peaks"] = OB.peak_error_summary(OB.stance_peak_drop_deg(t, est, stances),
                                                 OB.stance_peak_drop_deg(t, ref[c], stances), sides)
        elif side and "rotation" not in c.replace("internal_rotation", ""):
            mine = [s for s in stances if s[0] == side]
            pk = lambda y: np.array([np.nanmax(y[(t >= s[1]) & (t <= s[2])]) if np.isfinite(y[(t >= s[1]) & (t <= s[2])]).any()  # noqa: E731
                                     else np.nan for s in mine])
            row["peaks"] = OB.peak_error_summary(pk(est), pk(ref[c]), np.array([side] * len(mine)))
        out[c] = row
    return out


# ----------------------------------------------------------------------------- simulator
def simulated(seed: int, seconds: float, **options) -> dict:
    sim = simulate("walk", seconds, seed, **options)
    st = sim.athlete.stand_s
    t0 = max(s.time_session_s[0] for s in sim.sensors.values())
    t1 = min(s.time_session_s[-1] for s in sim.sensors.values())
    t = np.arange(np.ceil(t0 * FS), np.floor(t1 * FS) + 1) / FS
    acc, gyr, r_imu, rw = {}, {}, {}, {}
    q_true, _ = sim.pose_at(t)
    seg = {}
    for p in PLACEMENTS:
        s = sim.sensors[p]
        acc[p] = np.column_stack([np.interp(t, s.time_session_s, s.acc_sensor[:, k]) for k in range(3)])
        gyr[p] = np.column_stack([np.interp(t, s.time_session_s, s.gyr_sensor[:, k]) for k in range(3)])
        r_imu[p] = rot.matrix(R.vqf_orientation(t, acc[p], gyr[p]))
        r_true = rot.matrix(q_true[p])
        k = np.flatnonzero(t >= st)[::3]
        rw[p], rs = R.fit_constant_alignments(r_imu[p][k], r_true[k])
        seg[p] = rot.normalize(_quat_from_matrix(np.einsum("ij,njk,kl->nil", rw[p], r_imu[p], rs)))
    from hipmon import kinematics as kin

    est = kin.all_angles_deg(seg["pelvis"], seg["left_thigh"], seg["right_thigh"])
    tru = sim.angles_at(t)
    s_stand = (int(0.5 * FS), int((st - 0.5) * FS))
    i0 = sum(s_stand) // 2
    guesses = {p: _quat_from_matrix((rw["pelvis"] @ r_imu["pelvis"][i0]).T @ (rw[p] @ r_imu[p][i0]))
               for p in ("left_thigh", "right_thigh")}
    m1 = min(len(t), int((st + 14.0) * FS))
    obl_hjc, info = hjc_obliquity_rad(acc, gyr, r_imu, guesses, s_stand, (int(st * FS), m1))
    stances = [(e.side, e.start_s, e.end_s) for e in sim.events if e.kind == "stance" and e.start_s >= st + 2.0 and e.end_s <= t[-1]]
    ics = np.sort([e.start_s for e in sim.events if e.kind == "stance" and e.side == "left"])
    stride = float(np.median(np.diff(ics)))
    mask = t >= st + 2.0
    ob, ro = est[:, OBL], tru[:, OBL]
    fd = (tru[:, ANGLE_COLUMNS.index("hip_flexion_left_deg")] - tru[:, ANGLE_COLUMNS.index("hip_flexion_right_deg")])[mask] / 2
    return {"stride_s": stride, "hjc": info, "bands_floor": R.error_bands_deg(ob[mask] - ro[mask], FS),
            "bands_ref": R.error_bands_deg(ro[mask], FS), "coupling": R.angle_coupling(ob[mask] - ro[mask], fd[:, None]),
            "scores": {k: score(t, v, ro, mask, stances) for k, v in variants(ob, obl_hjc, stride).items()}}


# ----------------------------------------------------------------------------- report
def print_case(name: str, res: list[dict]) -> None:
    print(f"== {name}: stride {np.mean([r['stride_s'] for r in res]):.2f} s; HJC fit residual/signal L "
          + ", ".join(f"{r['hjc']['left_thigh']:.2f}" for r in res) + "; R " + ", ".join(f"{r['hjc']['right_thigh']:.2f}" for r in res)
          + "; inter-HJC m " + ", ".join(f"{r['hjc']['inter_hjc_m']:.3f}" for r in res))
    bands = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in R.BANDS_HZ)
    print(f"  floor obliquity error per band ({bands} Hz), RMS deg: "
          + " ".join(f"{x:4.2f}" for x in np.mean([r["bands_floor"] for r in res], axis=0))
          + "   reference signal: " + " ".join(f"{x:4.2f}" for x in np.mean([r["bands_ref"] for r in res], axis=0)))
    print("  floor error gain on (flex_L - flex_R)/2, deg/deg (R²): "
          + ", ".join(f"{r['coupling'][0][0]:+.2f} ({r['coupling'][1]:.2f})" for r in res))
    print(f"  {'variant':26s} {'RMSE':>5s} {'bias':>5s} {'corr':>5s} {'band':>5s} | per-stance peak drop: "
          f"{'RMSE':>5s} {'bias':>5s} {'SD':>5s} {'L-R':>5s}  n")
    for k in res[0]["scores"]:
        s = [r["scores"][k] for r in res]
        m = lambda f: np.mean([f(x) for x in s])  # noqa: E731
        print(f"  {k:26s} {m(lambda x: x['rmse']):5.2f} {m(lambda x: x['bias']):+5.2f} {m(lambda x: x['corr']):5.2f} "
              f"{m(lambda x: x['band_rmse']):5.2f} | {'':21s}{m(lambda x: x['peaks']['rmse_deg']):5.2f} "
              f"{m(lambda x: x['peaks']['bias_deg']):+5.2f} {m(lambda x: x['peaks']['sd_deg']):5.2f} "
              f"{m(lambda x: abs(x['peaks']['left_minus_right_error_deg'])):5.2f} {int(m(lambda x: x['peaks']['stances']))}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--seconds", type=float, default=24.0)
    ap.add_argument("--hipmon", action="store_true", help="also run hipmon itself on the real trial (uncertainty table)")
    a = ap.parse_args(argv)
    real = real_trial()
    print_case("real walk (Vicon pelvis)", [real])
    sims = [simulated(int(s), a.seconds) for s in a.seeds.split(",")]
    print_case(f"simulated walk, seeds {a.seeds} (mean; true pelvis)", sims)
    if a.hipmon:
        print("== hipmon (import -> export, defaults) on the real walk, 12.7-21.7 s: RMSE, bias, coverage; "
              "per-stance peaks (drop: all stances; hip angles: that side's stances): RMSE, bias, SD, |L-R error|")
        for c, row in hipmon_on_real(real["stances"]).items():
            pk = row.get("peaks")
            tail = (f" | peaks {pk['rmse_deg']:5.2f} {pk['bias_deg']:+5.2f} {pk['sd_deg']:5.2f} "
                    f"{abs(pk['left_minus_right_error_deg']):5.2f} n={pk['stances']}"
                    if pk and np.isfinite(pk['left_minus_right_error_deg']) else
                    (f" | peaks {pk['rmse_deg']:5.2f} {pk['bias_deg']:+5.2f} {pk['sd_deg']:5.2f} n={pk['stances']}" if pk else ""))
            print(f"  {c:34s} {row['rmse']:5.2f} {row['bias']:+5.2f} {row['coverage']:4.0%}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
