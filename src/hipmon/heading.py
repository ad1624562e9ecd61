"""Keeping headings from drifting without a magnetometer (causal, chunkable).

Without a magnetometer each sensor's heading drifts on its own with its residual
gyroscope bias about the vertical. Two consequences and two corrections:

1. **Thigh-to-pelvis relative heading** (the victim is hip internal rotation, and,
   with a flexed hip, adduction). The hip flexion axis is fixed in the pelvis: it
   is the pelvis's Z axis (first Cardan axis of the ISB hip JCS). A relative
   heading error ``ε`` rotates the thigh's measured angular velocity about the
   vertical, so its rotation *relative to the pelvis*, expressed in the pelvis
   frame, leans from Z towards X: ``w_x ≈ ε · w_z`` where ``w_z`` is the flexion
   rate. The slope ``Σ w_x w_z / Σ w_z²`` over one block is measured; its value
   during the calibration movement (when the relative heading was just reset at
   standing) is the athlete's own coupling of adduction/rotation to flexion, and
   the tracker drives the slope back to that reference with a slow integral
   feedback on the thigh's heading. Only blocks with enough flexion excitation
   update (after Laidig et al. 2017's heading correction for 1-D joints; the
   hip is not a hinge, hence the reference slope instead of zero).
   True internal rotation does not move the flexion axis out of the pelvis's
   Z (ISB JCS: flexion is about the pelvis's Z), so the correction does not erase
   genuine changes in rotation.
2. **Pelvis heading relative to the direction of travel** (the victim is
   ``pelvis_rotation``). During gait the athlete's mean pelvis rotation over a
   stride is zero relative to the direction of travel; the tracker drives the
   block mean of ``pelvis_rotation`` to zero with a slow feedback that rotates
   all three segments about the global vertical together (hip angles, obliquity
   and tilt do not change; Cardan Y first), time constant ``pelvis_tau_s``. It
   only acts while the athlete travels close to the calibration direction (a
   treadmill, a straight): a block whose mean rotation is more than
   ``pelvis_max_travel_deg`` off, or that holds a turn, is the athlete going
   another way, not drift, and ``pelvis_rotation`` stays relative to the
   direction faced at calibration (turns, out-and-back walks).
3. **Relative-heading reset at quiet neutral standing** (the victim is again hip
   internal rotation, and adduction at deep flexion). In movements without
   alternating gait (landings, squats, hops) tracker 1 has nothing to measure,
   but athletes stand still between repetitions. When all three segments are
   still and upright (every thigh and the pelvis within a few degrees of
   vertical, as in the calibration pose) for ``rest_min_s``, the thigh's heading
   relative to the pelvis is set back to its calibration value (zero: the
   segment frames coincide in the calibration pose), OpenSense-style static
   re-zeroing. Assumption: the athlete stands in the same neutral pose as at
   calibration (feet not turned out); a stance turned by ``x`` degrees becomes an
   internal-rotation offset of ``x`` until the next reset.

The trackers update once per block of ``block_s`` seconds, the rest reset once
per ``rest_block_s``, both aligned to the grid index, so any chunking of the same
stream gives the same numbers; both are whole grid samples at the grid rate, so the
sample rate does not change the physics.

Frames: global (X forward, Y up, Z right), segment (X anterior, Y superior, Z
right). Angles in rad inside.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from hipmon import heading_kernels as hk
from hipmon import rotations as rot

_Y = np.array([0.0, 1.0, 0.0])


def heading_about_global_up(angle_rad: np.ndarray | float) -> np.ndarray:
    """``q`` (…, 4) of a rotation about global Y (up) by ``angle_rad``."""
    a = np.asarray(angle_rad, dtype=float)
    z = np.zeros_like(a)
    return np.stack([np.cos(a / 2), z, np.sin(a / 2), z], axis=-1)


def relative_rate_in_pelvis(
    q_pelvis_global: np.ndarray, q_thigh_global: np.ndarray, gyr_pelvis_segment: np.ndarray, gyr_thigh_segment: np.ndarray
) -> np.ndarray:
    """Angular velocity (N, 3) rad/s of the thigh relative to the pelvis, in the pelvis frame."""
    w_thigh_global = rot.rotate(q_thigh_global, gyr_thigh_segment)
    return rot.rotate(rot.conjugate(q_pelvis_global), w_thigh_global) - gyr_pelvis_segment


def flexion_axis_lean(w_rel_pelvis: np.ndarray) -> tuple[float, float]:
    """Least-squares slope ``Σ w_x w_z / Σ w_z²`` (rad, ≈ lean of the flexion axis from Z towards X) and ``Σ w_z²``."""
    wz = w_rel_pelvis[:, 2]
    wx = w_rel_pelvis[:, 0]
    s_zz = float(np.dot(wz, wz))
    if s_zz <= 0:
        return 0.0, 0.0
    return float(np.dot(wx, wz) / s_zz), s_zz


def relative_twist_about_up(q_pelvis_global: np.ndarray, q_thigh_global: np.ndarray) -> np.ndarray:
    """Twist (N,) rad of the thigh relative to the pelvis about the pelvis's Y (swing-twist split).

    In an upright pose this is the thigh's heading relative to the pelvis (the hip's
    internal rotation up to the side's sign); a rotation ``γ`` of the thigh about the
    global vertical adds ``γ`` to it while the pelvis is upright.
    """
    q_rel = rot.multiply(rot.conjugate(q_pelvis_global), q_thigh_global)
    return 2.0 * np.arctan2(q_rel[..., 2], q_rel[..., 0])


def up_alignment(q_segment_global: np.ndarray) -> np.ndarray:
    """Cosine (N,) of the angle between the segment's Y axis and the global vertical."""
    w, x, y, z = (q_segment_global[..., i] for i in range(4))
    return 1.0 - 2.0 * (x * x + z * z)  # R[1, 1]


@dataclass
class HeadingConfig:
    """Heading-drift correction parameters.

    - ``block_s``: length of one update block (s; whole grid samples at the grid rate, so
      the corrections are the same physics at 52 Hz and at 416 Hz).
    - ``thigh_tau_s``: time constant of the relative-heading feedback (s).
    - ``thigh_rate``: also learn the drift rate (PI feedback) instead of the offset only.
    - ``min_flexion_rate_rad_s``: RMS flexion rate a block needs to update the thigh heading.
    - ``pelvis_tau_s``: time constant of the pelvis-to-travel heading feedback (s).
    - ``pelvis_max_travel_deg``: the pelvis/travel feedback only updates in blocks whose
      mean pelvis rotation is within this of the calibration direction and which hold
      no turn (rotation spread within the block below it too). A residual 6D gyro bias
      after VQF's estimation turns the heading by at most a few degrees per minute, so
      a block mean further off is the athlete walking another way (a turn, the way back
      of an out-and-back walk), which the global frame must keep (DESIGN section 2:
      pelvis rotation is relative to the direction faced at calibration).
    - ``max_left_right_correlation``: blocks update only in gait, i.e. when the
      thighs' flexion rates alternate (correlation below this); landings, squats
      and holds have their own adduction-flexion coupling and would bias the estimate.
    - ``thigh``, ``pelvis``: turn each correction on or off.
    - ``rest_reset``: reset the thigh-to-pelvis heading at quiet neutral standing.
    - ``rest_block_s``: length of one stillness check (s).
    - ``rest_min_s``: stillness needed before a reset (s).
    - ``rest_max_gyr_rad_s``: largest angular-rate norm of any segment counted as still
      (rad/s; leaves room for several °/s of uncorrected gyroscope offset).
    - ``rest_max_thigh_tilt_deg``, ``rest_max_pelvis_tilt_deg``: largest inclination of
      a thigh's / the pelvis's long axis from vertical counted as neutral standing.
    - ``rest_max_twist_deg``: a larger relative heading is not reset (a turned-out
      stance rather than drift).
    """

    block_s: float = 1.0
    thigh_tau_s: float = 10.0
    thigh_rate: bool = True
    min_flexion_rate_rad_s: float = 1.0
    pelvis_tau_s: float = 20.0
    pelvis_max_travel_deg: float = 20.0
    max_left_right_correlation: float = -0.3
    thigh: bool = True
    pelvis: bool = True
    rest_reset: bool = True
    rest_block_s: float = 0.25
    rest_min_s: float = 0.5
    rest_max_gyr_rad_s: float = 0.15
    rest_max_thigh_tilt_deg: float = 10.0
    rest_max_pelvis_tilt_deg: float = 8.0
    rest_max_twist_deg: float = 30.0


def pelvis_yaw_rad(q_pelvis_global: np.ndarray) -> np.ndarray:
    """The pelvis rotation (N,) rad of ``q_pelvis_global`` (N, 4): the third column of
    ``kinematics.pelvis_angles_rad``, alone (the same operations)."""
    w, x, y, z = (q_pelvis_global[..., i] for i in range(4))
    return np.arctan2(2 * (x * z + w * y), 1 - 2 * (x * x + y * y))


class HeadingTracker:
    """Causal heading corrections for the three segments on a common grid.

    ``apply(q_segment_global, gyr_segment, rate_hz)`` takes a chunk (dicts of
    (N, 4) and (N, 3) per placement) and returns corrected ``q_segment_global``.
    Internal state: per-thigh heading corrections ``gamma_rad`` (rotation about
    global Y applied to the thigh), the pelvis/travel correction ``gamma_pelvis_rad``
    (applied to all segments), and the reference slopes captured by
    ``set_reference`` at calibration. ``history`` holds one entry per update block
    (block end index, γL, γR, γP), ``resets`` one per rest reset (sub-block end index,
    ΔγL, ΔγR).

    The sample-by-sample work is compiled (``hipmon.heading_kernels.thigh_pass``); the open
    block's per-sample terms are kept between calls and summed as numpy sums, so any
    chunking gives the same numbers as the vectorised tracker it replaced
    (tests/_heading_reference.py).
    """

    def __init__(self, config: HeadingConfig | None = None, rate_hz: float = 100.0) -> None:
        self.config = config or HeadingConfig()
        self.rate_hz = float(rate_hz)
        c = self.config
        #: grid samples per update block and per stillness check (at least one)
        self.block_samples = max(int(round(c.block_s * self.rate_hz)), 1)
        self.rest_block_samples = max(int(round(c.rest_block_s * self.rate_hz)), 1)
        self.gamma_rad = {"left_thigh": 0.0, "right_thigh": 0.0}
        self.rate_rad_s = {"left_thigh": 0.0, "right_thigh": 0.0}
        self.gamma_pelvis_rad = 0.0
        self.reference = {"left_thigh": 0.0, "right_thigh": 0.0}
        self.history: list[tuple[int, float, float, float]] = []  # (block end index, γL, γR, γP)
        self.resets: list[tuple[int, float, float]] = []  # (sub-block end index, ΔγL, ΔγR)
        # the kernel's state (hipmon.heading_kernels: F_*, I_* slots), the open block's and
        # stillness sub-block's per-sample terms, the open block's uncorrected pelvis yaws
        self._fs = np.zeros(hk.N_F)
        self._is = np.zeros(hk.N_I, dtype=np.int64)
        self._is[hk.I_REST_OK] = 1
        self._blk = np.zeros((5, self.block_samples))
        self._rbuf = np.zeros((4, self.rest_block_samples))
        self._yaw0_open = np.empty(0)
        cfg = np.zeros(hk.N_C)
        cfg[hk.C_BS], cfg[hk.C_RS], cfg[hk.C_REST_ON] = self.block_samples, self.rest_block_samples, c.rest_reset
        cfg[hk.C_RATE], cfg[hk.C_MIN_RATE2], cfg[hk.C_MAX_CORR] = self.rate_hz, c.min_flexion_rate_rad_s**2, c.max_left_right_correlation
        cfg[hk.C_THIGH_ON], cfg[hk.C_THIGH_RATE], cfg[hk.C_TAU] = c.thigh, c.thigh_rate, c.thigh_tau_s
        cfg[hk.C_REST_MIN], cfg[hk.C_TWIST_LIM] = c.rest_min_s * self.rate_hz, np.radians(c.rest_max_twist_deg)
        self._cfg = cfg

    def set_reference(self, q_segment_global: dict, gyr_segment: dict) -> dict[str, float]:
        """Reference slopes (rad) of both thighs from the calibration movement (arrays (N, ·))."""
        for p in ("left_thigh", "right_thigh"):
            w = relative_rate_in_pelvis(q_segment_global["pelvis"], q_segment_global[p], gyr_segment["pelvis"], gyr_segment[p])
            self.reference[p], _ = flexion_axis_lean(w)
        return dict(self.reference)

    def apply(self, q_segment_global: dict, gyr_segment: dict, start_index: int,
              valid: dict | None = None) -> dict:
        """Correct a chunk starting at grid index ``start_index``; update at block ends.

        ``valid``: thigh placement -> (N,) bool, False where that thigh has no data (lost,
        or absent). A block with a thigh missing keeps the last gait decision (walking does
        not stop because a strap lost its link), leaves that thigh's heading as it is and
        updates the other thigh and the pelvis from their own data; a rest block does not
        reset a thigh that has no data.

        The relative rate under a thigh heading correction ``γ`` is
        ``w = R_pelvisᵀ · Ry(γ) · (R_thigh · ω_thigh) − ω_pelvis`` (the pelvis/travel
        correction cancels in it), so the thigh corrections and rest resets never depend on
        the pelvis/travel correction: the kernel runs them over the chunk first (stopping at
        each rest reset for numpy's ``arctan2`` of its twists), then the pelvis feedback runs
        block by block on the uncorrected pelvis rotation plus ``γ_P`` (Cardan Y first).
        """
        c = self.config
        f64 = np.ascontiguousarray
        q = {p: f64(q_segment_global[p], dtype=float) for p in ("pelvis", "left_thigh", "right_thigh")}
        g = {p: f64(gyr_segment[p], dtype=float) for p in ("pelvis", "left_thigh", "right_thigh")}
        n = q["pelvis"].shape[0]
        valid = {p: np.ones(n, dtype=bool) if valid is None or p not in valid else f64(valid[p], dtype=bool)
                 for p in ("left_thigh", "right_thigh")}
        if c.rest_reset:
            rest = self._rest_inputs(q, g)
        else:
            rest = {"still": np.zeros(n, dtype=bool), "left_thigh": np.zeros(n), "right_thigh": np.zeros(n)}
        fs, ist = self._fs, self._is
        fs[hk.F_GAMMA_L], fs[hk.F_GAMMA_R] = self.gamma_rad["left_thigh"], self.gamma_rad["right_thigh"]
        fs[hk.F_RATE_L], fs[hk.F_RATE_R] = self.rate_rad_s["left_thigh"], self.rate_rad_s["right_thigh"]
        fs[hk.F_REF_L], fs[hk.F_REF_R] = self.reference["left_thigh"], self.reference["right_thigh"]
        ist[hk.I_POS] = ist[hk.I_NREC] = ist[hk.I_NRES] = 0
        # room for every sample of the open block and stillness sub-block: more than they span if
        # this chunk's start_index does not follow on from the last one's (the kernel does not check)
        if ist[hk.I_NBLK] + n > self._blk.shape[1]:
            self._blk = np.concatenate([self._blk, np.zeros((5, ist[hk.I_NBLK] + n))], axis=1)
        if ist[hk.I_REST_N] + n > self._rbuf.shape[1]:
            self._rbuf = np.concatenate([self._rbuf, np.zeros((4, ist[hk.I_REST_N] + n))], axis=1)
        g_th = np.empty((2, n))
        rec = np.empty((n // self.block_samples + 2, hk.N_R))
        resets = np.empty((n // self.rest_block_samples + 2, 3))
        while not hk.thigh_pass(start_index, q["pelvis"], q["left_thigh"], q["right_thigh"], g["pelvis"],
                                g["left_thigh"], g["right_thigh"], valid["left_thigh"], valid["right_thigh"],
                                rest["still"], rest["left_thigh"], rest["right_thigh"], fs, ist, self._cfg,
                                self._blk, self._rbuf, g_th, rec, resets):
            # a rest reset: the twists (mean relative headings) of the sub-block's unit vectors
            fs[hk.F_TWIST_L:hk.F_TWIST_R + 1] = np.arctan2(fs[[hk.F_SUM_IM_L, hk.F_SUM_IM_R]],
                                                            fs[[hk.F_SUM_RE_L, hk.F_SUM_RE_R]])
        self.gamma_rad = {"left_thigh": float(fs[hk.F_GAMMA_L]), "right_thigh": float(fs[hk.F_GAMMA_R])}
        self.rate_rad_s = {"left_thigh": float(fs[hk.F_RATE_L]), "right_thigh": float(fs[hk.F_RATE_R])}
        self.resets.extend((int(k), float(dl), float(dr)) for k, dl, dr in resets[:ist[hk.I_NRES]])
        g_pel = self._pelvis_pass(q["pelvis"], start_index, rec[:ist[hk.I_NREC]])
        out = {"pelvis": np.empty((n, 4)), "left_thigh": np.empty((n, 4)), "right_thigh": np.empty((n, 4))}
        hk.rotate_about_up(g_pel, g_pel, False, q["pelvis"], out["pelvis"])
        hk.rotate_about_up(g_pel, g_th[0], True, q["left_thigh"], out["left_thigh"])
        hk.rotate_about_up(g_pel, g_th[1], True, q["right_thigh"], out["right_thigh"])
        return out

    def _pelvis_pass(self, q_pelvis: np.ndarray, start_index: int, rec: np.ndarray) -> np.ndarray:
        """The pelvis/travel feedback over the chunk's block ends ``rec`` (kernel records);
        appends ``history``; returns ``γ_P`` (N,) rad in force at each sample.

        A moving block's mean pelvis rotation (wrapped to ±π) is driven to zero, if the block is
        all within ``pelvis_max_travel_deg`` of the calibration direction (the wrapped yaws
        are then contiguous, their plain mean is the circular mean)."""
        c = self.config
        n = q_pelvis.shape[0]
        yaw0 = pelvis_yaw_rad(q_pelvis) if c.pelvis else np.zeros(n)
        limit = np.radians(c.pelvis_max_travel_deg)
        gp = self.gamma_pelvis_rad
        g_pel = np.empty(n)
        size = max(self.block_samples, self._yaw0_open.size + n)  # (more if start indices skip back)
        sc_buf, yaw_buf = np.empty((2, size)), np.empty(size)
        start = 0
        for end_k, moving, g_l, g_r, nblk in rec.tolist():
            end = int(end_k) - start_index
            g_pel[start:end] = gp
            if c.pelvis and moving and nblk > 0:
                y0 = np.concatenate([self._yaw0_open, yaw0[:end]]) if self._yaw0_open.size else yaw0[start:end]
                # np.angle(np.exp(1j * (y0 + gp))) in two calls: the wrapped yaws under γ_P
                m = y0.size
                hk.wrapped_yaw_terms(y0, gp, sc_buf[0, :m], sc_buf[1, :m])
                yaw = np.arctan2(sc_buf[0, :m], sc_buf[1, :m], out=yaw_buf[:m])
                total, lo, hi = hk.sum_min_max(yaw, m)
                mean_rot = total / nblk
                # (a NaN yaw cannot reach here: it makes the block's flexion sums NaN, so not ``moving``)
                rot_min, rot_max = min(np.inf, lo), max(-np.inf, hi)
                if rot_max <= limit and rot_min >= -limit:
                    gp -= (nblk / self.rate_hz / c.pelvis_tau_s) * mean_rot
            self._yaw0_open = np.empty(0)
            self.history.append((int(end_k), float(g_l), float(g_r), gp))
            start = end
        g_pel[start:] = gp
        self._yaw0_open = np.concatenate([self._yaw0_open, yaw0[start:]])
        self.gamma_pelvis_rad = gp
        return g_pel

    def _rest_inputs(self, q_segment_global: dict, gyr_segment: dict) -> dict:
        """Per-sample stillness and neutrality (N,) bool and the uncorrected relative twists (N,) rad
        (``up_alignment``, ``relative_twist_about_up``; the products compiled, numpy's einsum and
        arctan2)."""
        c = self.config
        qp, ql, qr = (q_segment_global[p] for p in ("pelvis", "left_thigh", "right_thigh"))
        n = qp.shape[0]
        gyr2 = np.empty((3, n))
        for k, p in enumerate(("pelvis", "left_thigh", "right_thigh")):
            np.einsum("ij,ij->i", gyr_segment[p], gyr_segment[p], out=gyr2[k])
        still, idx, args = np.empty(n, dtype=bool), np.empty(n, dtype=np.int64), np.empty((4, n))
        m = hk.rest_flags(qp, ql, qr, gyr2, c.rest_max_gyr_rad_s**2, np.cos(np.radians(c.rest_max_pelvis_tilt_deg)),
                          np.cos(np.radians(c.rest_max_thigh_tilt_deg)), still, idx, args)
        out: dict = {"still": still}
        for k, p in enumerate(("left_thigh", "right_thigh")):
            tw = np.zeros(n)
            tw[idx[:m]] = 2.0 * np.arctan2(args[2 * k, :m], args[2 * k + 1, :m])
            out[p] = tw
        return out
