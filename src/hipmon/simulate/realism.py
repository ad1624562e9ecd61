"""How the simulated athlete compares with real sensors on a real body (docs/simulator.md, "Realism").

Pure functions, used the same way on a real recording and on a simulated session:

- ``fit_constant_alignments``: the best constant sensor-to-segment and world alignments
  of a sensor's fused orientation to a reference segment orientation (the fit of
  ``oracle_floor.py`` in ``shared/data/real/neura-sparse-s02-walk``);
- ``simulated_floor``: that floor on a simulated session (VQF 6D of each simulated
  sensor against the TRUE segment orientations), angle by angle; ``real_walk_floor``: the
  same on the real Neura walk against its markers;
- ``error_bands_deg``, ``angle_coupling``, ``rest_noise``, ``impact_stats``,
  ``stride_cv``: the statistics ``benchmarks/bench_sim_vs_real.py`` prints side by side.
"""

from __future__ import annotations

import numpy as np

from hipmon import rotations as rot
from hipmon.types import ANGLE_COLUMNS, PLACEMENTS

#: Frequency bands of ``error_bands_deg``, Hz (below the stride, stride, step, harmonics, wobble).
BANDS_HZ = ((0.0, 0.5), (0.5, 1.5), (1.5, 3.0), (3.0, 6.0), (6.0, 50.0))


def _polar(m: np.ndarray) -> np.ndarray:
    """The rotation nearest to ``m`` (3, 3)."""
    u, _, vt = np.linalg.svd(m)
    if np.linalg.det(u @ vt) < 0:
        u[:, -1] *= -1
    return u @ vt


def fit_constant_alignments(r_sensor_world: np.ndarray, r_segment_global: np.ndarray,
                            iterations: int | None = None, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """(R_world, R_sensor_segment) minimising ``Σ ||R_seg − R_world R_sensor R_ss||²`` (Frobenius).

    ``r_sensor_world`` (N, 3, 3): the sensor's fused orientation (sensor → its filter's world);
    ``r_segment_global`` (N, 3, 3): the reference segment orientation (segment → global).
    Alternating polar decompositions, as ``oracle_floor.py`` does, but run to convergence
    (``iterations=None``: until the alignments change by less than ``tol``, at most 50 000
    steps). The two headings (of R_world about the vertical, of R_ss about the segment's long
    axis) are nearly interchangeable while the segment stays upright, so the alternation
    creeps: ``oracle_floor.py``'s fixed 60 steps stop tens of degrees short on a sensor
    strapped on far from the segment axes (docs/simulator.md, "Realism").
    """
    # Σ_n F_n Rs^T R_n^T and Σ_n R_n^T Rw^T F_n are linear in Rs, Rw: contract once over n
    t_w = np.einsum("nij,nlk->ijlk", r_segment_global, r_sensor_world)  # Rw = polar(Σ_jk t_w[i,j,l,k] Rs[k,j])
    t_s = np.einsum("nji,nkl->ijkl", r_sensor_world, r_segment_global)  # Rs = polar(Σ_jk t_s[i,j,k,l] Rw[k,j])
    rs, rw = np.eye(3), np.eye(3)
    n_max = 50_000 if iterations is None else iterations
    for _ in range(n_max):
        rw_new = _polar(np.einsum("ijlk,kj->il", t_w, rs))
        rs_new = _polar(np.einsum("ijkl,kj->il", t_s, rw_new))
        change = max(np.abs(rw_new - rw).max(), np.abs(rs_new - rs).max())
        rw, rs = rw_new, rs_new
        if iterations is None and change < tol:
            break
    return rw, rs


def vqf_orientation(time_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> np.ndarray:
    """Offline VQF 6D orientation (N, 4) [w, x, y, z], sensor → VQF world, at the mean sample interval."""
    from vqf import offlineVQF

    dt = float(np.median(np.diff(time_s)))
    return offlineVQF(np.ascontiguousarray(gyr, float), np.ascontiguousarray(acc, float), None, dt)["quat6D"]


def simulated_floor(sim, fit_window_s: tuple[float, float], rate_hz: float = 100.0, iterations: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The floor of a simulated session: each sensor's VQF 6D orientation with the best constant
    alignments fitted to its TRUE segment orientation over ``fit_window_s``.

    Returns (time_s (M,), floor angles (M, 9) deg, true angles (M, 9) deg) on a ``rate_hz`` grid,
    ANGLE_COLUMNS order.
    """
    from scipy.spatial.transform import Rotation, Slerp

    t0 = max(s.time_session_s[0] for s in sim.sensors.values())
    t1 = min(s.time_session_s[-1] for s in sim.sensors.values())
    grid = np.arange(np.ceil(t0 * rate_hz), np.floor(t1 * rate_hz) + 1) / rate_hz
    seg = {}
    for p in PLACEMENTS:
        s = sim.sensors[p]
        q = vqf_orientation(s.time_session_s, s.acc_sensor, s.gyr_sensor)
        r_imu = rot.matrix(q)
        q_true, _ = sim.pose_at(s.time_session_s)
        r_true = rot.matrix(q_true[p])
        k = np.flatnonzero((s.time_session_s >= fit_window_s[0]) & (s.time_session_s <= fit_window_s[1]))[::3]
        rw, rs = fit_constant_alignments(r_imu[k], r_true[k], iterations)
        est = np.einsum("ij,njk,kl->nil", rw, r_imu, rs)
        slerp = Slerp(s.time_session_s, Rotation.from_matrix(est))
        xyzw = slerp(grid).as_quat()
        seg[p] = xyzw[:, [3, 0, 1, 2]]
    from hipmon import kinematics as kin

    est_deg = kin.all_angles_deg(seg["pelvis"], seg["left_thigh"], seg["right_thigh"])
    return grid, est_deg, sim.angles_at(grid)


def real_walk_floor(loader, r_sensor_world: dict, iterations: int | None = None,
                    static_s: tuple[float, float] = (2.0, 9.0), fit_s: tuple[float, float] = (10.7, 25.0)) -> dict:
    """The floor of the real Neura walk: each real sensor's orientation with the best constant
    alignments fitted to its marker segment (``oracle_floor.py``'s construction, to convergence).

    ``loader``: the recording's own ``load_neura`` module; ``r_sensor_world[placement]`` (N, 3, 3):
    the sensor's fused orientation on the marker grid. Returns ``time_s`` (N,), ``angles_deg``
    (N, 9) ANGLE_COLUMNS order, ``reference_deg`` (N, 9) the marker angles, ``segments``
    (placement -> (N, 3, 3) aligned orientations), ``world`` (placement -> (3, 3) world alignment),
    ``global0`` (3, 3) the global frame in lab coordinates.
    """
    L = loader
    vic = L.load_vicon()
    ref = L.reference_angles(vic, static=static_s)
    t = vic["time_s"]
    fr = L.segment_frames(vic)
    sel = (t >= static_s[0]) & (t < static_s[1])
    g0 = L._lab_to_global(np.nanmean(fr["pelvis"][sel, :, 0], axis=0))
    seg, world = {}, {}
    for p in PLACEMENTS:
        f = fr[p] @ (L._mean_rotation(fr[p][sel]).T @ g0)
        idx = np.flatnonzero((t >= fit_s[0]) & (t <= fit_s[1]) & np.isfinite(f).all((1, 2)))[::3]
        world[p], rs = fit_constant_alignments(r_sensor_world[p][idx], f[idx], iterations)
        seg[p] = np.einsum("ij,njk,kl->nil", world[p], r_sensor_world[p], rs)
    est = {}
    r, x, z = L._yxz(np.einsum("ji,njk->nik", g0, seg["pelvis"]))
    est["pelvis_tilt_deg"], est["pelvis_obliquity_deg"], est["pelvis_rotation_deg"] = np.degrees(-z), np.degrees(-x), np.degrees(r)
    for side, sg in (("left", -1.0), ("right", 1.0)):
        a, b, c = L._zxy(np.einsum("nji,njk->nik", seg["pelvis"], seg[f"{side}_thigh"]))
        est[f"hip_flexion_{side}_deg"], est[f"hip_adduction_{side}_deg"] = np.degrees(a), np.degrees(sg * b)
        est[f"hip_internal_rotation_{side}_deg"] = np.degrees(sg * c)
    return {"time_s": t, "angles_deg": np.column_stack([est[c] for c in ANGLE_COLUMNS]),
            "reference_deg": np.column_stack([ref[c] for c in ANGLE_COLUMNS]), "segments": seg, "world": world,
            "global0": g0}


def rmse_deg(err: np.ndarray, wrap: bool = False) -> float:
    """RMS of an error series (deg), ±180° wrapped if ``wrap``; NaNs ignored."""
    e = np.asarray(err, float)
    if wrap:
        e = (e + 180.0) % 360.0 - 180.0
    e = e[np.isfinite(e)]
    return float(np.sqrt(np.mean(e**2))) if e.size else float("nan")


def floor_rmse(time_s: np.ndarray, est_deg: np.ndarray, ref_deg: np.ndarray, windows) -> dict[str, float]:
    """{angle column: RMSE deg} of ``est_deg`` against ``ref_deg`` (M, 9) inside the union of ``windows``."""
    m = np.zeros(time_s.shape, bool)
    for a, b in windows:
        m |= (time_s >= a) & (time_s <= b)
    return {c: rmse_deg(est_deg[m, i] - ref_deg[m, i], wrap=c == "pelvis_rotation_deg") for i, c in enumerate(ANGLE_COLUMNS)}


def error_bands_deg(err: np.ndarray, rate_hz: float, bands=BANDS_HZ) -> list[float]:
    """RMS (deg) of an error series in each frequency band (Welch, mean removed)."""
    from scipy.signal import welch

    e = np.asarray(err, float)
    e = e[np.isfinite(e)]
    e = e - e.mean()
    f, p = welch(e, fs=rate_hz, nperseg=min(256, e.size))
    df = f[1] - f[0]
    return [float(np.sqrt(p[(f >= a) & (f < b)].sum() * df)) for a, b in bands]


def angle_coupling(err: np.ndarray, drivers: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares gains (deg per deg) of an error series (N,) on driver angles (N, K) plus a constant,
    and the fraction of the error's variance they explain (R²)."""
    x = np.column_stack([drivers, np.ones(len(err))])
    ok = np.isfinite(err) & np.isfinite(x).all(axis=1)
    coef, *_ = np.linalg.lstsq(x[ok], err[ok], rcond=None)
    res = err[ok] - x[ok] @ coef
    return coef[:-1], float(1.0 - res.var() / err[ok].var())


def rest_noise(acc: np.ndarray, gyr: np.ndarray) -> tuple[float, float]:
    """Per-axis SD at rest after removing a 0.5 s moving mean (sway): accelerometer m/s², gyroscope rad/s (medians over axes)."""
    def hp(x):
        k = max(3, len(x) // 40)
        ker = np.ones(k) / k
        sm = np.stack([np.convolve(x[:, i], ker, mode="same") for i in range(3)], axis=1)
        return (x - sm)[k:-k]

    return float(np.median(hp(acc).std(axis=0))), float(np.median(hp(gyr).std(axis=0)))


def impact_stats(time_s: np.ndarray, acc: np.ndarray, ic_s: np.ndarray, rate_hz: float) -> dict[str, float]:
    """At each initial contact: peak |specific force| − g within ±0.1 s (m/s²), and the RMS of the
    accelerometer above 10 Hz in the 0.2 s after it (m/s², the ringing). Medians over contacts."""
    from scipy.signal import butter, sosfiltfilt

    mag = np.linalg.norm(acc, axis=1)
    hp = sosfiltfilt(butter(4, 10.0 / (rate_hz / 2), "highpass", output="sos"), acc, axis=0)
    peaks, ring = [], []
    for t in ic_s:
        w = (time_s >= t - 0.1) & (time_s <= t + 0.1)
        r = (time_s >= t) & (time_s <= t + 0.2)
        if w.sum() < 5:
            continue
        peaks.append(mag[w].max() - 9.81)
        ring.append(np.sqrt(np.mean(np.sum(hp[r] ** 2, axis=1))))
    return {"peak_mps2": float(np.median(peaks)) if peaks else float("nan"),
            "ring_above_10hz_mps2": float(np.median(ring)) if ring else float("nan")}


def stride_cv(ic_s: np.ndarray, max_stride_s: float = 2.0) -> float:
    """Coefficient of variation of stride time from one side's initial contacts (strides longer than
    ``max_stride_s`` — turns, stops — left out)."""
    d = np.diff(np.sort(np.asarray(ic_s, float)))
    d = d[d < max_stride_s]
    return float(d.std(ddof=1) / d.mean()) if d.size > 2 else float("nan")
