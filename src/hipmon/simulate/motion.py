"""Segment kinematics of the simulated athlete: joint angles and pelvis position over time.

A session is a sequence of *phases* (quiet standing, gait, landings, squats,
holds), each a C2-smooth function of session time returning

- ``angles_deg`` (N, 9) in ``hipmon.types.ANGLE_COLUMNS`` order (pelvis tilt,
  obliquity, rotation; left hip flexion, adduction, IR; right hip …), the
  conventions of DESIGN.md section 2, zero in the standing calibration pose;
- ``pelvis_pos_global`` (N, 3) m: the pelvis origin (midpoint of the hip
  joint centres) in the global frame (X forward, Y up, Z right).

Every phase starts and ends at rest in the standing pose (angles zero, zero
velocity and acceleration), except a final gait phase that runs to the end of
the session, so the concatenation stays C2. Segment orientations and hip
joint centre positions follow from the angles by ``hipmon.kinematics`` (see
``Motion.pose``).

Gait curves are periodic key-point curves of the gait phase φ (φ integer at
right initial contact, φ + 0.5 at left initial contact) reduced to Fourier
series; the key points follow published normative data (docs/simulator.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import CubicSpline

from hipmon import rotations as rot

from .athlete import FATIGUE_GAIN, Athlete
from .curves import GRAVITY_MPS2, Envelope, PeriodicBumps, PeriodicShapes, PiecewiseQuintic, smoothstep5

SIDE_SIGN = {"left": -1.0, "right": 1.0}
# column indices into the 9 angles
TILT, OBL, ROT = 0, 1, 2
FLEX = {"left": 3, "right": 6}
ADD = {"left": 4, "right": 7}
IR = {"left": 5, "right": 8}
OTHER = {"left": "right", "right": "left"}


@dataclass
class EventWindow:
    """A true event before its peaks are measured from the truth angles."""

    kind: str
    side: str
    start_s: float
    end_s: float
    extra: dict[str, float] = field(default_factory=dict)


def _angles(tilt=0.0, obl=0.0, rot_=0.0, flex=(0.0, 0.0), add=(0.0, 0.0), ir=(0.0, 0.0)) -> np.ndarray:
    """A 9-vector of angles in ANGLE_COLUMNS order; per-side tuples are (left, right)."""
    return np.array([tilt, obl, rot_, flex[0], add[0], ir[0], flex[1], add[1], ir[1]], dtype=float)


def _lr(side: str, stance_value: float, other_value: float) -> tuple[float, float]:
    return (stance_value, other_value) if side == "left" else (other_value, stance_value)


class FatigueCurve:
    """Fatigue level 0 → 1 (C2 ramp) from ``onset`` over ``duration`` s of session time."""

    def __init__(self, onset_s: float, duration_s: float):
        self.onset_s = float(onset_s)
        self.duration_s = max(float(duration_s), 1e-3)

    def __call__(self, t):
        return smoothstep5((np.asarray(t, dtype=float) - self.onset_s) / self.duration_s)


# ---------------------------------------------------------------------------- phases


class Phase(ABC):
    """A piece of the session on [t0, t1]: ``evaluate(t) -> (angles_deg (N, 9), pelvis_pos_global (N, 3))``."""

    t0: float
    t1: float
    events: list[EventWindow]
    x_end: float

    @abstractmethod
    def evaluate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Truth at session times ``t`` (s): see the subclasses."""


class StandPhase(Phase):
    """Quiet standing in the calibration pose with small postural sway (C2, zero at both ends).

    Sway: pelvis angles ±0.3°·``sway`` and pelvis translation ±4 mm·``sway``
    from three random sinusoids (0.1–0.6 Hz) per axis, faded in and out over
    0.5 s; the thighs stay vertical, so hip flexion follows tilt and hip
    adduction follows obliquity.
    """

    def __init__(self, t0: float, t1: float, x0: float, ath: Athlete, rng: np.random.Generator, sway: float):
        self.t0, self.t1, self.x_end = float(t0), float(t1), float(x0)
        self.events = []
        self.h0 = ath.pelvis_height_m
        self.sway = float(sway)
        self.freq = rng.uniform(0.1, 0.6, size=(6, 3))
        self.phase = rng.uniform(0, 2 * np.pi, size=(6, 3))
        self.amp = np.array([0.3, 0.3, 0.3, 0.004, 0.002, 0.004]) / np.sqrt(3.0)
        fade = min(0.5, 0.25 * (self.t1 - self.t0))
        self.env = Envelope(self.t0, fade, self.t1 - fade, fade)

    def evaluate(self, t):
        t = np.asarray(t, dtype=float)
        n = t.shape[0]
        ang = np.zeros((n, 9))
        pos = np.zeros((n, 3))
        pos[:, 0] = self.x_end
        pos[:, 1] = self.h0
        if self.sway > 0:
            w = self.sway * self.env(t)
            s = np.sin(2 * np.pi * self.freq[None] * (t[:, None, None] - self.t0) + self.phase[None]).sum(-1)
            s = s * self.amp[None] * w[:, None]
            ang[:, TILT], ang[:, OBL], ang[:, ROT] = s[:, 0], s[:, 1], s[:, 2]
            for side in ("left", "right"):
                ang[:, FLEX[side]] = s[:, 0]
                ang[:, ADD[side]] = SIDE_SIGN[side] * s[:, 1]
                ang[:, IR[side]] = -SIDE_SIGN[side] * s[:, 2]
            pos[:, 0] += s[:, 3]
            pos[:, 1] += s[:, 4]
            pos[:, 2] += s[:, 5]
        return ang, pos


def _gait_shapes(style: str, duty: float) -> tuple[PeriodicShapes, PeriodicBumps]:
    """Right-leg gait curves of the phase φ (0 = right initial contact), degrees or unit bumps.

    Hip flexion: key points (phase, deg) digitised from normative means, running
    at 3.3–3.9 m/s (Novacheck 1998 Fig. 5; Fukuchi et al. 2017 dataset) and
    walking (Kadaba et al. 1990; Perry 1992), as a Fourier series. Frontal and
    transverse plane: compact C2 bumps (``PeriodicBumps``) peaking at 45 % of
    stance (midstance: pelvic drop and hip adduction; Bramah 2018, Ferber 2003)
    or 35 % (hip internal rotation), zero from shortly after toe-off, plus
    swing-phase abduction and external rotation lobes in degrees.
    """
    d = duty
    if style == "run":
        flex = [(0.0, 35.0), (0.08, 31.0), (0.18, 18.0), (0.30, 2.0), (0.38, -7.0), (0.44, -9.0),
                (0.52, -3.0), (0.62, 12.0), (0.72, 30.0), (0.82, 43.0), (0.88, 45.0), (0.95, 40.0)]
        add_swing = [(0.0, 0.0), (d + 0.02, 0.0), (0.70, -3.0), (0.97, 0.0)]
        ir_swing = [(0.0, 0.0), (d - 0.04, 0.0), (d + 0.22, -4.0), (0.99, 0.0)]
    else:
        flex = [(0.0, 30.0), (0.10, 27.0), (0.30, 8.0), (0.50, -10.0), (0.60, -3.0), (0.73, 20.0),
                (0.85, 33.0), (0.93, 32.0)]
        add_swing = [(0.0, 0.0), (d + 0.02, 0.0), (0.80, -2.5), (0.98, 0.0)]
        ir_swing = [(0.0, 0.0), (d - 0.05, 0.0), (d + 0.12, -4.0), (0.99, 0.0)]
    end = min(d + 0.10, 0.5 * (1 + d))
    bumps = PeriodicBumps({
        "bump": [(0.0, 0.0), (0.45 * d, 1.0), (end, 0.0)],
        "bump_ir": [(0.0, 0.0), (0.35 * d, 1.0), (end, 0.0)],
        "add_swing": add_swing,
        "ir_swing": ir_swing,
    })
    return PeriodicShapes({"flex": flex}, harmonics=12), bumps


def _running_vertical_unit(c: float, u: np.ndarray) -> np.ndarray:
    """Spring-mass pelvis height over one step of period 1 s, contact fraction ``c``, m.

    Stance (0 ≤ u < c): vertical force a half sine, ``a = −g + A sin(π u / c)``,
    ``A = π g / (2c)`` so the step's impulse balances gravity; flight: ballistic
    (``a = −g`` exactly). Touchdown and toe-off at height 0, touchdown velocity
    ``−g(1 − c)/2``. For a step of period T the height is ``T² × this``.
    """
    g = GRAVITY_MPS2
    u = np.asarray(u, dtype=float)
    amp = np.pi * g / (2 * c)
    v0 = -g * (1 - c) / 2
    y_st = v0 * u - 0.5 * g * u**2 + (amp * c / np.pi) * (u - (c / np.pi) * np.sin(np.pi * u / c))
    uf = u - c
    y_fl = (g * (1 - c) / 2) * uf - 0.5 * g * uf**2
    return np.where(u < c, y_st, y_fl)


def _running_foreaft_unit(c: float, u: np.ndarray) -> np.ndarray:
    """Fore-aft pelvis excursion over one running step of period 1 s per 1 m/s² of peak braking, m.

    Stance: braking then propulsion, ``a = −B sin(2π u / c)``; flight: no
    horizontal force (``a = 0``). The speed at touchdown makes the step's net
    displacement zero (treadmill). For period T and peak B: ``B T² × this``.
    """
    u = np.asarray(u, dtype=float)
    v0 = c * c / (2 * np.pi)
    x_st = v0 * u + (c / (2 * np.pi)) * ((c / (2 * np.pi)) * np.sin(2 * np.pi * u / c) - u)
    x_c = v0 * c - c * c / (2 * np.pi)
    return np.where(u < c, x_st, x_c + v0 * (u - c))


def _running_lateral_unit(c: float, u: np.ndarray) -> np.ndarray:
    """Mediolateral pelvis excursion (+ right) over a running stride of two 1-s steps per 1 m/s², m.

    ``u`` in [0, 2): right step then left step. Stance force ``∓L sin(π u'/c)``
    (a right foot pushes the body to the left), none in flight; the pelvis is
    furthest right during right stance. For step period T and peak L: ``L T² × this``.
    """
    u = np.asarray(u, dtype=float)
    big_v = c / np.pi  # lateral speed at touchdown per unit L and T
    out = np.empty_like(u)
    for sign, lo in ((1.0, 0.0), (-1.0, 1.0)):  # right step: moving right at touchdown
        sel = (u >= lo) & (u < lo + 1.0)
        w = u[sel] - lo
        st = sign * (big_v * w - (c / np.pi) * (w - (c / np.pi) * np.sin(np.pi * w / c)))
        fl = sign * (-big_v * (w - c))
        # the right step starts at +V(1 − c)/2, the left at −V(1 − c)/2: continuous, centred on 0
        out[sel] = sign * big_v * (1 - c) / 2 + np.where(w < c, st, fl)
    return out


class GaitPhase(Phase):
    """Walking or running: treadmill or overground, with stride variability, per-side peaks and fatigue.

    The gait phase φ(t) is a cubic spline through the right initial contacts
    (φ = k at stride k), whose durations vary with CV ``stride_cv``. Per-stance
    peaks (drop, adduction, IR per side) are drawn per stance (baseline +
    valgus + fatigue + N(0, ``variability_deg``)) and splined over φ. All
    angles and the pelvis excursions are scaled by a C2 envelope ramping from
    the standing pose (and back, when ``n_steps`` is given).
    """

    def __init__(self, style: str, t0: float, t_end: float, x0: float, ath: Athlete, rng: np.random.Generator,
                 fatigue: FatigueCurve | None, *, treadmill: bool, n_steps: int | None = None,
                 task_kind: str | None = None):
        self.style = style
        kind = task_kind or style
        if kind != style:
            # the calibration walk of a non-gait task: a healthy default walk
            # (the task's per-side faults and fatigue belong to the task)
            ath = Athlete(pelvis_height_m=ath.pelvis_height_m, hip_half_width_m=ath.hip_half_width_m,
                          stride_cv=ath.stride_cv, variability_deg=ath.variability_deg)
            kind = style
            fatigue = None
        self.t0 = float(t0)
        self.h0 = ath.pelvis_height_m
        speed = ath.speed_mps if (ath.speed_mps is not None and task_kind == style) else (3.3 if style == "run" else 1.3)
        if ath.cadence_spm is not None and task_kind == style:
            cadence = ath.cadence_spm
        else:
            cadence = 150.0 + 6.0 * speed if style == "run" else 78.0 + 24.0 * speed
        duty = ath.duty if (ath.duty is not None and task_kind == style) else (0.36 if style == "run" else 0.62)
        self.speed, self.cadence, self.duty = float(speed), float(cadence), float(duty)
        self.treadmill = bool(treadmill)
        stride_s = 120.0 / cadence
        self.stride_s = stride_s
        ramp = 2.0 if style == "run" else stride_s
        if n_steps is not None:
            t_off = self.t0 + ramp + n_steps * stride_s / 2
            self.t1 = t_off + ramp
            self.env = Envelope(self.t0, ramp, t_off, ramp)
        else:
            self.t1 = float(t_end)
            self.env = Envelope(self.t0, ramp)
        # stride timing: knots at right initial contacts
        n = int(np.ceil((self.t1 - self.t0) / stride_s)) + 4
        cv = ath.stride_cv
        durations = stride_s * (1.0 + np.clip(cv * rng.standard_normal(n), -3 * cv, 3 * cv))
        t_knots = self.t0 + np.concatenate([[-durations[0]], [0.0], np.cumsum(durations[1:])])
        self.phi = CubicSpline(t_knots, np.arange(-1, n, dtype=float))
        self.dphi = self.phi.derivative()
        t_grid = np.arange(t_knots[0], t_knots[-1], 1e-3)
        self._t_grid, self._phi_grid = t_grid, self.phi(t_grid)
        self.shapes, self.bumps = _gait_shapes(style, duty)
        # per-stance peaks splined over φ (knot at the bump's peak phase)
        p_peak = self.bumps.peak_phase["bump"]
        stance_phi = {"right": np.arange(-1, n) + p_peak, "left": np.arange(-1, n) + 0.5 + p_peak}
        self.amp = {}
        sd = ath.variability_deg
        for side in ("left", "right"):
            t_st = np.interp(stance_phi[side], self._phi_grid, self._t_grid)
            fat = ath.fatigue_deg * ath.fatigue_gain(side) * (fatigue(t_st) if fatigue is not None else 0.0)
            valgus = ath.peak(kind, "valgus", side)
            drop = ath.peak(kind, "drop", side) + FATIGUE_GAIN["drop"] * fat + sd * rng.standard_normal(n + 1)
            add = (ath.peak(kind, "adduction", side) + valgus + FATIGUE_GAIN["adduction"] * fat
                   + (drop - ath.peak(kind, "drop", side) - FATIGUE_GAIN["drop"] * fat)
                   + sd * rng.standard_normal(n + 1))
            ir = ath.peak(kind, "ir", side) + valgus + FATIGUE_GAIN["ir"] * fat + sd * rng.standard_normal(n + 1)
            self.amp[side] = {
                "drop": CubicSpline(stance_phi[side], drop),
                "add": CubicSpline(stance_phi[side], add),
                "ir": CubicSpline(stance_phi[side], ir),
            }
        # pelvis: tilt offset and oscillation, rotation, translations
        if style == "run":
            self.tilt_mean, self.tilt_amp, self.rot_amp = 4.0, 2.5, 5.0
            self.ml_sway_m, self.fa_osc_m = 0.010, 0.010
        else:
            self.tilt_mean, self.tilt_amp, self.rot_amp = 1.0, 1.5, 4.0
            self.ml_sway_m, self.fa_osc_m = 0.020, 0.008
        self.vertical_scale = ath.vertical_scale
        if style == "run":
            self.contact_frac = min(2.0 * duty, 0.95)
            u = (np.arange(4096) + 0.5) / 4096
            self._yrun_mean = float(np.mean(_running_vertical_unit(self.contact_frac, u)))
            self._xrun_mean = float(np.mean(_running_foreaft_unit(self.contact_frac, u)))
            # peak horizontal forces per unit mass: braking ≈ 0.4 BW, mediolateral ≈ 0.1 BW
            # (Cavanagh & Lafortune 1980; Munro et al. 1987)
            self.brake_mps2, self.lateral_mps2 = 4.0, 1.0
        # pelvis x at the end
        self.x0 = float(x0)
        self.x_end = float(self._x(np.array([self.t1]))[0]) if not self.treadmill else self.x0
        self.events = self._stance_events()

    # -- helpers
    def _phase_time(self, phi_values: np.ndarray) -> np.ndarray:
        return np.interp(phi_values, self._phi_grid, self._t_grid)

    def _x(self, t):
        if self.treadmill:
            return np.full_like(t, self.x0)
        return self.x0 + self.speed * self.env.integral(t)

    def _stance_events(self) -> list[EventWindow]:
        out = []
        phi0 = np.floor(self.phi(self.t0)) - 1
        phi1 = np.ceil(self.phi(self.t1)) + 1
        for k in np.arange(phi0, phi1):
            for side, off in (("right", 0.0), ("left", 0.5)):
                ic, to = self._phase_time(np.array([k + off, k + off + self.duty]))
                mid = 0.5 * (ic + to)
                if ic < self.t0 or to > self.t1 or self.env(np.array([mid]))[0] < 0.5:
                    continue
                out.append(EventWindow("stance", side, float(ic), float(to), {
                    "initial_contact_s": float(ic), "toe_off_s": float(to),
                    "amplitude": float(self.env(np.array([mid]))[0])}))
        out.sort(key=lambda e: (e.start_s, e.side))
        return out

    def evaluate(self, t):
        t = np.asarray(t, dtype=float)
        phi = self.phi(t)
        e = self.env(t)
        sh_r, sh_l = self.shapes.pair(phi)
        sh_r.update(self.bumps(phi))
        sh_l.update(self.bumps(phi - 0.5))
        sh = {"right": sh_r, "left": sh_l}
        amp = {s: {k: f(phi) for k, f in self.amp[s].items()} for s in ("left", "right")}
        obl = amp["right"]["drop"] * sh["right"]["bump"] - amp["left"]["drop"] * sh["left"]["bump"]
        ang = np.empty((t.shape[0], 9))
        ang[:, TILT] = self.tilt_mean + self.tilt_amp * np.cos(4 * np.pi * (phi - 0.4))
        ang[:, OBL] = obl
        ang[:, ROT] = self.rot_amp * np.cos(2 * np.pi * phi)
        for side in ("left", "right"):
            s, a = sh[side], amp[side]
            ang[:, FLEX[side]] = s["flex"]
            thigh = (a["add"] - a["drop"]) * s["bump"] + s["add_swing"]
            ang[:, ADD[side]] = thigh + SIDE_SIGN[side] * obl
            ang[:, IR[side]] = a["ir"] * s["bump_ir"] + s["ir_swing"]
        ang *= e[:, None]
        pos = np.empty((t.shape[0], 3))
        d = self.duty
        if self.style == "run":
            step_s = 0.5 / self.dphi(t)
            c = self.contact_frac
            u = (2.0 * phi) % 1.0
            y = step_s**2 * (_running_vertical_unit(c, u) - self._yrun_mean) - 0.03
            pos[:, 0] = self._x(t) + e * self.brake_mps2 * step_s**2 * (_running_foreaft_unit(c, u) - self._xrun_mean)
            pos[:, 2] = e * self.lateral_mps2 * step_s**2 * _running_lateral_unit(c, (2.0 * phi) % 2.0)
        else:
            y = -0.01 + 0.02 * np.cos(4 * np.pi * (phi - d / 2))
            pos[:, 0] = self._x(t) + e * self.fa_osc_m * np.cos(4 * np.pi * (phi - d / 2) + np.pi / 2)
            pos[:, 2] = e * self.ml_sway_m * np.cos(2 * np.pi * (phi - d / 2))
        pos[:, 1] = self.h0 + self.vertical_scale * e * y
        return ang, pos


class KeyframePhase(Phase):
    """A task given as key frames: angles (9) and pelvis position (3) with rates and accelerations.

    Between key frames the motion is the C2 quintic through the key frames'
    values, rates and accelerations (``PiecewiseQuintic``); a ballistic flight
    is given by key frames with acceleration (0, −g, 0) and is reproduced
    exactly. ``wobble``: optional extra angle knots (times, (K, 9)) added with
    Catmull-Rom rates (balance corrections during a hold).
    """

    def __init__(self, t0: float, x0: float, h0: float):
        self.t0 = float(t0)
        self.t1 = float(t0)
        self.x_end = float(x0)
        self.h0 = float(h0)
        self.events = []
        self._ang = [(self.t0, np.zeros(9), np.zeros(9))]
        self._pos = [(self.t0, np.array([x0, h0, 0.0]), np.zeros(3), np.zeros(3))]
        self._wobble: list[tuple[float, np.ndarray]] = []

    # builders (times must increase)
    def angles_at(self, t: float, angles: np.ndarray, rates: np.ndarray | str | None = None) -> None:
        """Angles (9,) deg at ``t``; ``rates`` (9,) deg/s, None (at rest) or "smooth" (Catmull-Rom from the neighbours)."""
        if isinstance(rates, str):
            r = None
        else:
            r = np.zeros(9) if rates is None else np.asarray(rates, float)
        self._ang.append((float(t), np.asarray(angles, float), r))
        self.t1 = max(self.t1, float(t))

    def pos_at(self, t: float, pos, vel=(0.0, 0.0, 0.0), acc=(0.0, 0.0, 0.0)) -> None:
        self._pos.append((float(t), np.asarray(pos, float), np.asarray(vel, float), np.asarray(acc, float)))
        self.t1 = max(self.t1, float(t))

    def wobble_at(self, t: float, delta: np.ndarray) -> None:
        self._wobble.append((float(t), np.asarray(delta, float)))

    def finish(self) -> None:
        """Close with the standing pose at the last pelvis position; build the interpolants."""
        last_pos = self._pos[-1][1]
        self.x_end = float(last_pos[0])
        ta = np.array([k[0] for k in self._ang])
        va = np.stack([k[1] for k in self._ang])
        ra = np.zeros_like(va)
        for i, k in enumerate(self._ang):
            if k[2] is not None:
                ra[i] = k[2]
            elif 0 < i < len(self._ang) - 1:
                ra[i] = (va[i + 1] - va[i - 1]) / (ta[i + 1] - ta[i - 1])
        self.ang_track = PiecewiseQuintic(ta, va, ra)
        tp = np.array([k[0] for k in self._pos])
        self.pos_track = PiecewiseQuintic(
            tp, np.stack([k[1] for k in self._pos]), np.stack([k[2] for k in self._pos]),
            np.stack([k[3] for k in self._pos]))
        if len(self._wobble) >= 2:
            tw = np.array([w[0] for w in self._wobble])
            vw = np.stack([w[1] for w in self._wobble])
            rw = np.gradient(vw, tw, axis=0)
            rw[0] = rw[-1] = 0.0
            self.wobble_track = PiecewiseQuintic(tw, vw, rw)
            self._wobble_range = (tw[0], tw[-1])
        else:
            self.wobble_track = None

    def evaluate(self, t):
        t = np.asarray(t, dtype=float)
        ang = self.ang_track(t)
        if self.wobble_track is not None:
            inside = (t >= self._wobble_range[0]) & (t <= self._wobble_range[1])
            ang = ang + np.where(inside[:, None], self.wobble_track(t), 0.0)
        return ang, self.pos_track(t)


# ---------------------------------------------------------------------------- task builders


def _peaks(ath: Athlete, kind: str, side: str, fat_level: float, rng: np.random.Generator) -> dict[str, float]:
    """Drop, adduction and IR peaks (deg) for one stance/landing/rep on ``side`` with fatigue level 0..1."""
    fat = ath.fatigue_deg * ath.fatigue_gain(side) * fat_level
    sd = ath.variability_deg
    valgus = ath.peak(kind, "valgus", side)
    e_drop = sd * rng.standard_normal()
    drop = ath.peak(kind, "drop", side) + FATIGUE_GAIN["drop"] * fat + e_drop
    add = ath.peak(kind, "adduction", side) + valgus + FATIGUE_GAIN["adduction"] * fat + e_drop + sd * rng.standard_normal()
    ir = ath.peak(kind, "ir", side) + valgus + FATIGUE_GAIN["ir"] * fat + sd * rng.standard_normal()
    return {"drop": drop, "add": add, "ir": ir}


def _single_leg_pose(side: str, drop: float, add: float, ir: float, stance_flex: float, swing_flex: float,
                     tilt: float = 0.0, swing_add: float = -1.0) -> np.ndarray:
    """Angles standing on ``side``: the other pelvis side ``drop`` deg below level, stance hip adduction ``add``."""
    obl = SIDE_SIGN[side] * drop
    # hip adduction = thigh frontal angle ± obliquity; the swing thigh hangs roughly vertical
    swing_hip_add = swing_add - drop
    return _angles(tilt, obl, 0.0,
                   flex=_lr(side, stance_flex, swing_flex),
                   add=_lr(side, add, swing_hip_add),
                   ir=_lr(side, ir, 0.0))


def build_single_leg_task(task: str, t0: float, t_end: float, x0: float, ath: Athlete, rng: np.random.Generator,
                          ) -> KeyframePhase:
    """Single-leg squats (``task="squat"``), stance holds (``"stance"``) or hops (``"hop"``), side by side.

    Each set: shift the pelvis over the stance foot (4 cm) and lift the other
    leg, the task, lower the leg and shift back, 2 s rest. Sets in ``ath.sides``
    order share the available time unless ``reps`` / ``hold_s`` is given.
    """
    kind = "jump" if task == "hop" else task
    ph = KeyframePhase(t0, x0, ath.pelvis_height_m)
    h0 = ath.pelvis_height_m
    sides = list(ath.sides)
    budget = (t_end - t0) / len(sides)
    setup_s, rest_s = 1.6, 2.0
    rep_s = {"squat": 4.0, "hop": 0.55}.get(task, 0.0)
    t = t0
    for i_set, side in enumerate(sides):
        sg = SIDE_SIGN[side]
        avail = budget - 2 * setup_s - rest_s
        if task == "stance":
            hold = ath.hold_s if ath.hold_s is not None else avail
            n_reps = 1
        else:
            n_reps = ath.reps if ath.reps is not None else int(avail // rep_s)
            hold = n_reps * rep_s
        if n_reps < 1 or hold <= 0:
            raise ValueError(f"not enough time for a {task} set: give more seconds")
        swing_flex = {"squat": 35.0, "stance": 30.0, "hop": 40.0}[task]
        # shift weight, then lift the other leg
        z_stance = sg * 0.04
        ph.angles_at(t + 0.8, _single_leg_pose(side, 0.0, 2.0, 0.0, 0.0, 0.0, swing_add=0.0))
        ph.pos_at(t + 0.8, [x0, h0, z_stance])
        t_start = t + setup_s
        # the set's start pose: on one leg, the other leg lifted
        if task == "stance":
            start_pose = _single_leg_pose(side, ath.peak(kind, "drop", side),
                                          ath.peak(kind, "adduction", side) + ath.peak(kind, "valgus", side),
                                          ath.peak(kind, "ir", side) + ath.peak(kind, "valgus", side), 0.0, swing_flex)
        else:
            start_pose = _single_leg_pose(side, 0.3 * ath.peak(kind, "drop", side), 4.0, 0.0, 0.0, swing_flex)
        ph.angles_at(t_start, start_pose)
        ph.pos_at(t_start, [x0, h0 - (0.0 if task != "hop" else 0.02), z_stance])
        if task == "stance":
            t_h0, t_h1 = t_start, t_start + hold
            onset = ath.fatigue_onset_s
            dur = ath.fatigue_duration_s if ath.fatigue_duration_s is not None else hold - onset
            fat = FatigueCurve(t_h0 + onset, dur)
            # balance corrections: key frames every 0.6 s with half the rep-to-rep
            # variability; the drop (and with it adduction, IR) grows with fatigue
            tk = np.arange(t_h0 + 0.6, t_h1 - 0.3, 0.6)
            tk = np.append(tk, t_h1)
            for tj in tk:
                p = _peaks(ath, kind, side, float(fat(tj)), rng)
                b = {"drop": ath.peak(kind, "drop", side),
                     "add": ath.peak(kind, "adduction", side) + ath.peak(kind, "valgus", side),
                     "ir": ath.peak(kind, "ir", side) + ath.peak(kind, "valgus", side)}
                fat_deg = ath.fatigue_deg * ath.fatigue_gain(side) * float(fat(tj))
                v = {k: b[k] + FATIGUE_GAIN[{"drop": "drop", "add": "adduction", "ir": "ir"}[k]] * fat_deg
                     + 0.5 * (p[k] - b[k] - FATIGUE_GAIN[{"drop": "drop", "add": "adduction", "ir": "ir"}[k]] * fat_deg)
                     for k in b}
                ph.angles_at(tj, _single_leg_pose(side, v["drop"], v["add"], v["ir"], 0.0,
                                                  swing_flex + 2.0 * rng.standard_normal()),
                             rates="smooth" if tj < t_h1 else None)
            ph.pos_at(t_h1, [x0, h0, z_stance])
            ph.events.append(EventWindow("hold", side, float(t_h0), float(t_h1), {"hold_s": float(hold)}))
            t_task_end = t_h1
        else:
            t_task_end = _reps(ph, task, kind, side, t_start, n_reps, x0, h0, z_stance, swing_flex, ath, rng,
                               FatigueCurve(t0 + ath.fatigue_onset_s,
                                            ath.fatigue_duration_s if ath.fatigue_duration_s is not None
                                            else (t_end - t0 - ath.fatigue_onset_s)))
        # lower the leg and shift back, rest
        ph.angles_at(t_task_end + 0.8, _single_leg_pose(side, 0.0, 2.0, 0.0, 0.0, 0.0, swing_add=0.0))
        ph.pos_at(t_task_end + 0.8, [x0, h0, z_stance])
        ph.angles_at(t_task_end + setup_s, np.zeros(9))
        ph.pos_at(t_task_end + setup_s, [x0, h0, 0.0])
        t = t_task_end + setup_s + rest_s
        ph.angles_at(t, np.zeros(9))
        ph.pos_at(t, [x0, h0, 0.0])
    ph.finish()
    return ph


def _reps(ph: KeyframePhase, task: str, kind: str, side: str, t_start: float, n_reps: int, x0: float, h0: float,
          z_stance: float, swing_flex: float, ath: Athlete, rng: np.random.Generator, fat: FatigueCurve) -> float:
    """Single-leg squats or hops from ``t_start``; returns the end time."""
    g = GRAVITY_MPS2
    sg = SIDE_SIGN[side]
    t = t_start
    if task == "squat":
        down_s, up_s, pause_s = 1.5, 1.5, 1.0
        for _ in range(n_reps):
            p = _peaks(ath, kind, side, float(fat(t)), rng)
            depth = ath.squat_depth_deg + 3.0 * rng.standard_normal()
            t_bottom = t + down_s
            t_top = t_bottom + up_s
            ph.angles_at(t_bottom, _single_leg_pose(side, p["drop"], p["add"], p["ir"], depth, swing_flex + 10.0,
                                                    tilt=0.25 * depth))
            drop_m = 0.30 * (1 - np.cos(np.radians(depth))) / (1 - np.cos(np.radians(65.0)))
            ph.pos_at(t_bottom, [x0 - 0.10, h0 - drop_m, z_stance + sg * 0.01])
            ph.angles_at(t_top, _single_leg_pose(side, ath.peak(kind, "drop", side) * 0.3, 4.0, 0.0, 0.0, swing_flex))
            ph.pos_at(t_top, [x0, h0, z_stance])
            ph.events.append(EventWindow("rep", side, float(t), float(t_top), {"bottom_s": float(t_bottom)}))
            t = t_top + pause_s
            ph.angles_at(t, _single_leg_pose(side, ath.peak(kind, "drop", side) * 0.3, 4.0, 0.0, 0.0, swing_flex))
            ph.pos_at(t, [x0, h0, z_stance])
        return t
    # single-leg hops in place: contact 0.30 s, flight 0.25 s
    contact_s, flight_s, sink_m = 0.30, 0.25, 0.07
    v_td = g * flight_s / 2.0  # touchdown / take-off speed
    y_td = h0 - 0.03
    # from standing on one leg: a countermovement, then the first take-off
    ph.angles_at(t + 0.5, _single_leg_pose(side, 1.0, 4.0, 1.0, 35.0, swing_flex, tilt=8.0))
    ph.pos_at(t + 0.5, [x0, y_td - sink_m, z_stance], acc=(0, 12.0, 0))
    t_to = t + 0.8
    ph.angles_at(t_to, _single_leg_pose(side, 0.0, 2.0, 0.0, 8.0, swing_flex, tilt=3.0))
    ph.pos_at(t_to, [x0, y_td, z_stance], vel=(0, v_td, 0), acc=(0, -g, 0))
    for i in range(n_reps):
        p = _peaks(ath, kind, side, float(fat(t_to)), rng)
        t_td = t_to + flight_s
        t_bot = t_td + contact_s / 2
        t_to = t_td + contact_s
        ph.pos_at(t_td, [x0, y_td, z_stance], vel=(0, -v_td, 0), acc=(0, -g, 0))
        ph.angles_at(t_td, _single_leg_pose(side, 0.5, 2.0, 0.5, 18.0, swing_flex, tilt=4.0),
                     rates=_angles(flex=_lr(side, 150.0, 0.0), tilt=40.0))
        ph.pos_at(t_bot, [x0, y_td - sink_m, z_stance], acc=(0, 2.2 * g, 0))
        ph.angles_at(t_bot, _single_leg_pose(side, p["drop"], p["add"], p["ir"], 40.0, swing_flex, tilt=10.0))
        last = i == n_reps - 1
        if not last:
            ph.pos_at(t_to, [x0, y_td, z_stance], vel=(0, v_td, 0), acc=(0, -g, 0))
            ph.angles_at(t_to, _single_leg_pose(side, 0.0, 2.0, 0.0, 8.0, swing_flex, tilt=3.0))
        ph.events.append(EventWindow("landing", side, float(t_td), float(t_td + contact_s),
                                     {"initial_contact_s": float(t_td), "toe_off_s": float(t_td + contact_s)}))
    # stick the last landing and stand up on one leg
    t_end = t_bot + 0.8
    ph.angles_at(t_end, _single_leg_pose(side, 1.0, 3.0, 0.0, 0.0, swing_flex))
    ph.pos_at(t_end, [x0, h0, z_stance])
    return t_end


def build_drop_jumps(t0: float, t_end: float, x0: float, ath: Athlete, rng: np.random.Generator) -> KeyframePhase:
    """Drop vertical jumps from a box (Hewett 2005 protocol): step off, land, jump up at once, land, stand, return.

    Each jump: 1 s still on the box; step off (0.25 s) into a ballistic fall;
    first landing (initial contact with the hips at 25° flexion, peak flexion
    70° 0.16 s later, peaks of adduction and IR there); maximal vertical jump
    (``jump_height_m``); second landing absorbed to 65°, stand up, rest 1.5 s;
    walk back onto the box (2 s). Landings are per side (both feet land).
    """
    g = GRAVITY_MPS2
    h0, box = ath.pelvis_height_m, ath.box_height_m
    ph = KeyframePhase(t0, x0, h0)
    xb = x0
    fat = FatigueCurve(t0 + ath.fatigue_onset_s,
                       ath.fatigue_duration_s if ath.fatigue_duration_s is not None else (t_end - t0 - ath.fatigue_onset_s))
    # step up onto the box
    t = t0 + 2.0
    ph.angles_at(t0 + 1.0, _angles(tilt=6.0, flex=(5.0, 50.0)))
    ph.pos_at(t, [xb, h0 + box, 0.0])
    ph.angles_at(t, np.zeros(9))
    y_ic = h0 - 0.03
    rep_s = 8.0
    n = ath.reps if ath.reps is not None else int((t_end - t) // rep_s)
    if n < 1:
        raise ValueError("not enough time for a drop vertical jump: give more seconds")
    vx = 1.0
    for _ in range(n):
        t_go = t + 1.0
        ph.angles_at(t_go, np.zeros(9))
        ph.pos_at(t_go, [xb, h0 + box, 0.0])
        # step off: reach a ballistic state
        t_off = t_go + 0.25
        y_off, vy_off = h0 + box - 0.01, -0.25
        ph.pos_at(t_off, [xb + 0.12, y_off, 0.0], vel=(vx, vy_off, 0), acc=(0, -g, 0))
        ph.angles_at(t_off, _angles(tilt=4.0, flex=(10.0, 10.0)))
        # fall to initial contact
        fall = (vy_off + np.sqrt(vy_off**2 + 2 * g * (y_off - y_ic))) / g
        t_ic = t_off + fall
        x_ic = xb + 0.12 + vx * fall
        vy_ic = vy_off - g * fall
        landings = []
        for j in range(2):
            p = {s: _peaks(ath, "jump", s, float(fat(t_ic)), rng) for s in ("left", "right")}
            obl = 0.5 * (p["right"]["drop"] - p["left"]["drop"])
            ph.pos_at(t_ic, [x_ic, y_ic, 0.0], vel=(vx if j == 0 else 0.0, vy_ic, 0), acc=(0, -g, 0))
            ph.angles_at(t_ic, _angles(tilt=8.0, flex=(25.0, 25.0), add=(1.0, 1.0), ir=(1.0, 1.0)),
                         rates=_angles(tilt=60.0, flex=(250.0, 250.0)))
            t_bot = t_ic + (0.18 if j == 0 else 0.20)
            depth = 70.0 if j == 0 else 65.0
            ph.pos_at(t_bot, [x_ic + (0.06 if j == 0 else 0.0), y_ic - (0.22 if j == 0 else 0.20), 0.0],
                      acc=(0, 1.6 * g, 0))
            ph.angles_at(t_bot, _angles(tilt=20.0, obl=obl, flex=(depth, depth),
                                        add=(p["left"]["add"] - obl, p["right"]["add"] + obl),
                                        ir=(p["left"]["ir"], p["right"]["ir"])))
            if j == 0:
                t_to = t_bot + 0.26
                v_up = np.sqrt(2 * g * ath.jump_height_m)
                y_to = h0 + 0.03
                ph.pos_at(t_to, [x_ic + 0.06, y_to, 0.0], vel=(0, v_up, 0), acc=(0, -g, 0))
                ph.angles_at(t_to, _angles(tilt=5.0, flex=(5.0, 5.0)))
                flight = (v_up + np.sqrt(v_up**2 + 2 * g * (y_to - y_ic))) / g
                ph.angles_at(t_to + 0.5 * flight, _angles(tilt=6.0, flex=(15.0, 15.0)))
                end = t_to
                x_ic = x_ic + 0.06
                vy_ic = v_up - g * flight
                landings.append((t_ic, end))
                t_ic = t_to + flight
            else:
                end = t_ic + 0.5
                landings.append((t_ic, end))
                t_stand = t_bot + 0.9
                ph.angles_at(t_stand, np.zeros(9))
                ph.pos_at(t_stand, [x_ic, h0, 0.0])
        for k, (a, b) in enumerate(landings):
            for s in ("left", "right"):
                ph.events.append(EventWindow("landing", s, float(a), float(b),
                                             {"initial_contact_s": float(a), "landing_index": float(k)}))
        # rest, then walk back onto the box
        t_ret = t_stand + 1.5
        ph.angles_at(t_ret, np.zeros(9))
        ph.pos_at(t_ret, [x_ic, h0, 0.0])
        ph.angles_at(t_ret + 1.0, _angles(tilt=6.0, flex=(5.0, 50.0)))
        t = t_ret + 2.0
        ph.angles_at(t, np.zeros(9))
        ph.pos_at(t, [xb, h0 + box, 0.0])
    # step down off the box at the end and stand
    ph.angles_at(t + 1.0, _angles(tilt=4.0, flex=(40.0, 5.0)))
    ph.angles_at(t + 2.0, np.zeros(9))
    ph.pos_at(t + 2.0, [xb - 0.3, h0, 0.0])
    ph.finish()
    return ph


# ---------------------------------------------------------------------------- the whole session


def _axis_quat(angle_rad: np.ndarray, axis: int) -> np.ndarray:
    q = np.zeros((angle_rad.shape[0], 4))
    q[:, 0] = np.cos(0.5 * angle_rad)
    q[:, 1 + axis] = np.sin(0.5 * angle_rad)
    return q


def pelvis_quaternion(tilt_rad, obliquity_rad, rotation_rad) -> np.ndarray:
    """``q_pelvis_global`` (N, 4): the same rotation as ``kinematics.pelvis_orientation``
    (``Ry(rot) · Rx(−obl) · Rz(−tilt)``), composed from axis quaternions (faster than matrices)."""
    q = rot.multiply(_axis_quat(rotation_rad, 1), _axis_quat(-obliquity_rad, 0))
    return rot.multiply(q, _axis_quat(-tilt_rad, 2))


def hip_quaternion(flexion_rad, adduction_rad, internal_rotation_rad, side: str) -> np.ndarray:
    """``q_thigh_pelvis`` (N, 4): the same rotation as ``kinematics.hip_orientation``
    (``Rz(a) · Rx(±b) · Ry(±c)``, + right, − left)."""
    sg = SIDE_SIGN[side]
    q = rot.multiply(_axis_quat(flexion_rad, 2), _axis_quat(sg * adduction_rad, 0))
    return rot.multiply(q, _axis_quat(sg * internal_rotation_rad, 1))


class Motion:
    """The athlete's motion over a session: phases in time order; pose at any time."""

    CHUNK = 16384  # samples per evaluation block (keeps the work in cache)

    def __init__(self, phases: list[Phase], seconds: float, ath: Athlete):
        self.phases = phases
        self.seconds = float(seconds)
        self.hip_half_width_m = ath.hip_half_width_m

    def angles_and_pelvis(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Angles (N, 9) deg in ANGLE_COLUMNS order and pelvis origin (N, 3) m at session times ``t`` (N,)."""
        t = np.asarray(t, dtype=float)
        ang = np.zeros((t.shape[0], 9))
        pos = np.zeros((t.shape[0], 3))
        bounds = np.array([p.t0 for p in self.phases[1:]])
        idx = np.searchsorted(bounds, t, side="right")
        for i, phase in enumerate(self.phases):
            sel = idx == i
            if np.any(sel):
                a, p = phase.evaluate(t[sel])
                ang[sel], pos[sel] = a, p
        return ang, pos

    def pose(self, t: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``q_segment_global`` (N, 4) and ``pos_segment_global`` (N, 3) per placement at times ``t``.

        Segment positions: the pelvis origin (midpoint of the hip joint
        centres) for the pelvis, each hip joint centre for a thigh
        (pelvis origin ± ``hip_half_width_m`` along the pelvis Z axis).
        """
        t = np.asarray(t, dtype=float)
        if t.shape[0] > self.CHUNK:
            parts = [self.pose(t[i : i + self.CHUNK]) for i in range(0, t.shape[0], self.CHUNK)]
            return ({k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]},
                    {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]})
        ang_deg, pelvis_pos = self.angles_and_pelvis(t)
        a = np.radians(ang_deg)
        q_pelvis = pelvis_quaternion(a[:, TILT], a[:, OBL], a[:, ROT])
        q = {"pelvis": q_pelvis}
        pos = {"pelvis": pelvis_pos}
        for side in ("left", "right"):
            q_thigh_pelvis = hip_quaternion(a[:, FLEX[side]], a[:, ADD[side]], a[:, IR[side]], side)
            q[f"{side}_thigh"] = rot.multiply(q_pelvis, q_thigh_pelvis)
            hjc_pelvis = np.array([0.0, 0.0, SIDE_SIGN[side] * self.hip_half_width_m])
            pos[f"{side}_thigh"] = pelvis_pos + rot.rotate(q_pelvis, np.broadcast_to(hjc_pelvis, pelvis_pos.shape))
        return q, pos

    def event_windows(self) -> list[EventWindow]:
        out = [e for p in self.phases for e in p.events]
        out.sort(key=lambda e: (e.start_s, e.side, e.kind))
        return out


def build_motion(kind: str, seconds: float, ath: Athlete, rng_for) -> Motion:
    """The session for ``kind``: calibration standing (+ walking for non-gait tasks), then the task.

    ``rng_for(name)`` gives an independent seeded generator per component.
    """
    t = 0.0
    x = 0.0
    phases: list[Phase] = []
    stand = ath.stand_s
    if kind == "stand":
        phases.append(StandPhase(0.0, seconds, 0.0, ath, rng_for("stand0"), ath.sway))
        return Motion(phases, seconds, ath)
    phases.append(StandPhase(0.0, stand, 0.0, ath, rng_for("stand0"), ath.sway))
    t = stand
    if kind in ("run", "walk"):
        treadmill = ath.treadmill if ath.treadmill is not None else (kind == "run")
        dur = ath.fatigue_duration_s if ath.fatigue_duration_s is not None else seconds - t - ath.fatigue_onset_s
        fat = FatigueCurve(t + ath.fatigue_onset_s, dur)
        if seconds - t < 4.0:
            raise ValueError(f"{kind}: need at least {t + 4.0:.0f} s")
        phases.append(GaitPhase(kind, t, seconds, x, ath, rng_for("gait"), fat, treadmill=treadmill, task_kind=kind))
        return Motion(phases, seconds, ath)
    # calibration walk: forward, overground, then stand
    walk = GaitPhase("walk", t, seconds, x, ath, rng_for("calib_walk"), None, treadmill=False,
                     n_steps=ath.calib_steps, task_kind=kind)
    phases.append(walk)
    t, x = walk.t1, walk.x_end
    phases.append(StandPhase(t, t + 2.0, x, ath, rng_for("stand1"), ath.sway))
    t += 2.0
    if seconds - t < 10.0:
        raise ValueError(f"{kind}: the calibration takes {t:.0f} s; give at least {t + 10:.0f} s")
    if kind == "jump":
        if ath.jump_style == "dvj":
            task = build_drop_jumps(t, seconds - 2.0, x, ath, rng_for("task"))
        else:
            task = build_single_leg_task("hop", t, seconds - 2.0, x, ath, rng_for("task"))
    elif kind in ("squat", "stance"):
        task = build_single_leg_task(kind, t, seconds - 2.0, x, ath, rng_for("task"))
    else:
        raise ValueError(f"unknown kind {kind!r}")
    if task.t1 > seconds:
        raise ValueError(f"{kind}: the task needs {task.t1:.1f} s; give more seconds")
    phases.append(task)
    phases.append(StandPhase(task.t1, seconds, task.x_end, ath, rng_for("stand2"), ath.sway))
    return Motion(phases, seconds, ath)
