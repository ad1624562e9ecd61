"""The hip joint centre as a shared point: a thigh's orientation relative to the pelvis from accelerations.

The pelvis and a thigh meet at the hip joint centre (HJC), a point fixed in both
segments. Its specific force, worked out from either sensor's own readings,
must be one and the same vector:

    f_hjc = f_s + ω̇_s × r_s + ω_s × (ω_s × r_s)        (sensor s's frame)

with ``r_s`` the HJC's position relative to sensor ``s`` (constant in its frame).
Expressed in one fixed (inertial) frame, the pelvis's and the thigh's ``f_hjc``
agree at every instant. Gravity is part of both, so no vertical, no fusion filter
and no magnetometer is needed: over a few seconds of movement the orientation of
each sensor relative to its own start is gyroscope strapdown (bias from the quiet
standing), and the one unknown rotation between the two starts, with both lever
arms, is what makes the two HJC accelerations agree (nonlinear least squares in
the rotation, linear in the lever arms).

This is the joint-centre constraint of Seel, Schauer & Raisch (2012, joint
position estimation) used for relative heading, as in Weygers et al. (2020,
drift-free 3-DoF joint kinematics). Assumptions: rigid segments (soft-tissue
motion of the thigh sensor is noise), a fixed HJC, enough acceleration that is
not along the vertical alone (walking, running and landings have it).

Frames: quaternions scalar first, ``q_a_b`` maps vectors in ``a`` to ``b``.
Units: m/s², rad/s, m, s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hipmon import rotations as rot
from hipmon.jit import njit


@dataclass
class HipJointFit:
    """The result of ``fit_relative_orientation``.

    - ``q_thigh_pelvis`` (4,): thigh sensor frame -> pelvis sensor frame at the start sample;
    - ``lever_arm_pelvis_m``, ``lever_arm_thigh_m`` (3,): HJC relative to each sensor, its own frame;
    - ``residual_rms_m_s2``: RMS disagreement of the two HJC specific forces after the fit;
    - ``signal_rms_m_s2``: RMS of the HJC specific force's change (what the fit had to explain);
    - ``samples``: samples used.
    """

    q_thigh_pelvis: np.ndarray
    lever_arm_pelvis_m: np.ndarray
    lever_arm_thigh_m: np.ndarray
    residual_rms_m_s2: float
    signal_rms_m_s2: float
    samples: int


def skew_matrices(v: np.ndarray) -> np.ndarray:
    """(N, 3, 3) cross-product matrices ``[v]×`` of vectors (N, 3)."""
    z = np.zeros(v.shape[0])
    return np.stack([np.stack([z, -v[:, 2], v[:, 1]], 1),
                     np.stack([v[:, 2], z, -v[:, 0]], 1),
                     np.stack([-v[:, 1], v[:, 0], z], 1)], 1)


def strapdown_from_start(gyr_sensor: np.ndarray, rate_hz: float) -> np.ndarray:
    """(N, 3, 3) rotation matrices sensor(t) -> sensor(t0) from angular rate (N, 3) rad/s (midpoint rule)."""
    w = 0.5 * (gyr_sensor[1:] + gyr_sensor[:-1])
    q = rot.integrate_gyr(np.array([1.0, 0.0, 0.0, 0.0]), w, 1.0 / rate_hz)
    return rot.matrix(q)


def low_pass(x: np.ndarray, rate_hz: float, cutoff_hz: float) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth low-pass along axis 0 (cutoff clipped to 0.4 × rate)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, min(cutoff_hz, 0.4 * rate_hz) / (rate_hz / 2), output="sos")
    return sosfiltfilt(sos, x, axis=0)


def lever_arm_matrices(gyr_sensor: np.ndarray, rate_hz: float) -> np.ndarray:
    """(N, 3, 3) ``K`` with ``K r = ω̇ × r + ω × (ω × r)`` from angular rate (N, 3) rad/s."""
    w_dot = np.gradient(gyr_sensor, 1.0 / rate_hz, axis=0)
    sw = skew_matrices(gyr_sensor)
    return skew_matrices(w_dot) + sw @ sw


@njit
def _fill_design(m_p, m_t, r, design):  # pragma: no cover - compiled
    """``design`` (3M, 6) = ``concatenate([m_p, -einsum("ij,njk->nik", r, m_t)], 2).reshape(3M, 6)`` for
    ``m_p``, ``m_t`` (M, 3, 3) and ``r`` (3, 3): the same products and sums (j in order), bit for bit."""
    for n in range(m_p.shape[0]):
        for i in range(3):
            row = 3 * n + i
            for k in range(3):
                design[row, k] = m_p[n, i, k]
                design[row, 3 + k] = -(r[i, 0] * m_t[n, 0, k] + r[i, 1] * m_t[n, 1, k] + r[i, 2] * m_t[n, 2, k])


def fit_relative_orientation(
    acc_pelvis: np.ndarray,
    gyr_pelvis: np.ndarray,
    acc_thigh: np.ndarray,
    gyr_thigh: np.ndarray,
    rate_hz: float,
    q_thigh_pelvis_guesses: np.ndarray,
    fit_from: int = 0,
    cutoff_hz: float = 12.0,
) -> HipJointFit:
    """Thigh-to-pelvis sensor rotation at sample 0 from the shared hip joint centre.

    ``acc_*`` (N, 3) m/s² specific force and ``gyr_*`` (N, 3) rad/s (bias removed)
    on one common grid at ``rate_hz``; sample 0 is the instant the result refers to
    (e.g. the middle of the calibration stand). Samples ``fit_from:`` enter the fit
    (the movement); all samples are integrated. ``q_thigh_pelvis_guesses`` (4,) or
    (K, 4) start the search (within ~30° of the truth); the fit with the lowest
    residual is returned. Raises ``ValueError`` when there are too few samples.
    """
    from scipy.optimize import least_squares

    n = acc_pelvis.shape[0]
    if n - fit_from < int(rate_hz):
        raise ValueError(f"hip joint fit needs at least 1 s of movement, got {(n - fit_from) / rate_hz:.2f} s")
    if not all(np.isfinite(a).all() for a in (acc_pelvis, gyr_pelvis, acc_thigh, gyr_thigh)):
        raise ValueError("hip joint fit needs finite samples throughout (a gap in the window?)")
    sl = slice(fit_from, n)
    a_p = strapdown_from_start(gyr_pelvis, rate_hz)[sl]
    a_t = strapdown_from_start(gyr_thigh, rate_hz)[sl]
    w_p, w_t = low_pass(gyr_pelvis, rate_hz, cutoff_hz)[sl], low_pass(gyr_thigh, rate_hz, cutoff_hz)[sl]
    f_p, f_t = low_pass(acc_pelvis, rate_hz, cutoff_hz)[sl], low_pass(acc_thigh, rate_hz, cutoff_hz)[sl]
    # everything in the sensors' start frames: pelvis part fixed, thigh part rotated by the unknown
    y_p = np.einsum("nij,nj->ni", a_p, f_p)
    m_p = a_p @ lever_arm_matrices(w_p, rate_hz)
    y_t = np.einsum("nij,nj->ni", a_t, f_t)
    m_t = a_t @ lever_arm_matrices(w_t, rate_hz)
    m = y_p.shape[0]

    m_p, m_t = np.ascontiguousarray(m_p), np.ascontiguousarray(m_t)
    design = np.empty((3 * m, 6))

    def solve_lever_arms(rotvec: np.ndarray, q0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q = rot.multiply(rot.from_rotvec(rotvec), q0)
        r = rot.matrix(q)
        _fill_design(m_p, m_t, np.ascontiguousarray(r), design)  # [m_p, -r m_t] per sample, rows (n, i)
        rhs = (y_t @ r.T - y_p).reshape(-1)
        x, *_ = np.linalg.lstsq(design, rhs, rcond=None)
        return design @ x - rhs, x, q

    best = None
    for q0 in rot.normalize(np.atleast_2d(np.asarray(q_thigh_pelvis_guesses, float))):
        sol = least_squares(lambda v, q0=q0: solve_lever_arms(v, q0)[0], np.zeros(3), x_scale=0.01, diff_step=1e-4)
        res, x, q = solve_lever_arms(sol.x, q0)
        if best is None or res @ res < best[0] @ best[0]:
            best = (res, x, q)
    res, x, q = best
    hjc = y_p + m_p @ x[:3]
    centred = hjc - hjc.mean(0)
    return HipJointFit(
        q_thigh_pelvis=q,
        lever_arm_pelvis_m=x[:3],
        lever_arm_thigh_m=x[3:],
        residual_rms_m_s2=float(np.sqrt(np.mean(res.reshape(m, 3) ** 2) * 3)),
        signal_rms_m_s2=float(np.sqrt(np.mean(np.sum(centred**2, axis=1)))),
        samples=m,
    )
