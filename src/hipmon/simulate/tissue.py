"""Soft-tissue artefact (STA): a strapped-on sensor moves relative to its bone.

A sensor strapped onto skin and muscle is not rigidly fixed to the segment. With
``ImuModel(soft_tissue=True)`` each sensor's mounting and lever arm become functions
of time, both in the segment frame:

    q_sensor_segment(t) = exp(θ(t)) ⊗ q_sensor_segment        (θ: rotation vector, rad)
    r_segment(t)        = r_segment + d(t)                      (d: displacement, m)

and the IMU synthesis (``imu.synthesize``) differentiates the resulting sensor pose
as before, so the gyroscope and accelerometer are the true signals of a sensor
riding on the moving tissue. θ and d are the sum of two parts:

(a) **Wobble** (wobbling mass excited by impacts): at every initial contact of the
    sensor's leg (the pelvis: of either leg) the tissue responds like a damped
    oscillator ``x'' + 2ζω x' + ω² x = −a(t)`` driven by a 30 ms Hann-shaped impact
    pulse ``a``; the response (peak normalised to 1) is scaled by the impact's
    severity ``sᵢ`` (touchdown speed of the hip joint centre /
    ``soft_tissue_ref_speed_mps``, at most 1) times a per-impact factor exp(0.2 N(0,1)),
    and directed along a per-sensor translation direction ``u`` and rotation axis ``v``
    (each perturbed per impact): ``d = Σᵢ W sᵢ A_mm uᵢ x(t − tᵢ)``,
    ``θ = Σᵢ W sᵢ A_deg vᵢ x(t − tᵢ)`` with W = ``soft_tissue_wobble``, A_mm =
    ``soft_tissue_mm``, A_deg = ``soft_tissue_deg``. ω and ζ are drawn per sensor
    within ±20 % of ``soft_tissue_hz`` and ``soft_tissue_damping``.
(b) **Slide** (skin and muscle sliding with the joint angles, linear in them after Camomilla
    et al. 2013), gains measured on the real walk (docs/simulator.md, "Realism"):
    thigh, rotation in the segment frame: about the femur's long axis (Y)
    ``θ_Y = ±(β_f·flex + β_a·add − κ·IR)`` (± the side sign of the hip's internal rotation;
    ``soft_tissue_axial_flex``, ``soft_tissue_axial_add``, ``soft_tissue_axial_ir``: the strap
    twists with flexion and adduction and follows only part of the femur's axial rotation),
    and ``γ·flex`` about a unit axis in the segment's X–Z plane drawn per sensor
    (``soft_tissue_transverse_flex``). Pelvis (sacral sensor over the gluteal and lumbar
    fascia): ``ρ·(flex_L − flex_R)/2`` about the pelvis −X axis (obliquity; the sign measured
    on the real walk, ``soft_tissue_pelvis_rock``) and ``τ·(flex_L + flex_R)/2`` about Z (tilt;
    ``soft_tissue_pelvis_tilt``). All scaled by S = ``soft_tissue_slide``.
    Translation: ``d = S A_mm Σₖ wₖ cₖ αₖ / 60°`` over the hip angles αₖ (weights 1, ½, ½;
    unit vectors cₖ drawn per sensor; the pelvis follows the mean hip flexion only).
    In the standing calibration pose (angles zero) the sensor sits at its nominal mounting.
(c) **Creep** (the strap settles and shifts while the body moves, and stays where it is
    when the body is still): per axis an Ornstein–Uhlenbeck rotation of stationary SD
    ``soft_tissue_creep_deg`` whose clock is the hip flexion travelled (rad; the pelvis: the
    mean of both hips), correlation ``soft_tissue_creep_rad``; zero before the first movement.

Rotation axes are drawn with the segment's long axis (Y) favoured (SD 1 against 0.6
for X and Z): rotation of a thigh cluster about the femur's axis is the largest
STA rotation reported (Fiorentino et al. 2017). The pelvis sensor's wobble and
translation amplitudes are scaled by ``soft_tissue_pelvis``. Every draw comes from the sensor's own seeded
streams (``"soft_tissue"`` for the sensor, ``"soft_tissue", "impacts"`` per impact).

Sources and values: docs/simulator.md, "Soft-tissue artefact".
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.signal import lsim

from .curves import smoothstep5

DEG = np.pi / 180.0
#: Duration of the impact pulse driving the wobble, s (the passive impact peak of running rises in ~20–30 ms).
PULSE_S = 0.03
#: Hip angle at which the slide reaches its amplitude.
SLIDE_REF_RAD = 60.0 * DEG
#: Weights of hip flexion, adduction and internal rotation in the slide.
SLIDE_WEIGHTS = (1.0, 0.5, 0.5)
#: SD of the rotation-axis draw along the segment's X, Y (long axis), Z.
AXIS_SD = np.array([0.6, 1.0, 0.6])
#: Creep knots: one every CREEP_KNOT_RAD of hip flexion travelled (a quarter of a walking stride).
CREEP_KNOT_RAD = 0.5
#: Below this hip flexion rate (rad/s) the body counts as still (postural sway does not move the strap).
CREEP_STILL_RPS = 0.2
#: Rate of the grid on which the movement clock is integrated, Hz.
CREEP_GRID_HZ = 100.0


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def wobble_template(freq_hz: float, damping: float) -> tuple[CubicSpline, float]:
    """Response of ``x'' + 2ζω x' + ω² x = −a(t)`` to a Hann pulse ``a`` of ``PULSE_S``, peak |x| = 1.

    Returns a C2 spline of the response on [0, T] (zero value and slope at both ends;
    the decayed tail is faded out with a quintic ramp over the last 40 %) and T, s.
    """
    w = 2.0 * np.pi * freq_hz
    t_end = PULSE_S + 7.0 / (damping * w)
    dt = 5e-5
    t = np.arange(int(np.ceil(t_end / dt)) + 1) * dt
    a = np.where(t < PULSE_S, np.sin(np.pi * t / PULSE_S) ** 2, 0.0)
    _, x, _ = lsim(([-1.0], [1.0, 2.0 * damping * w, w * w]), a, t, interp=True)
    x = np.asarray(x, float)
    x *= 1.0 - smoothstep5((t - 0.6 * t[-1]) / (0.4 * t[-1]))
    x /= np.abs(x).max()
    return CubicSpline(t, x, bc_type=((1, 0.0), (1, 0.0))), float(t[-1])


class SoftTissue:
    """The soft-tissue artefact of one sensor: ``offsets(t) -> (θ (N, 3) rad, d (N, 3) m)`` in the segment frame."""

    def __init__(self, placement: str, motion, model, seed: int):
        from .imu import seeded_rng
        from .motion import ADD, FLEX, IR, SIDE_SIGN

        self.placement = placement
        self.motion = motion
        rng = seeded_rng(seed, placement, "soft_tissue")
        gain = float(model.soft_tissue_pelvis) if placement == "pelvis" else 1.0
        self.amp_m = gain * float(model.soft_tissue_mm) * 1e-3
        self.amp_rad = gain * float(model.soft_tissue_deg) * DEG
        self.wobble = float(model.soft_tissue_wobble)
        self.freq_hz = float(model.soft_tissue_hz) * rng.uniform(0.8, 1.2)
        self.damping = float(model.soft_tissue_damping) * rng.uniform(0.8, 1.2)
        self.u = _unit(rng.standard_normal(3))  # wobble translation direction
        self.v = _unit(rng.standard_normal(3) * AXIS_SD)  # wobble rotation axis
        self.c = _unit(rng.standard_normal((3, 3)))  # slide translation direction per hip angle
        self.slide = float(model.soft_tissue_slide)
        srng = seeded_rng(seed, placement, "soft_tissue", "slide")
        if placement == "pelvis":
            self.columns = [(FLEX["left"], FLEX["right"])]
            self.weights = (1.0,)
            # rotation (rad) per rad of (flex_L - flex_R)/2 about X and of (flex_L + flex_R)/2 about Z
            # the sign is the real walk's, out and back alike (tests/test_simulate_pelvis_gyro.py:
            # b = -0.21/-0.24 on neura): the skin over the sacrum is pulled the same way by the
            # same anatomy in everyone; a drawn sign inverted the stance-side cue on 5 of 6 seeds
            rock_axis = np.array([-1.0, 0.0, 0.0])
            srng.choice([-1.0, 1.0])  # keep the draws that follow as they were
            tilt_axis = np.array([0.0, 0.0, 1.0]) * srng.choice([-1.0, 1.0])
            self.rot_drivers = [((FLEX["left"],), (FLEX["right"],), float(model.soft_tissue_pelvis_rock) * rock_axis),
                                ((FLEX["left"], FLEX["right"]), (), float(model.soft_tissue_pelvis_tilt) * tilt_axis)]
        else:
            side = placement.split("_")[0]
            sg = SIDE_SIGN[side]
            self.columns = [(FLEX[side],), (ADD[side],), (IR[side],)]
            self.weights = SLIDE_WEIGHTS
            phi = srng.uniform(0.0, 2.0 * np.pi)
            transverse = np.array([np.cos(phi), 0.0, np.sin(phi)])  # a unit axis in the segment's X-Z plane
            y = np.array([0.0, 1.0, 0.0])
            self.rot_drivers = [
                ((FLEX[side],), (), sg * float(model.soft_tissue_axial_flex) * y
                 + float(model.soft_tissue_transverse_flex) * transverse),
                ((ADD[side],), (), sg * float(model.soft_tissue_axial_add) * y),
                ((IR[side],), (), -sg * float(model.soft_tissue_axial_ir) * y),
            ]
        self.creep_sd_rad = gain * float(model.soft_tissue_creep_deg) * DEG
        self.creep_corr_rad = float(model.soft_tissue_creep_rad)
        self._creep = self._build_creep(seeded_rng(seed, placement, "soft_tissue", "creep")) if self.creep_sd_rad > 0 else None
        self.template, self.template_s = wobble_template(self.freq_hz, self.damping)
        self.impact_s, self.severity = self._impacts(float(model.soft_tissue_ref_speed_mps))
        irng = seeded_rng(seed, placement, "soft_tissue", "impacts")
        n = self.impact_s.shape[0]
        self.impact_gain = self.wobble * self.severity * np.exp(0.2 * irng.standard_normal(n))
        self.impact_u = _unit(self.u + 0.3 * irng.standard_normal((n, 3)))
        self.impact_v = _unit(self.v + 0.3 * irng.standard_normal((n, 3)) * AXIS_SD)

    def _impacts(self, ref_speed: float) -> tuple[np.ndarray, np.ndarray]:
        """Initial-contact times of the sensor's leg (pelvis: either leg) and their severity 0..1."""
        times = []
        for e in self.motion.event_windows():
            if "initial_contact_s" not in e.extra:
                continue
            if self.placement != "pelvis" and not self.placement.startswith(e.side):
                continue
            times.append(float(e.extra["initial_contact_s"]))
        times = np.unique(np.round(np.asarray(times, float), 6))
        if times.size == 0:
            return times, times.copy()
        h = 1e-3
        _, pos = self.motion.pose(np.concatenate([times - h, times + h]))
        y = pos[self.placement][:, 1]
        down = -(y[times.size :] - y[: times.size]) / (2 * h)
        return times, np.clip(down / ref_speed, 0.0, 1.0)

    def _build_creep(self, rng: np.random.Generator):
        """(movement clock s(t) spline, creep rotation spline of s) for the whole session."""
        from .motion import FLEX

        n = max(int(np.ceil(self.motion.seconds * CREEP_GRID_HZ)) + 1, 4)
        tg = np.linspace(0.0, self.motion.seconds, n)
        ang, _ = self.motion.angles_and_pelvis(tg)
        cols = [FLEX["left"], FLEX["right"]] if self.placement == "pelvis" else [FLEX[self.placement.split("_")[0]]]
        rate = np.abs(np.gradient(np.radians(ang[:, cols]), tg, axis=0)).mean(axis=1)
        speed = np.sqrt(rate**2 + CREEP_STILL_RPS**2) - CREEP_STILL_RPS  # ~0 when still, ~rate when moving
        s = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) * np.diff(tg))])
        clock = CubicSpline(tg, s)
        knots = np.arange(0.0, s[-1] + 2 * CREEP_KNOT_RAD, CREEP_KNOT_RAD)
        a = np.exp(-CREEP_KNOT_RAD / self.creep_corr_rad)
        x = np.zeros((knots.size, 3))
        w = rng.standard_normal((knots.size, 3)) * self.creep_sd_rad * np.sqrt(1.0 - a * a)
        for k in range(1, knots.size):
            x[k] = a * x[k - 1] + w[k]
        if knots.size < 2:
            return None
        return clock, CubicSpline(knots, x, bc_type="natural")

    def offsets(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rotation vector θ (N, 3) rad and displacement d (N, 3) m of the sensor in the segment frame at times ``t``."""
        t = np.asarray(t, float)
        rotvec = np.zeros((t.shape[0], 3))
        disp = np.zeros((t.shape[0], 3))
        # (a) wobble after each impact
        order = np.argsort(t, kind="stable")
        ts = t[order]
        for ti, g, u, v in zip(self.impact_s, self.impact_gain, self.impact_u, self.impact_v):
            i0, i1 = np.searchsorted(ts, [ti, ti + self.template_s])
            if i1 <= i0 or g == 0.0:
                continue
            idx = order[i0:i1]
            x = g * self.template(t[idx] - ti)
            disp[idx] += np.outer(x, self.amp_m * u)
            rotvec[idx] += np.outer(x, self.amp_rad * v)
        # (b) slide with the hip angles
        if self.slide != 0.0:
            ang, _ = self.motion.angles_and_pelvis(t)
            rad = np.radians(ang)
            for k, (cols, w) in enumerate(zip(self.columns, self.weights)):
                alpha = rad[:, list(cols)].mean(axis=1) / SLIDE_REF_RAD
                disp += np.outer(alpha, self.slide * w * self.amp_m * self.c[k])
            for plus, minus, gain in self.rot_drivers:
                drive = rad[:, list(plus)].mean(axis=1)
                if minus:
                    drive = 0.5 * (drive - rad[:, list(minus)].mean(axis=1))
                rotvec += np.outer(drive, self.slide * gain)
        # (c) creep with the movement
        if self._creep is not None:
            clock, creep = self._creep
            rotvec += creep(np.clip(clock(t), 0.0, None))
        return rotvec, disp

    def params(self) -> dict:
        """The draws, JSON-ready (simulation.json)."""
        return {
            "soft_tissue_freq_hz": self.freq_hz,
            "soft_tissue_damping": self.damping,
            "soft_tissue_wobble_direction": self.u.tolist(),
            "soft_tissue_wobble_axis": self.v.tolist(),
            "soft_tissue_impacts": int(self.impact_s.shape[0]),
            "soft_tissue_mean_severity": float(self.severity.mean()) if self.severity.size else 0.0,
        }
