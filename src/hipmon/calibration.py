"""Sensor-to-segment calibration: quiet standing + functional movement (DESIGN.md section 4).

The idea (details, assumptions and the quality score in ``docs/calibration.md``):

* During the calibration pose every segment frame coincides with the global frame
  (all nine angles are zero in that pose, DESIGN section 2). So for each sensor
  the calibration reduces to *where the global frame lies in that sensor's earth
  frame*: its vertical is exact (the fusion filter's earth z, which during quiet
  standing is the mean specific force), and what is left is one heading angle per
  sensor (6D filters have an arbitrary, sensor-specific heading).
* Thighs: the hip flexion axis (= segment Z at the neutral pose) is the principal
  axis of the thigh's angular velocity in the sensor frame during gait, landings or
  squats, after removing the component along the segment's long axis. Its sign is
  set so that the thigh's sagittal excursions are larger into flexion than into
  extension (true of walking, running, marching, landings and squats alike).
  In walking calibrations that axis is only the starting guess: each thigh's
  heading relative to the pelvis then comes from the hip joint centre the two
  segments share (``hipmon.hip_joint``), which the gait's frontal-plane motion does
  not bias; running keeps the (refined) axis, because foot strikes ring the soft
  tissue under the sensors (``CalibrationConfig.thigh_heading``).
* Pelvis: from its own rotation pattern using the left/right symmetry of gait:
  half a stride later the gait is its own mirror image, so the pelvis's horizontal
  angular rate that repeats every step is about the mediolateral axis (tilt) and
  the part that flips sign every step is about the anterior axis (obliquity); the
  horizontal specific force does the opposite (mediolateral sway flips,
  fore-aft braking/propulsion repeats). For symmetric movements (landings, squats)
  the pelvis's horizontal rotation is tilt, about the mediolateral axis. The
  remaining 180° ambiguity is settled by the hip joint: the thigh's rotation
  relative to the pelvis is mostly about the pelvis's mediolateral axis, which is
  true for only one of the two candidates (the wrong one adds twice the pelvic
  obliquity rate to every hip's adduction rate).

Frames and conventions: ``hipmon.types`` / docs/architecture.md. Quaternions are
scalar first; ``q_a_b`` maps vectors in ``a`` to ``b``. Earth: z up (a fusion
filter's output). Global: X forward, Y up, Z right. Segment: X anterior, Y superior,
Z right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from hipmon import rotations as rot
from hipmon.jit import njit
from hipmon.types import PLACEMENTS

GRAVITY_M_S2 = 9.81
_UP_EARTH = np.array([0.0, 0.0, 1.0])

#: ``q_global0_earth``: global X -> earth x, global Y -> earth z (up), global Z -> earth -y.
Q_GLOBAL0_EARTH = rot.from_matrix(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]))


class CalibrationError(ValueError):
    """The data cannot give a calibration (no quiet standing, no movement, ...)."""


@dataclass
class CalibrationConfig:
    """Parameters of the automatic calibration (SI units).

    - ``standing_min_s``: shortest accepted quiet standing (DESIGN asks for 3 s;
      2 s still calibrates but lowers the quality score).
    - ``still_gyr_rad_s``: largest mean gyroscope norm of a still sensor (rad/s,
      loose enough for several deg/s of uncompensated gyroscope bias).
    - ``still_acc_std_m_s2``: largest standard deviation of the specific-force
      norm in a still window (m/s²).
    - ``still_window_s``: window of the stillness test (s).
    - ``movement_steps``: steps (thigh flexion cycles, both sides) to collect.
    - ``movement_max_s``: movement collected at most (s) when steps are not counted.
    - ``movement_min_s``: movement needed at least (s).
    - ``moving_gyr_rad_s``: thigh angular-rate RMS above which a thigh counts as moving.
    - ``trusted_quality``: quality score below which the calibration cannot be trusted.
    - ``refine_thigh_axes``: refine the thigh axes with the hip-joint criterion: True,
      False, or ``"running"`` (only when the movement has flight phases; measured
      better in running, worse in walking: docs/calibration.md).
    - ``thigh_heading``: where each thigh's heading comes from: ``"hip_joint"`` (the
      hip joint centre shared with the pelvis, ``hipmon.hip_joint``; the flexion axis
      is then only its starting guess and its fallback), ``"axis"`` (the flexion
      axis alone; biased 2–4° externally by the gait's frontal-plane motion), or
      ``"auto"``: the hip joint when the calibration movement has no flight phases
      (walking), the axis in running, where every foot strike rings the soft tissue
      under the sensors and corrupts the joint-centre accelerations (measured on the
      simulator's soft-tissue model: docs/calibration.md).
    - ``hip_joint_max_turn_deg``: a hip-joint heading further than this from the
      flexion axis's is not trusted and the axis is kept. It only catches a fit that
      went to the wrong solution (turned by ~180°): the axis itself is biased by the
      strap twisting with flexion (0.35° per degree, measured on a real walk;
      docs/simulator.md "Realism"), up to 16° in walking and 17° in landings on the
      simulator's real-walk soft tissue, where the hip joint stays within 5°. With 12°
      (the ideal-sensor axis bias of 2–7°) the better heading was thrown away.
    - ``pelvis_axis_from``: what finds the pelvis's mediolateral axis in alternating
      gait: ``"gyr"`` (angular rate only), ``"both"`` (angular rate and specific
      force), or ``"auto"``: ``"both"`` in running, ``"gyr"`` otherwise (in walking the
      sacral sensor's lever arm turns pelvic rotation into sideways specific force
      as large as the sway; measured: docs/calibration.md).
    """

    standing_min_s: float = 2.0
    still_gyr_rad_s: float = 0.25
    still_acc_std_m_s2: float = 0.25
    still_window_s: float = 0.5
    movement_steps: int = 10
    movement_max_s: float = 15.0
    movement_min_s: float = 3.0
    moving_gyr_rad_s: float = 0.6
    trusted_quality: float = 0.5
    refine_thigh_axes: bool | str = "running"
    thigh_heading: str = "auto"
    hip_joint_max_turn_deg: float = 45.0
    pelvis_axis_from: str = "auto"


@dataclass
class Calibration:
    """A sensor-to-segment calibration for the three placements.

    - ``q_sensor_segment[p]`` (4,): the mounting, sensor -> segment.
    - ``q_global_earth[p]`` (4,): the global frame in sensor ``p``'s earth frame
      (a pure heading rotation after ``Q_GLOBAL0_EARTH``).
    - ``standing_s``, ``movement_s``: (start, end) session time of the windows used.
    - ``quality`` in [0, 1]; ``trusted`` = quality >= threshold; ``reasons``: why
      not (empty when trusted); ``metrics``: the numbers behind the score.
    """

    q_sensor_segment: dict[str, np.ndarray]
    q_global_earth: dict[str, np.ndarray]
    standing_s: tuple[float, float]
    movement_s: tuple[float, float]
    quality: float
    trusted: bool
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    def segment_orientation(self, placement: str, q_sensor_earth: np.ndarray) -> np.ndarray:
        """``q_segment_global`` (N, 4) of ``placement`` from its ``q_sensor_earth`` (N, 4)."""
        return segment_orientation(q_sensor_earth, self.q_sensor_segment[placement], self.q_global_earth[placement])

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (lists of floats)."""
        return {
            "q_sensor_segment": {k: [float(x) for x in v] for k, v in self.q_sensor_segment.items()},
            "q_global_earth": {k: [float(x) for x in v] for k, v in self.q_global_earth.items()},
            "standing_s": [float(x) for x in self.standing_s],
            "movement_s": [float(x) for x in self.movement_s],
            "quality": float(self.quality),
            "trusted": bool(self.trusted),
            "reasons": list(self.reasons),
            "metrics": {k: float(v) for k, v in self.metrics.items()},
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> "Calibration":
        return Calibration(
            q_sensor_segment={k: np.asarray(v, float) for k, v in d["q_sensor_segment"].items()},
            q_global_earth={k: np.asarray(v, float) for k, v in d["q_global_earth"].items()},
            standing_s=tuple(d["standing_s"]),  # type: ignore[arg-type]
            movement_s=tuple(d["movement_s"]),  # type: ignore[arg-type]
            quality=float(d["quality"]),
            trusted=bool(d["trusted"]),
            reasons=list(d.get("reasons", [])),
            metrics=dict(d.get("metrics", {})),
        )


# ---------------------------------------------------------------- small pure helpers


def segment_orientation(q_sensor_earth: np.ndarray, q_sensor_segment: np.ndarray, q_global_earth: np.ndarray) -> np.ndarray:
    """``q_segment_global = q_earth_global ⊗ q_sensor_earth ⊗ q_segment_sensor`` (N, 4)."""
    q = rot.multiply(rot.conjugate(q_global_earth), rot.multiply(q_sensor_earth, rot.conjugate(q_sensor_segment)))
    return rot.normalize(q)


def heading_quaternion_earth(heading_rad: float | np.ndarray) -> np.ndarray:
    """Rotation(s) about earth z (up) by ``heading_rad``, (4,) or (N, 4)."""
    h = np.asarray(heading_rad, dtype=float)
    return np.stack([np.cos(h / 2), np.zeros_like(h), np.zeros_like(h), np.sin(h / 2)], axis=-1)


def global_in_earth(forward_earth: np.ndarray) -> np.ndarray:
    """``q_global_earth`` (4,) whose X points along the horizontal part of ``forward_earth`` (3,)."""
    h = np.arctan2(forward_earth[1], forward_earth[0])
    return rot.multiply(heading_quaternion_earth(h), Q_GLOBAL0_EARTH)


def mean_quaternion(q: np.ndarray) -> np.ndarray:
    """Chordal mean (4,) of nearby unit quaternions (N, 4), signs aligned to the first."""
    q = np.asarray(q, dtype=float)
    s = np.sign(q @ q[0])
    s[s == 0] = 1.0
    return rot.normalize((q * s[:, None]).sum(axis=0))


def moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving mean over ``n`` samples along axis 0 (edges use shorter windows)."""
    x = np.asarray(x, dtype=float)
    n = max(int(n), 1)
    c = np.cumsum(np.concatenate([np.zeros((1,) + x.shape[1:]), x]), axis=0)
    i = np.arange(x.shape[0])
    lo = np.clip(i - n // 2, 0, x.shape[0])
    hi = np.clip(i - n // 2 + n, 0, x.shape[0])
    shape = (-1,) + (1,) * (x.ndim - 1)
    return (c[hi] - c[lo]) / (hi - lo).reshape(shape)


def stillness_mask(acc_sensor: np.ndarray, gyr_sensor: np.ndarray, rate_hz: float, config: CalibrationConfig) -> np.ndarray:
    """(N,) bool: the sensor is still (quiet standing) around each sample.

    ``acc_sensor`` (N, 3) m/s², ``gyr_sensor`` (N, 3) rad/s at ``rate_hz``. Still =
    windowed mean gyroscope norm below ``still_gyr_rad_s`` and windowed standard
    deviation of the specific-force norm below ``still_acc_std_m_s2``.
    """
    n = int(round(config.still_window_s * rate_hz))
    g = moving_mean(np.linalg.norm(gyr_sensor, axis=1), n)
    a = np.linalg.norm(acc_sensor, axis=1)
    am = moving_mean(a, n)
    astd = np.sqrt(np.maximum(moving_mean(a * a, n) - am * am, 0.0))
    return (g < config.still_gyr_rad_s) & (astd < config.still_acc_std_m_s2) & (np.abs(am - GRAVITY_M_S2) < 1.0)


def first_run(mask: np.ndarray, min_len: int, start: int = 0) -> tuple[int, int] | None:
    """First run of True in ``mask[start:]`` with at least ``min_len`` samples: (i0, i1) end-exclusive.

    The run is followed to its end (i1 = first False after it, or len(mask)).
    """
    m = np.asarray(mask[start:], dtype=bool)
    if m.size == 0:
        return None
    d = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    for s, e in zip(starts, ends):
        if e - s >= min_len:
            return int(s + start), int(e + start)
    return None


def horizontal_basis(up_sensor: np.ndarray) -> np.ndarray:
    """(2, 3) orthonormal rows spanning the plane perpendicular to ``up_sensor`` (3,)."""
    u = up_sensor / np.linalg.norm(up_sensor)
    a = np.eye(3)[int(np.argmin(np.abs(u)))]
    e1 = np.cross(u, a)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(u, e1)
    return np.stack([e1, e2])


def principal_axis_perpendicular_to(vec_sensor: np.ndarray, up_sensor: np.ndarray) -> tuple[np.ndarray, float]:
    """Principal axis (3,) of vectors (N, 3) projected on the plane ⊥ ``up_sensor``.

    Returns the unit axis (sign arbitrary) and its anisotropy in [0, 1]
    (1 - λ2/λ1 of the 2-D second-moment matrix: 1 = all motion about one axis).
    """
    b = horizontal_basis(up_sensor)
    p = vec_sensor @ b.T  # (N, 2)
    c = p.T @ p
    w, v = np.linalg.eigh(c)
    axis = v[:, 1] @ b
    aniso = 1.0 - w[0] / w[1] if w[1] > 0 else 0.0
    return axis / np.linalg.norm(axis), float(aniso)


def axis_from_second_moments(m2: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, float]:
    """Main axis (3,) of a symmetric 2x2 matrix ``m2`` in ``basis`` (2, 3), and λ1 - λ2 (its strength)."""
    w, v = np.linalg.eigh(m2)
    axis = v[:, 1] @ basis
    return axis / np.linalg.norm(axis), float(w[1] - w[0])


def thigh_sagittal_angle_rad(q_sensor_earth: np.ndarray, up_sensor: np.ndarray, right_sensor: np.ndarray, q_stand: np.ndarray) -> np.ndarray:
    """Thigh inclination in its sagittal plane (N,) rad, + when the knee is forward.

    ``up_sensor``, ``right_sensor``: the segment's Y and Z in the sensor frame;
    ``q_stand``: the sensor's ``q_sensor_earth`` in the calibration pose (its
    forward direction defines "forward"). Uses the fused inclination only.
    """
    fwd_earth = rot.rotate(q_stand, np.cross(up_sensor, right_sensor))
    fwd_earth[2] = 0.0
    fwd_earth /= np.linalg.norm(fwd_earth)
    knee = -rot.rotate(q_sensor_earth, np.broadcast_to(up_sensor, (q_sensor_earth.shape[0], 3)))
    return np.arctan2(knee @ fwd_earth, -knee[:, 2])


def stride_half_period_samples(s_left: np.ndarray, s_right: np.ndarray, rate_hz: float) -> tuple[int, float]:
    """Lag (samples) at which the left thigh's flexion rate best repeats the right's, and that correlation.

    For alternating gait the lag is half a stride and the correlation is high; for
    symmetric movements (both thighs together) the best lag is ~0.
    """
    a = s_left - s_left.mean()
    b = s_right - s_right.mean()
    n = a.size
    max_lag = min(int(1.5 * rate_hz), n // 2)
    best, best_r = 0, -np.inf
    denom = np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12
    for lag in range(0, max_lag):
        r = float((a[lag:] * b[: n - lag]).sum() / denom) * n / (n - lag)
        if r > best_r:
            best, best_r = lag, r
    return best, best_r


# ---------------------------------------------------------------- windows


def find_calibration_windows(
    acc_sensor: Mapping[str, np.ndarray],
    gyr_sensor: Mapping[str, np.ndarray],
    rate_hz: float,
    config: CalibrationConfig | None = None,
    final: bool = True,
) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Auto-detect (standing, movement) sample windows (end-exclusive) on a common grid.

    Standing: the first stretch where all three sensors are still for at least
    ``standing_min_s``. Movement: from the first sample after standing where a thigh
    moves, until ``movement_steps`` flexion cycles (both sides together) or
    ``movement_max_s``. With ``final=False`` (live), returns None until the movement
    window is complete; with ``final=True`` accepts a shorter movement (at least
    ``movement_min_s``) at the end of the data.
    """
    config = config or CalibrationConfig()
    n = min(v.shape[0] for v in acc_sensor.values())
    still = np.ones(n, dtype=bool)
    for p in PLACEMENTS:
        still &= stillness_mask(acc_sensor[p][:n], gyr_sensor[p][:n], rate_hz, config)
    stand = first_run(still, int(config.standing_min_s * rate_hz))
    if stand is None or (stand[1] >= n and not final):
        return None
    i0, i1 = stand
    # trim the stillness window's own half-width at both ends
    pad = int(config.still_window_s * rate_hz / 2)
    stand = (i0 + pad, max(i1 - pad, i0 + pad + 1))
    # movement: thigh angular-rate RMS over 0.5 s above threshold
    w = int(0.5 * rate_hz)
    energy = np.zeros(n)
    for p in ("left_thigh", "right_thigh"):
        energy = np.maximum(energy, np.sqrt(moving_mean(np.sum(gyr_sensor[p][:n] ** 2, axis=1), w)))
    moving = np.flatnonzero(energy[i1:] > config.moving_gyr_rad_s)
    if moving.size == 0:
        return None
    m0 = i1 + int(moving[0])
    m_end_max = min(n, m0 + int(config.movement_max_s * rate_hz))
    # count flexion cycles: zero crossings (upward) of each thigh's low-passed rate norm about its mean
    steps = 0
    m1 = m_end_max
    for p in ("left_thigh", "right_thigh"):
        g = gyr_sensor[p][m0:m_end_max]
        axis, _ = _dominant_axis(g)
        s = moving_mean(g @ axis, max(int(0.08 * rate_hz), 1))
        # the eigenvector's sign is arbitrary (it flips with the mounting): count the
        # cycles on the side of the larger excursion, so the window does not depend on it
        if s.size and -s.min() > s.max():
            s = -s
        thr = 0.5 * np.std(s) if s.size else 0.0
        up = np.flatnonzero((s[1:] > thr) & (s[:-1] <= thr))
        steps += up.size
        if up.size >= (config.movement_steps + 1) // 2 + 1:
            m1 = min(m1, m0 + int(up[(config.movement_steps + 1) // 2]) + int(0.5 * rate_hz)) if steps else m1
    if steps < config.movement_steps and m_end_max < n:
        pass  # window ended by duration
    elif steps < config.movement_steps:
        if not final or (m_end_max - m0) < config.movement_min_s * rate_hz:
            return None
    m1 = max(m1, min(n, m0 + int(config.movement_min_s * rate_hz)))
    if not final and m1 > n:
        return None
    return stand, (m0, min(m1, n))


def _dominant_axis(v: np.ndarray) -> tuple[np.ndarray, float]:
    if v.shape[0] < 3:
        return np.array([0.0, 0.0, 1.0]), 0.0
    w, e = np.linalg.eigh(v.T @ v)
    return e[:, 2], float(w[2])


# ---------------------------------------------------------------- the calibration


def calibrate(
    time_s: np.ndarray,
    q_sensor_earth: Mapping[str, np.ndarray],
    acc_sensor: Mapping[str, np.ndarray],
    gyr_sensor: Mapping[str, np.ndarray],
    rate_hz: float,
    config: CalibrationConfig | None = None,
    windows: tuple[tuple[int, int], tuple[int, int]] | None = None,
) -> Calibration:
    """Calibrate the three placements from data on one common time grid.

    - ``time_s`` (N,) session time s; ``q_sensor_earth[p]`` (N, 4) from the fusion
      filter (earth z up); ``acc_sensor[p]`` (N, 3) m/s²; ``gyr_sensor[p]`` (N, 3)
      rad/s; ``rate_hz`` the grid rate. Keys: ``hipmon.types.PLACEMENTS``.
    - ``windows``: (standing, movement) sample windows, found automatically if None.

    Raises ``CalibrationError`` when no standing or no movement is found.
    """
    config = config or CalibrationConfig()
    if windows is None:
        windows = find_calibration_windows(acc_sensor, gyr_sensor, rate_hz, config, final=True)
    if windows is None:
        raise CalibrationError(
            f"no calibration sequence found: need >= {config.standing_min_s:g} s of quiet standing "
            "(all three sensors still) followed by walking, running, landings or squats"
        )
    (s0, s1), (m0, m1) = windows
    reasons: list[str] = []
    metrics: dict[str, float] = {}
    scores: list[float] = []

    q_stand: dict[str, np.ndarray] = {}
    up_s: dict[str, np.ndarray] = {}
    for p in PLACEMENTS:
        q_fused = mean_quaternion(q_sensor_earth[p][s0:s1])
        up_fused = rot.rotate(rot.conjugate(q_fused), _UP_EARTH)
        # the vertical: the mean specific force (the filter may still be converging);
        # the heading: the filter's
        acc_mean = acc_sensor[p][s0:s1].mean(0)
        up_s[p] = acc_mean / np.linalg.norm(acc_mean)
        q_stand[p] = tilt_to_vertical(q_fused, up_s[p])
        gstd = float(np.sqrt(np.mean(np.sum((gyr_sensor[p][s0:s1] - gyr_sensor[p][s0:s1].mean(0)) ** 2, axis=1))))
        tilt_disagree = float(np.degrees(np.arccos(np.clip(up_s[p] @ up_fused, -1, 1))))
        metrics[f"{p}_standing_gyr_std_rad_s"] = gstd
        metrics[f"{p}_standing_acc_vs_fusion_deg"] = tilt_disagree
        if gstd > 0.1:
            reasons.append(f"{p}: not still during standing (gyroscope SD {gstd:.2f} rad/s)")
            scores.append(max(0.0, 1.0 - gstd / 0.3))
    stand_s = (s1 - s0) / rate_hz
    metrics["standing_s"] = stand_s
    if stand_s < 3.0:
        reasons.append(f"quiet standing lasted {stand_s:.1f} s (3 s asked)")
        scores.append(0.3 + 0.7 * max(0.0, (stand_s - 1.0) / 2.0) * 0.5)

    # ---- thighs: flexion axis
    right_s: dict[str, np.ndarray] = {}
    flex_rate: dict[str, np.ndarray] = {}
    for p in ("left_thigh", "right_thigh"):
        g = gyr_sensor[p][m0:m1]
        axis, aniso = principal_axis_perpendicular_to(g, up_s[p])
        # consistency: the same estimate on four quarters of the movement
        quarters = np.array_split(np.arange(g.shape[0]), 4)
        spread = []
        for qi in quarters:
            if qi.size > 10:
                a_q, _ = principal_axis_perpendicular_to(g[qi], up_s[p])
                spread.append(np.degrees(np.arccos(min(1.0, abs(float(a_q @ axis))))))
        spread_deg = float(max(spread)) if spread else 90.0
        theta = thigh_sagittal_angle_rad(q_sensor_earth[p][m0:m1], up_s[p], axis, q_stand[p])
        skew = float(np.percentile(theta, 97) + np.percentile(theta, 3))
        if skew < 0:
            axis = -axis
        rms = float(np.sqrt(np.mean((g @ axis) ** 2)))
        right_s[p] = axis
        flex_rate[p] = gyr_sensor[p] @ axis
        metrics[f"{p}_axis_anisotropy"] = aniso
        metrics[f"{p}_axis_spread_deg"] = spread_deg
        metrics[f"{p}_flexion_rate_rms_rad_s"] = rms
        metrics[f"{p}_flexion_range_deg"] = float(np.degrees(np.percentile(theta, 97) - np.percentile(theta, 3)))
        metrics[f"{p}_flexion_skew_deg"] = float(np.degrees(abs(skew)))
        if aniso < 0.6:
            reasons.append(f"{p}: movement not planar enough to find the flexion axis (anisotropy {aniso:.2f})")
        scores.append(float(np.clip((aniso - 0.3) / 0.5, 0, 1)))
        if spread_deg > 10.0:
            reasons.append(f"{p}: flexion axis varies by {spread_deg:.0f} deg across the movement")
        scores.append(float(np.clip(1.0 - (spread_deg - 5.0) / 20.0, 0, 1)))
        if rms < 0.8:
            reasons.append(f"{p}: too little thigh movement (flexion rate RMS {rms:.2f} rad/s)")
        scores.append(float(np.clip(rms / 1.0, 0, 1)))
        if abs(skew) < np.radians(3.0):
            reasons.append(f"{p}: cannot tell flexion from extension (skew {np.degrees(skew):.1f} deg)")
            scores.append(0.3)
    rl, rr = metrics["left_thigh_flexion_range_deg"], metrics["right_thigh_flexion_range_deg"]
    sym = min(rl, rr) / max(rl, rr, 1e-9)
    metrics["thigh_range_symmetry"] = sym
    if sym < 0.6:
        reasons.append(f"left/right thigh movement differs (range ratio {sym:.2f})")
    scores.append(float(np.clip((sym - 0.3) / 0.4, 0, 1)))

    # flight phases (running) or not (walking, landings between stands)
    f_vert = acc_sensor["pelvis"][m0:m1] @ up_s["pelvis"]
    flight = float(np.mean(f_vert < 0.3 * GRAVITY_M_S2))
    metrics["flight_fraction"] = flight
    running = flight > 0.05

    # ---- pelvis: mediolateral axis from gait symmetry, sign from the stance side
    axis_from = config.pelvis_axis_from
    if axis_from == "auto":
        axis_from = "both" if running else "gyr"
    z_p, pel_metrics, pel_reasons, pel_score = _pelvis_right_axis(
        acc_sensor, gyr_sensor, up_s, flex_rate, (m0, m1), rate_hz, axis_from
    )
    metrics.update(pel_metrics)
    reasons.extend(pel_reasons)
    scores.append(pel_score)
    right_s["pelvis"] = z_p

    # ---- thighs, refined in running: the thigh's rotation relative to the pelvis is about the pelvis's Z
    refine = running if config.refine_thigh_axes == "running" else bool(config.refine_thigh_axes)
    for p in (("left_thigh", "right_thigh") if refine else ()):
        before = right_s[p]
        right_s[p], resid = _refine_thigh_axis(q_sensor_earth, up_s, right_s, q_stand, p, (m0, m1))
        turn = float(np.degrees(np.arccos(np.clip(before @ right_s[p], -1, 1))))
        metrics[f"{p}_axis_refinement_deg"] = turn
        metrics[f"{p}_hinge_residual"] = resid
        if turn > 15.0:
            reasons.append(f"{p}: flexion axis from the thigh alone and from the hip joint differ by {turn:.0f} deg")
            scores.append(float(np.clip(1.0 - (turn - 15.0) / 15.0, 0, 1)))

    q_sensor_segment: dict[str, np.ndarray] = {}
    q_global_earth: dict[str, np.ndarray] = {}
    for p in PLACEMENTS:
        fwd_sensor = np.cross(up_s[p], right_s[p])
        q_global_earth[p] = global_in_earth(rot.rotate(q_stand[p], fwd_sensor))
    # ---- thighs: heading relative to the pelvis from the shared hip joint centre
    if config.thigh_heading not in ("auto", "hip_joint", "axis"):
        raise ValueError(f"thigh_heading must be 'auto', 'hip_joint' or 'axis', not {config.thigh_heading!r}")
    use_hip_joint = config.thigh_heading == "hip_joint" or (config.thigh_heading == "auto" and not running)
    q_global_earth_axis = dict(q_global_earth)
    metrics["thigh_heading_from_hip_joint"] = 0.0
    for p in (("left_thigh", "right_thigh") if use_hip_joint else ()):
        qge, hj_metrics, hj_reasons, hj_score = _thigh_heading_from_hip_joint(
            acc_sensor, gyr_sensor, q_stand, q_global_earth, p, (s0, s1), (m0, m1), rate_hz,
            config.hip_joint_max_turn_deg)
        metrics.update(hj_metrics)
        reasons.extend(hj_reasons)
        scores.append(hj_score)
        if qge is not None:
            q_global_earth[p] = qge
            metrics["thigh_heading_from_hip_joint"] += 0.5
    # ---- swapped and mirrored sensors (docs/calibration.md, "Swapped and mirrored sensors")
    side_metrics, side_reasons, side_scores = _swap_and_mirror_checks(
        acc_sensor, gyr_sensor, q_stand, q_global_earth_axis, (s0, s1), (m0, m1), rate_hz, metrics, running,
        config.hip_joint_max_turn_deg)
    metrics.update(side_metrics)
    reasons.extend(side_reasons)
    scores.extend(side_scores)
    for p in PLACEMENTS:
        # the segment equals the global frame in the calibration pose
        q_sensor_segment[p] = rot.normalize(rot.multiply(rot.conjugate(q_global_earth[p]), q_stand[p]))
    quality = float(min(scores)) if scores else 0.0
    trusted = quality >= config.trusted_quality
    return Calibration(
        q_sensor_segment=q_sensor_segment,
        q_global_earth=q_global_earth,
        standing_s=(float(time_s[s0]), float(time_s[s1 - 1])),
        movement_s=(float(time_s[m0]), float(time_s[m1 - 1])),
        quality=quality,
        trusted=trusted,
        reasons=[] if trusted and not reasons else reasons,
        metrics=metrics,
    )


#: a sensor is mirrored when tracking gravity with the left-handed kinematics fits this much better
#: (measured, 5 s calibration walks: a thigh's true model 1.29-2.96x better, seeds 10-15 and the real
#: walk; the real pelvis, turning little, only 0.91x: the geometric middle of 1.10 and 1.29)
MIRROR_ERROR_RATIO = 1.2
#: both thighs' hip-joint headings this far (deg) from their flexion axes' = the pelvis faces backwards
SWAP_TURN_DEG = 135.0
#: ... each from a hip-joint fit explaining at least this much of its signal: the real walk's soft
#: tissue leaves 75 % residual (the same either way round), a left-handed thigh 110 %
SWAP_MAX_RESIDUAL_RATIO = 0.9


def gravity_tracking_error_deg(acc_sensor: np.ndarray, gyr_sensor: np.ndarray, rate_hz: float,
                               handedness: int = 1, tau_s: float = 3.0) -> float:
    """RMS angle (deg) between the gravity direction tracked from the gyroscope and the accelerometer's.

    A vector fixed in the world, seen from a rotating right-handed frame, changes as
    ``dg/dt = g × ω``; in a left-handed (mirrored) frame the angular rate, a pseudovector,
    changes sign relative to the vectors, so ``dg/dt = -g × ω``. ``handedness`` (+1 or -1)
    picks the model; a complementary filter (time constant ``tau_s``) pulls the tracked
    direction towards the low-passed (2 Hz) specific force. The model of the sensor's
    true handedness tracks closely (linear acceleration is the residual); the wrong one
    turns gravity the opposite way on every swing. ``acc_sensor`` (N, 3) m/s²,
    ``gyr_sensor`` (N, 3) rad/s at ``rate_hz``.
    """
    from hipmon.hip_joint import low_pass

    a = low_pass(np.asarray(acc_sensor, float), rate_hz, 2.0)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    w = np.ascontiguousarray(np.asarray(gyr_sensor, float) * float(handedness))
    dt = 1.0 / rate_hz
    return float(np.degrees(_tracking_rms_rad(np.ascontiguousarray(a), w, dt, min(dt / tau_s, 1.0))))


@njit
def _tracking_rms_rad(a, w, dt, k):  # pragma: no cover - compiled
    """The loop of ``gravity_tracking_error_deg``: unit directions ``a`` (N, 3), rates ``w`` (N, 3)
    rad/s; RMS angle (rad). Each norm and dot product summed x, y, z in order (numpy's BLAS
    may pair them otherwise: the last bit may differ from a numpy loop, and from machine to machine)."""
    n = a.shape[0]
    if n == 0:
        return 0.0
    g0, g1, g2 = a[0, 0], a[0, 1], a[0, 2]
    err2 = 0.0
    for i in range(n):
        w0, w1, w2 = w[i, 0], w[i, 1], w[i, 2]
        a0, a1, a2 = a[i, 0], a[i, 1], a[i, 2]
        # g <- g + dt (g x w) + k (a - g), then normalised
        c0, c1, c2 = g1 * w2 - g2 * w1, g2 * w0 - g0 * w2, g0 * w1 - g1 * w0
        g0, g1, g2 = g0 + dt * c0 + k * (a0 - g0), g1 + dt * c1 + k * (a1 - g1), g2 + dt * c2 + k * (a2 - g2)
        norm = np.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
        g0, g1, g2 = g0 / norm, g1 / norm, g2 / norm
        c = min(1.0, max(-1.0, g0 * a0 + g1 * a1 + g2 * a2))
        err2 += np.arccos(c) ** 2
    return np.sqrt(err2 / n)


def _swap_and_mirror_checks(acc_sensor, gyr_sensor, q_stand, q_global_earth_axis, standing, movement, rate_hz,
                            metrics, running, max_turn_deg):
    """Mirrored sensor frames and swapped thighs; (metrics, reasons, scores).

    Mirror: per sensor, gravity tracked with right- and left-handed kinematics over the
    movement (``gravity_tracking_error_deg``); left-handed fitting ``MIRROR_ERROR_RATIO``
    times better = an axis negated. Swap: the thighs' forward direction comes from each
    thigh alone (flexion excursions exceed extension), the pelvis's from which thigh is
    in stance (the labels); the hip joint centre both share carries the pelvis's forward
    over to each thigh (``hipmon.hip_joint``). When both thighs then face backwards
    (> ``SWAP_TURN_DEG``; by chance from two meaningless fits: 6 %) with fits that explain
    the signal and a confident pelvis sign, the labels are what is wrong: the thighs are swapped.
    """
    (s0, s1), (m0, m1) = standing, movement
    out: dict[str, float] = {}
    reasons: list[str] = []
    scores: list[float] = []
    if running:
        # flight phases: the thighs' linear acceleration swamps gravity in the specific force
        # (both handedness models track equally badly, measured) and the running calibration
        # has no hip-joint fits: nothing can be said, and nothing is claimed
        out["side_checks_skipped_running"] = 1.0
        return out, reasons, scores
    mirrored = []
    for p in PLACEMENTS:
        e_r = gravity_tracking_error_deg(acc_sensor[p][m0:m1], gyr_sensor[p][m0:m1], rate_hz, +1)
        e_l = gravity_tracking_error_deg(acc_sensor[p][m0:m1], gyr_sensor[p][m0:m1], rate_hz, -1)
        out[f"{p}_gravity_tracking_right_handed_deg"] = e_r
        out[f"{p}_gravity_tracking_left_handed_deg"] = e_l
        if e_r > MIRROR_ERROR_RATIO * e_l:
            mirrored.append(p)
            reasons.append(f"{p}: the sensor frame is left-handed (gyroscope and accelerometer agree only with one "
                           f"axis negated: gravity tracked {e_l:.0f} deg vs {e_r:.0f} deg RMS); fix the sensor's axes "
                           "(one axis of acc and gyr negated) and import again")
            scores.append(0.0)
    out["mirrored_sensors"] = float(len(mirrored))
    if mirrored:
        return out, reasons, scores
    m = metrics
    turns = [m.get(f"{p}_hip_joint_heading_change_deg") for p in ("left_thigh", "right_thigh")]
    fits = [m.get(f"{p}_hip_joint_residual_ratio") for p in ("left_thigh", "right_thigh")]
    if any(t is None for t in turns + fits):
        return out, reasons, scores
    swapped = (all(abs(t) > SWAP_TURN_DEG for t in turns) and all(f < SWAP_MAX_RESIDUAL_RATIO for f in fits)
               and m.get("pelvis_sign_correlation", 0.0) >= 0.4)
    out["thighs_swapped"] = float(swapped)
    if swapped:
        reasons.append(f"left and right thigh sensors are swapped: through the hip joints the pelvis faces "
                       f"backwards from both thighs ({turns[0]:+.0f}, {turns[1]:+.0f} deg); exchange the thigh "
                       "files (hipmon import does it itself)")
        scores.append(0.2)
    return out, reasons, scores


def yaw_about_earth_up_rad(q: np.ndarray) -> float:
    """The rotation angle (rad) about earth z of the twist part of ``q`` (4,) (swing-twist decomposition)."""
    return float(2.0 * np.arctan2(q[3], q[0]))


def _thigh_heading_from_hip_joint(acc_sensor, gyr_sensor, q_stand, q_global_earth, placement, standing, movement,
                                  rate_hz, max_turn_deg=12.0):
    """The thigh's ``q_global_earth`` (4,) from the hip joint centre it shares with the pelvis, or None.

    ``hipmon.hip_joint.fit_relative_orientation`` gives the thigh-to-pelvis sensor
    rotation at the middle of the stand (gyroscope bias: the stand's mean rate). Its
    part about the vertical carries the pelvis's forward direction over to the thigh
    (in the calibration pose both segment frames are the global frame); its tilt part
    is only reported (the verticals stay the standing accelerometers'). The flexion
    axis gives the starting guess, and its 180° turn is tried too. Returns
    (q_global_earth or None when the fit cannot be trusted, metrics, reasons, score).
    """
    from hipmon.hip_joint import fit_relative_orientation

    (s0, s1), (m0, m1) = standing, movement
    i0 = (s0 + s1) // 2
    bias = {p: gyr_sensor[p][s0:s1].mean(0) for p in ("pelvis", placement)}
    acc = {p: acc_sensor[p][i0:m1] for p in ("pelvis", placement)}
    gyr = {p: gyr_sensor[p][i0:m1] - bias[p] for p in ("pelvis", placement)}
    qp, qt = q_stand["pelvis"], q_stand[placement]
    axis_heading = rot.multiply(q_global_earth["pelvis"], rot.conjugate(q_global_earth[placement]))  # earth_t -> earth_p
    metrics: dict[str, float] = {}
    guesses = np.array([rot.multiply(rot.conjugate(qp), rot.multiply(
        rot.multiply(axis_heading, heading_quaternion_earth(turn)), qt)) for turn in (0.0, np.pi)])
    try:
        fit = fit_relative_orientation(acc["pelvis"], gyr["pelvis"], acc[placement], gyr[placement], rate_hz,
                                       guesses, fit_from=m0 - i0)
    except ValueError as exc:
        return None, metrics, [f"{placement}: no hip joint fit ({exc}); heading from the flexion axis"], 0.7
    m_earth = rot.multiply(qp, rot.multiply(fit.q_thigh_pelvis, rot.conjugate(qt)))  # earth_t -> earth_p
    theta = yaw_about_earth_up_rad(m_earth)
    swing = rot.multiply(heading_quaternion_earth(-theta), m_earth)
    change = float(np.degrees(np.angle(np.exp(1j * (theta - yaw_about_earth_up_rad(axis_heading))))))
    ratio = fit.residual_rms_m_s2 / max(fit.signal_rms_m_s2, 1e-9)
    r_p, r_t = float(np.linalg.norm(fit.lever_arm_pelvis_m)), float(np.linalg.norm(fit.lever_arm_thigh_m))
    metrics.update({
        f"{placement}_hip_joint_heading_change_deg": change,
        f"{placement}_hip_joint_residual_ratio": ratio,
        f"{placement}_hip_joint_residual_m_s2": fit.residual_rms_m_s2,
        f"{placement}_hip_joint_lever_arm_m": r_t,
        f"{placement}_hip_joint_pelvis_lever_arm_m": r_p,
        f"{placement}_hip_joint_tilt_vs_standing_deg": float(np.degrees(np.linalg.norm(rot.to_rotvec(swing[None])[0]))),
    })
    problems = []
    if ratio > 0.5:
        problems.append(f"the two hip-joint accelerations disagree (residual {ratio:.0%} of the signal)")
    if r_t > 0.6 or r_p > 0.5:  # the HJC is within a thigh's or a pelvis's length of its sensor
        problems.append(f"implausible lever arms (thigh {r_t:.2f} m, pelvis {r_p:.2f} m)")
    if abs(change) > max_turn_deg:
        problems.append(f"its heading is {abs(change):.0f} deg from the flexion axis's (more than {max_turn_deg:g})")
    if problems:
        return None, metrics, [f"{placement}: hip joint fit not used: " + "; ".join(problems)
                               + "; heading from the flexion axis"], 0.7
    return rot.multiply(heading_quaternion_earth(-theta), q_global_earth["pelvis"]), metrics, [], 1.0


def tilt_to_vertical(q_sensor_earth: np.ndarray, up_sensor: np.ndarray) -> np.ndarray:
    """``q_sensor_earth`` (4,) with its inclination changed so that ``up_sensor`` (3,) maps to earth z (heading kept)."""
    up_now = rot.rotate(q_sensor_earth, up_sensor)  # where the true vertical is mapped now (earth)
    axis = np.cross(up_now, _UP_EARTH)
    s = np.linalg.norm(axis)
    if s < 1e-12:
        return rot.normalize(q_sensor_earth)
    ang = np.arctan2(s, float(up_now @ _UP_EARTH))
    return rot.normalize(rot.multiply(rot.from_axis_angle(axis / s, ang), q_sensor_earth))


def detrended_integral(rate: np.ndarray, rate_hz: float) -> np.ndarray:
    """Integral (N,) of a rate (N,) with mean and linear trend removed (an angle without drift)."""
    a = np.cumsum(rate - rate.mean()) / rate_hz
    x = np.arange(a.size)
    return a - np.polyval(np.polyfit(x, a, 1), x) if a.size > 2 else a - a.mean()


def _pelvis_right_axis(acc_sensor, gyr_sensor, up_s, flex_rate, window, rate_hz, pelvis_axis_from="gyr"):
    """The pelvis's mediolateral axis (3,) in its sensor frame; metrics, reasons, score.

    Axis: gait symmetry (module docstring). Sign, alternating gait: the stance
    side of the pelvis is up (contralateral drop). In forward gait the stance
    thigh extends while the swing thigh flexes, so the pelvis's rotation angle
    about its anterior axis X (-obliquity) follows ``s_right - s_left`` (thigh
    flexion rates); in place, the stance thigh is the lower one, so it follows
    the flexion-angle difference ``∫(s_right - s_left)``. Both correlations are
    summed (each is ~0 or positive in the other case: measured).
    Symmetric movements: the pelvis tilts anteriorly (rotation about -Z) as the hips flex.
    """
    m0, m1 = window
    metrics: dict[str, float] = {}
    reasons: list[str] = []
    b = horizontal_basis(up_s["pelvis"])
    g = gyr_sensor["pelvis"][m0:m1] @ b.T  # (M, 2) horizontal angular rate
    a = acc_sensor["pelvis"][m0:m1] @ b.T
    g = g - g.mean(0)
    a = a - a.mean(0)
    s_l = flex_rate["left_thigh"][m0:m1]
    s_r = flex_rate["right_thigh"][m0:m1]
    lag, r = stride_half_period_samples(s_l, s_r, rate_hz)
    metrics["half_stride_s"] = lag / rate_hz
    metrics["left_right_correlation"] = r
    alternating = lag > int(0.15 * rate_hz) and r > 0.3
    if alternating:
        # even (repeats every step) and odd (flips every step) parts
        ge = 0.5 * (g[lag:] + g[:-lag])
        go = 0.5 * (g[lag:] - g[:-lag])
        ae = 0.5 * (a[lag:] + a[:-lag])
        ao = 0.5 * (a[lag:] - a[:-lag])
        m_gyr = (ge.T @ ge - go.T @ go) / max(np.trace(ge.T @ ge + go.T @ go), 1e-12)  # main axis -> Z
        m_acc = (ao.T @ ao - ae.T @ ae) / max(np.trace(ae.T @ ae + ao.T @ ao), 1e-12)  # main axis -> Z
        m2 = m_gyr + m_acc if pelvis_axis_from == "both" else m_gyr
        axis, strength = axis_from_second_moments(m2, b)
        axis_g, _ = axis_from_second_moments(m_gyr, b)
        axis_a, _ = axis_from_second_moments(m_acc, b)
        agree = float(np.degrees(np.arccos(min(1.0, abs(float(axis_g @ axis_a))))))
        metrics["pelvis_gyr_acc_axis_disagreement_deg"] = agree
        x_axis = np.cross(up_s["pelvis"], axis)
        theta_x = detrended_integral(gyr_sensor["pelvis"][m0:m1] @ x_axis, rate_hz)
        cue = s_r - s_l  # forward gait: the stance thigh extends while the swing thigh flexes
        cue_angle = detrended_integral(cue, rate_hz)  # in place: the stance thigh is the lower one
        corr = float(np.corrcoef(theta_x, cue)[0, 1] + np.corrcoef(theta_x, cue_angle)[0, 1])
        metrics["pelvis_sign_correlation_rate"] = float(np.corrcoef(theta_x, cue)[0, 1])
        metrics["pelvis_sign_correlation_angle"] = float(np.corrcoef(theta_x, cue_angle)[0, 1])
        if agree > 15.0:
            reasons.append(f"pelvis: axes from rotation and from acceleration differ by {agree:.0f} deg")
            strength = min(strength, 0.1)
    else:
        m2 = g.T @ g / max(np.trace(g.T @ g), 1e-12)
        axis, strength = axis_from_second_moments(m2, b)
        theta_z = detrended_integral(gyr_sensor["pelvis"][m0:m1] @ axis, rate_hz)
        flex = detrended_integral(s_l + s_r, rate_hz)
        corr = -float(np.corrcoef(theta_z, flex)[0, 1])
    if corr < 0:
        axis = -axis
    metrics["pelvis_axis_strength"] = strength
    metrics["pelvis_alternating_gait"] = float(alternating)
    metrics["pelvis_sign_correlation"] = abs(corr)
    score = 1.0
    if strength < 0.2:
        reasons.append(f"pelvis: rotation pattern too weak to find its axes (strength {strength:.2f})")
        score = min(score, float(np.clip(strength / 0.4, 0, 1)))
    if abs(corr) < 0.4:
        reasons.append(f"pelvis: cannot tell forward from backward (correlation {abs(corr):.2f})")
        score = min(score, float(np.clip(abs(corr) / 0.8, 0, 1)))
    return axis, metrics, reasons, score


def _segment_orientations(q_sensor_earth, up_s, right_s, q_stand, window, placements=PLACEMENTS):
    m0, m1 = window
    out = {}
    for p in placements:
        fwd = np.cross(up_s[p], right_s[p])
        qge = global_in_earth(rot.rotate(q_stand[p], fwd))
        qss = rot.multiply(rot.conjugate(qge), q_stand[p])
        out[p] = segment_orientation(q_sensor_earth[p][m0:m1], qss, qge)
    return out


def _hinge_leak(q_pelvis_global: np.ndarray, q_thigh_global: np.ndarray) -> float:
    """Mean squared rotation (rad² per sample²) of the thigh relative to the pelvis about the pelvis's X."""
    q_tp = rot.multiply(rot.conjugate(q_pelvis_global), q_thigh_global)
    dq = rot.multiply(rot.conjugate(q_tp[:-1]), q_tp[1:])
    w_pelvis = rot.rotate(q_tp[:-1], rot.to_rotvec(dq))
    return float(np.mean(w_pelvis[:, 0] ** 2))


def _refine_thigh_axis(q_sensor_earth, up_s, right_s, q_stand, placement, window, span_deg=20.0):
    """Turn the thigh's Z about its vertical to minimise the hip's rotation about the pelvis's X.

    A heading error ε of the thigh's mounting makes flexion leak into adduction
    (``≈ flexion rate · sin ε`` about the pelvis's X); the leak is smallest at the
    true axis (up to the athlete's own adduction-flexion coupling).
    """
    qp = _segment_orientations(q_sensor_earth, up_s, right_s, q_stand, window, ("pelvis",))["pelvis"]
    up = up_s[placement]
    z0 = right_s[placement]

    def axis_at(deg: float) -> np.ndarray:
        return rot.rotate(rot.from_axis_angle(up, np.radians(deg)), z0)

    def cost(deg: float) -> float:
        qt = _segment_orientations(q_sensor_earth, up_s, {placement: axis_at(deg)}, q_stand, window, (placement,))[placement]
        return _hinge_leak(qp, qt)

    grid = np.linspace(-span_deg, span_deg, 9)
    costs = [cost(d) for d in grid]
    lo, hi = float(grid[max(int(np.argmin(costs)) - 1, 0)]), float(grid[min(int(np.argmin(costs)) + 1, grid.size - 1)])
    gr = (np.sqrt(5) - 1) / 2
    c, d = hi - gr * (hi - lo), lo + gr * (hi - lo)
    fc, fd = cost(c), cost(d)
    for _ in range(14):
        if fc < fd:
            hi, d, fd = d, c, fc
            c = hi - gr * (hi - lo)
            fc = cost(c)
        else:
            lo, c, fc = c, d, fd
            d = lo + gr * (hi - lo)
            fd = cost(d)
    best = 0.5 * (lo + hi)
    return axis_at(best), float(cost(best))


def share_heading(calibration: Calibration, reference: str = "pelvis") -> Calibration:
    """The calibration with every sensor's heading taken from ``reference``'s (9D fusion only).

    With a magnetometer every sensor's earth frame points to the same magnetic north,
    so one forward direction serves all: the thighs' flexion axes then come from the
    pelvis's and the standing pose, not from their own movement (whose axis the
    gait's frontal-plane motion biases by 2–4°: docs/calibration.md). Each
    ``q_sensor_segment`` is re-derived so that the standing pose stays all zeros.
    Only valid when the sensors' earth frames agree, i.e. the field is the same
    at every sensor (no local disturbance).
    """
    q_ge_ref = calibration.q_global_earth[reference]
    q_ss, q_ge = {}, {}
    for p in calibration.q_sensor_segment:
        q_stand = rot.multiply(calibration.q_global_earth[p], calibration.q_sensor_segment[p])
        q_ge[p] = np.array(q_ge_ref, dtype=float)
        q_ss[p] = rot.normalize(rot.multiply(rot.conjugate(q_ge_ref), q_stand))
    metrics = dict(calibration.metrics)
    metrics["shared_heading"] = 1.0
    return Calibration(q_ss, q_ge, calibration.standing_s, calibration.movement_s, calibration.quality,
                       calibration.trusted, list(calibration.reasons), metrics)


# ---------------------------------------------------------------- one sensor on the sacrum
#
# Without thighs there is no flexion axis, no hip joint and no thigh half-stride lag. What
# the pelvis alone offers (docs/calibration.md, "One sensor on the sacrum"):
#
# * the vertical: the mean specific force of a quiet standing (as with three sensors), or,
#   with no standing, the mean specific force over whole strides: the velocity is periodic,
#   so its mean rate of change over whole strides is zero and what is left is gravity;
# * the mediolateral axis: the gait-symmetry axis of ``_pelvis_right_axis`` with the step
#   period (half a stride) taken from the pelvis's own vertical specific force, which
#   repeats every step (one loading peak per foot contact);
# * forward versus backward: (1) the walking centre of mass vaults over the stance leg like
#   an inverted pendulum: it is highest at mid-stance, where it is slowest, so the vertical
#   velocity and the forward acceleration are in anti-phase in walking; in running the body
#   is lowest and slowest at mid-stance (spring-mass), so they are in phase (Cavagna et al.
#   1977); (2) after a quiet standing the body must accelerate the way it walks: the
#   horizontal velocity gained over the first steps points forward.


def step_period_samples(f_vertical: np.ndarray, rate_hz: float, min_s: float = 0.25, max_s: float = 1.0) -> tuple[int, float]:
    """The step period (samples) of gait from the vertical specific force (N,) m/s², and its autocorrelation.

    One loading peak per foot contact: the force repeats every step. The shortest lag in
    ``[min_s, max_s]`` whose autocorrelation is within 80 % of the best is taken, so a
    fast gait's stride (two steps, also in range) does not win over its step.
    """
    f = np.asarray(f_vertical, float) - np.mean(f_vertical)
    n = f.size
    lo, hi = max(int(min_s * rate_hz), 1), min(int(max_s * rate_hz), n // 2)
    if hi <= lo:
        return 0, 0.0
    den = float(f @ f) + 1e-12
    ac = np.array([float(f[k:] @ f[: n - k]) / den * n / (n - k) for k in range(lo, hi)])
    peaks = [i for i in range(1, ac.size - 1) if ac[i] >= ac[i - 1] and ac[i] >= ac[i + 1]]
    if not peaks:
        return 0, 0.0
    best = max(ac[i] for i in peaks)
    i = next(i for i in peaks if ac[i] >= 0.8 * best)
    return lo + i, float(ac[i])


def pelvis_moving_mask(acc_sensor: np.ndarray, rate_hz: float, threshold_m_s2: float = 0.6) -> np.ndarray:
    """(N,) bool: the pelvis is in gait: the specific-force norm varies by more than
    ``threshold_m_s2`` (SD over 1 s; quiet standing sways it by a few hundredths, walking by 1–3 m/s²)."""
    a = np.linalg.norm(acc_sensor, axis=1)
    n = max(int(rate_hz), 1)
    am = moving_mean(a, n)
    sd = np.sqrt(np.maximum(moving_mean(a * a, n) - am * am, 0.0))
    return sd > threshold_m_s2


def find_pelvis_calibration_windows(
    acc_sensor: np.ndarray,
    gyr_sensor: np.ndarray,
    rate_hz: float,
    config: CalibrationConfig | None = None,
    final: bool = True,
) -> tuple[tuple[int, int] | None, tuple[int, int]] | None:
    """(standing or None, movement) sample windows (end-exclusive) of a pelvis sensor alone.

    ``acc_sensor`` (N, 3) m/s², ``gyr_sensor`` (N, 3) rad/s. Standing: the pelvis still
    for ``standing_min_s`` before the gait starts (None when the gait comes first: the
    gait is then the calibration). Movement: from the first gait sample,
    ``movement_steps + 1`` steps (step period from the vertical specific force), at
    least ``movement_min_s``, at most ``movement_max_s``. ``final=False`` (live):
    None until that window is complete.
    """
    config = config or CalibrationConfig()
    n = acc_sensor.shape[0]
    moving = np.flatnonzero(pelvis_moving_mask(acc_sensor, rate_hz))
    if moving.size == 0:
        return None
    m0 = int(moving[0])
    still = stillness_mask(acc_sensor[:m0], gyr_sensor[:m0], rate_hz, config) if m0 > 0 else np.zeros(0, bool)
    stand = first_run(still, int(config.standing_min_s * rate_hz))
    if stand is not None:
        pad = int(config.still_window_s * rate_hz / 2)
        i0, i1 = stand
        stand = (i0 + pad, max(i1 - pad, i0 + pad + 1))
    max_n = int(config.movement_max_s * rate_hz)
    seg = acc_sensor[m0:min(n, m0 + max_n)]
    if seg.shape[0] < int(config.movement_min_s * rate_hz):
        return None
    up = seg.mean(0) / np.linalg.norm(seg.mean(0))
    step, _ = step_period_samples(seg @ up, rate_hz)
    if step == 0:
        return None if not final or seg.shape[0] < max_n else (stand, (m0, m0 + seg.shape[0]))
    want = max((config.movement_steps + 1) * step, int(config.movement_min_s * rate_hz))
    want = min(want, max_n)
    if m0 + want > n:
        if not final:
            return None
        want = n - m0
    return stand, (m0, m0 + want)


def _forward_cues(q_sensor_earth, acc_sensor, fwd_sensor, standing, movement, rate_hz, running):
    """Evidence in [-1, 1] that ``fwd_sensor`` (3,) points forward, from each cue (module notes above).

    Returns (energy, start or nan, metrics). Computed in the earth frame with the
    forward direction carried by the sensor's orientation sample by sample, so a turn
    in the window does not mix forward into sideways.
    """
    m0, m1 = movement
    q = q_sensor_earth[m0:m1]
    a_e = rot.rotate(q, acc_sensor[m0:m1])
    f_e = rot.rotate(q, np.broadcast_to(fwd_sensor, (m1 - m0, 3))).copy()
    f_e[:, 2] = 0.0
    f_e /= np.maximum(np.linalg.norm(f_e, axis=1, keepdims=True), 1e-9)
    v_up = detrended_integral(a_e[:, 2], rate_hz)
    a_fwd = np.einsum("ij,ij->i", a_e, f_e)
    r = float(np.corrcoef(v_up, a_fwd - a_fwd.mean())[0, 1]) if v_up.std() > 0 and a_fwd.std() > 0 else 0.0
    energy = r if running else -r
    metrics = {"pelvis_vertical_velocity_forward_acc_corr": r}
    start = float("nan")
    if standing is not None and not running:
        s0, s1 = standing
        bias = rot.rotate(q_sensor_earth[s0:s1], acc_sensor[s0:s1]).mean(0)  # gravity as the filter sees it
        j1 = min(m1, m0 + int(2.0 * rate_hz))
        qa = q_sensor_earth[s1:j1]
        a_h = rot.rotate(qa, acc_sensor[s1:j1]) - bias
        f_h = rot.rotate(qa, np.broadcast_to(fwd_sensor, (j1 - s1, 3))).copy()
        f_h[:, 2] = 0.0
        f_h /= np.maximum(np.linalg.norm(f_h, axis=1, keepdims=True), 1e-9)
        v_fwd = float(np.einsum("ij,ij->i", a_h, f_h).sum() / rate_hz)
        v_h = float(np.linalg.norm(a_h[:, :2].sum(0) / rate_hz))
        start = v_fwd / max(v_h, 0.3)
        metrics["pelvis_start_velocity_forward_m_s"] = v_fwd
        metrics["pelvis_start_velocity_horizontal_m_s"] = v_h
    return energy, start, metrics


def calibrate_pelvis_only(
    time_s: np.ndarray,
    q_sensor_earth: np.ndarray,
    acc_sensor: np.ndarray,
    gyr_sensor: np.ndarray,
    rate_hz: float,
    config: CalibrationConfig | None = None,
    windows: tuple[tuple[int, int] | None, tuple[int, int]] | None = None,
) -> Calibration:
    """Calibrate a pelvis (sacral) sensor alone from its gait (see the notes above this function).

    ``time_s`` (N,) s; ``q_sensor_earth`` (N, 4) fused, earth z up; ``acc_sensor`` (N, 3)
    m/s²; ``gyr_sensor`` (N, 3) rad/s on one grid at ``rate_hz``. ``windows``: from
    ``find_pelvis_calibration_windows`` if None. The result holds only ``pelvis``.
    Without a standing, angles are zero in the mean pose of the calibration strides
    (their vertical) and the direction faced over the first stride.
    Raises ``CalibrationError`` without gait.
    """
    config = config or CalibrationConfig()
    if windows is None:
        windows = find_pelvis_calibration_windows(acc_sensor, gyr_sensor, rate_hz, config, final=True)
    if windows is None:
        raise CalibrationError(
            f"no calibration sequence found for the pelvis sensor: need walking or running of at least "
            f"{config.movement_min_s:g} s (after >= {config.standing_min_s:g} s of quiet standing, or straight away)")
    standing, (m0, m1) = windows
    reasons: list[str] = []
    scores: list[float] = []
    metrics: dict[str, float] = {"pelvis_only": 1.0}
    up_move = acc_sensor[m0:m1].mean(0)
    step, step_r = step_period_samples(acc_sensor[m0:m1] @ (up_move / np.linalg.norm(up_move)), rate_hz)
    metrics["step_s"] = step / rate_hz
    metrics["step_autocorrelation"] = step_r
    if step == 0 or step_r < 0.3:
        raise CalibrationError(f"no regular steps in the pelvis signal ({m0 / rate_hz:.1f}-{m1 / rate_hz:.1f} s)")
    if standing is not None:
        s0, s1 = standing
        acc_mean = acc_sensor[s0:s1].mean(0)
        up_s = acc_mean / np.linalg.norm(acc_mean)
        q_stand = tilt_to_vertical(mean_quaternion(q_sensor_earth[s0:s1]), up_s)
        metrics["standing_s"] = (s1 - s0) / rate_hz
        gstd = float(np.sqrt(np.mean(np.sum((gyr_sensor[s0:s1] - gyr_sensor[s0:s1].mean(0)) ** 2, axis=1))))
        metrics["pelvis_standing_gyr_std_rad_s"] = gstd
        if metrics["standing_s"] < 3.0:
            reasons.append(f"quiet standing lasted {metrics['standing_s']:.1f} s (3 s asked)")
            scores.append(0.3 + 0.7 * max(0.0, (metrics["standing_s"] - 1.0) / 2.0) * 0.5)
    else:
        # the gait is the calibration: the vertical from whole strides, the heading from the first
        stride = 2 * step
        m1 = m0 + max((m1 - m0) // stride, 1) * stride
        acc_mean = acc_sensor[m0:m1].mean(0)
        up_s = acc_mean / np.linalg.norm(acc_mean)
        q_stand = tilt_to_vertical(mean_quaternion(q_sensor_earth[m0:m0 + stride]), up_s)
        metrics["standing_s"] = 0.0
        reasons.append("no quiet standing: the zero pose is the mean pose of the calibration strides")
    f_vert = acc_sensor[m0:m1] @ up_s
    flight = float(np.mean(f_vert < 0.3 * GRAVITY_M_S2))
    metrics["flight_fraction"] = flight
    running = flight > 0.05
    # mediolateral axis from gait symmetry over one step (= half a stride)
    b = horizontal_basis(up_s)
    g = gyr_sensor[m0:m1] @ b.T
    a = acc_sensor[m0:m1] @ b.T
    g, a = g - g.mean(0), a - a.mean(0)
    ge, go = 0.5 * (g[step:] + g[:-step]), 0.5 * (g[step:] - g[:-step])
    ae, ao = 0.5 * (a[step:] + a[:-step]), 0.5 * (a[step:] - a[:-step])
    m_gyr = (ge.T @ ge - go.T @ go) / max(np.trace(ge.T @ ge + go.T @ go), 1e-12)
    m_acc = (ao.T @ ao - ae.T @ ae) / max(np.trace(ae.T @ ae + ao.T @ ao), 1e-12)
    axis_from = config.pelvis_axis_from if config.pelvis_axis_from != "auto" else ("both" if running else "gyr")
    right_s, strength = axis_from_second_moments(m_gyr + m_acc if axis_from == "both" else m_gyr, b)
    metrics["pelvis_axis_strength"] = strength
    if strength < 0.2:
        reasons.append(f"pelvis: rotation pattern too weak to find its axes (strength {strength:.2f})")
        scores.append(float(np.clip(strength / 0.4, 0, 1)))
    fwd_s = np.cross(up_s, right_s)
    energy, start, cue_metrics = _forward_cues(q_sensor_earth, acc_sensor, fwd_s, standing, (m0, m1), rate_hz, running)
    metrics.update(cue_metrics)
    cues = [energy] + ([start] if np.isfinite(start) else [])
    evidence = float(np.mean(cues))
    metrics["pelvis_forward_evidence_gait"] = energy
    if np.isfinite(start):
        metrics["pelvis_forward_evidence_start"] = start
        # one walks off in the direction one faces: a walk start far from the gait's
        # forward axis means the first movement was not straight gait (turning, sitting down...)
        if abs(start) < np.cos(np.radians(30.0)):
            off = float(np.degrees(np.arccos(np.clip(abs(start), 0.0, 1.0))))
            reasons.append(f"pelvis: the walk start heads {off:.0f} deg (or more) off the gait's forward axis; "
                           "the first movement may not be straight walking")
            scores.append(float(np.clip(0.5 * abs(start) / np.cos(np.radians(30.0)), 0, 0.45)))
        if np.sign(start) != np.sign(energy) and min(abs(start), abs(energy)) > 0.2:
            reasons.append(f"pelvis: the gait (evidence {energy:+.2f}) and the walk start ({start:+.2f}) "
                           "disagree on forward")
    if evidence < 0:
        right_s, fwd_s = -right_s, -fwd_s
    metrics["pelvis_forward_evidence"] = abs(evidence)
    if abs(evidence) < 0.2:
        reasons.append(f"pelvis: cannot tell forward from backward (evidence {abs(evidence):.2f}); "
                       "tilt and obliquity may have the wrong sign")
        scores.append(float(np.clip(abs(evidence) / 0.4, 0, 1)))
    qge = global_in_earth(rot.rotate(q_stand, fwd_s))
    q_ss = rot.normalize(rot.multiply(rot.conjugate(qge), q_stand))
    quality = float(min(scores)) if scores else 1.0
    trusted = quality >= config.trusted_quality
    s_win = standing if standing is not None else (m0, m1)
    return Calibration(
        q_sensor_segment={"pelvis": q_ss},
        q_global_earth={"pelvis": qge},
        standing_s=(float(time_s[s_win[0]]), float(time_s[s_win[1] - 1])),
        movement_s=(float(time_s[m0]), float(time_s[m1 - 1])),
        quality=quality,
        trusted=trusted,
        reasons=reasons,
        metrics=metrics,
    )
