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
(b) **Slide** (skin sliding with the joint angles, linear in them after Camomilla
    et al. 2013): ``d = S A_mm Σₖ wₖ cₖ αₖ / 60°``, ``θ = S A_deg Σₖ wₖ eₖ αₖ / 60°`` (S =
    ``soft_tissue_slide``)
    for the hip's flexion, adduction and internal rotation αₖ (weights 1, ½, ½; unit
    vectors cₖ, eₖ drawn per sensor). The pelvis follows the mean hip flexion only.
    In the standing calibration pose (angles zero) the sensor sits at its nominal
    mounting.

Rotation axes are drawn with the segment's long axis (Y) favoured (SD 1 against 0.6
for X and Z): rotation of a thigh cluster about the femur's axis is the largest
STA rotation reported (Fiorentino et al. 2017). The pelvis sensor's amplitudes are
scaled by ``soft_tissue_pelvis``. Every draw comes from the sensor's own seeded
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
        from .motion import ADD, FLEX, IR

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
        self.e = _unit(rng.standard_normal((3, 3)) * AXIS_SD)  # slide rotation axis per hip angle
        self.slide = float(model.soft_tissue_slide)
        if placement == "pelvis":
            self.columns = [(FLEX["left"], FLEX["right"])]
            self.weights = (1.0,)
        else:
            side = placement.split("_")[0]
            self.columns = [(FLEX[side],), (ADD[side],), (IR[side],)]
            self.weights = SLIDE_WEIGHTS
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
            for k, (cols, w) in enumerate(zip(self.columns, self.weights)):
                alpha = np.radians(ang[:, list(cols)].mean(axis=1)) / SLIDE_REF_RAD
                disp += np.outer(alpha, self.slide * w * self.amp_m * self.c[k])
                rotvec += np.outer(alpha, self.slide * w * self.amp_rad * self.e[k])
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
