"""Smooth time functions the motion models are built from.

Everything here is C2 or smoother (continuous position, velocity and
acceleration), because the IMU synthesis differentiates the motion twice: a
kink in a position or an angle would be an impulse in the accelerometer or a
step in the gyroscope that no real body produces.

- ``smoothstep5`` / ``smoothstep5_integral``: the quintic ramp 0 → 1 with zero
  first and second derivatives at both ends, and its integral.
- ``Envelope``: a ramp-up / hold / ramp-down gain built from ``smoothstep5``,
  with its exact time integral (distance covered while speeding up).
- ``PiecewiseQuintic``: quintic Hermite interpolation through knots with given
  value, first and second derivative (C2; exact for parabolas, so a ballistic
  flight phase given by consistent knots is reproduced exactly).
- ``PeriodicShapes``: periodic curves of the gait phase from published key
  points, smoothed to a truncated Fourier series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

#: Gravitational acceleration used everywhere in the simulator, m/s².
GRAVITY_MPS2 = 9.81


def smoothstep5(u: np.ndarray | float) -> np.ndarray:
    """Quintic ramp ``6u⁵ − 15u⁴ + 10u³`` of ``u`` clipped to [0, 1]; C2 at both ends."""
    u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
    return u * u * u * (10.0 + u * (-15.0 + 6.0 * u))


def smoothstep5_integral(u: np.ndarray | float) -> np.ndarray:
    """∫₀ᵘ smoothstep5 = ``u⁶ − 3u⁵ + 2.5u⁴`` for ``u`` clipped to [0, 1] (0.5 at u = 1)."""
    u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
    return u**4 * (2.5 + u * (-3.0 + u))


@dataclass(frozen=True)
class Envelope:
    """Gain 0 → 1 over [t_on, t_on + ramp_on_s], 1, then 1 → 0 over [t_off, t_off + ramp_off_s].

    ``t_off = inf`` keeps the gain at 1 after the ramp-up. Times in s.
    """

    t_on: float
    ramp_on_s: float
    t_off: float = float("inf")
    ramp_off_s: float = 1.0

    def __call__(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        up = smoothstep5((t - self.t_on) / self.ramp_on_s)
        if np.isinf(self.t_off):
            return up
        return up * (1.0 - smoothstep5((t - self.t_off) / self.ramp_off_s))

    def integral(self, t: np.ndarray) -> np.ndarray:
        """∫ from t_on to t of the gain, s (requires t_on + ramp_on_s <= t_off)."""
        t = np.asarray(t, dtype=float)
        a, r1 = self.t_on, self.ramp_on_s
        out = r1 * smoothstep5_integral((t - a) / r1)
        flat_end = np.minimum(t, self.t_off) if not np.isinf(self.t_off) else t
        out = out + np.maximum(0.0, flat_end - (a + r1))
        if not np.isinf(self.t_off):
            b, r2 = self.t_off, self.ramp_off_s
            tc = np.clip(t, b, b + r2)
            out = out + (tc - b) - r2 * smoothstep5_integral((t - b) / r2)
        return out


class PiecewiseQuintic:
    """C2 piecewise quintic through knots with prescribed value, rate and acceleration.

    ``times_s`` (K,) strictly increasing; ``values``, ``rates``, ``accels`` (K, D)
    (value units, per s, per s²). Outside the knot range the end values are held
    (the motion models only use that where the end state is at rest).
    """

    def __init__(self, times_s, values, rates=None, accels=None):
        t = np.asarray(times_s, dtype=float)
        p = np.atleast_2d(np.asarray(values, dtype=float))
        if p.shape[0] != t.shape[0]:
            p = p.T
        v = np.zeros_like(p) if rates is None else np.asarray(rates, dtype=float).reshape(p.shape)
        a = np.zeros_like(p) if accels is None else np.asarray(accels, dtype=float).reshape(p.shape)
        if t.ndim != 1 or t.shape[0] < 2 or np.any(np.diff(t) <= 0):
            raise ValueError("PiecewiseQuintic needs at least two strictly increasing knot times")
        self.times_s = t
        self.dim = p.shape[1]
        dt = np.diff(t)[:, None]
        p0, p1, v0, v1, a0, a1 = p[:-1], p[1:], v[:-1] * dt, v[1:] * dt, a[:-1] * dt**2, a[1:] * dt**2
        # power-basis coefficients in u = (t - t_k) / dt_k, shape (K-1, 6, D)
        c0 = p0
        c1 = v0
        c2 = 0.5 * a0
        c3 = -10 * p0 - 6 * v0 - 1.5 * a0 + 10 * p1 - 4 * v1 + 0.5 * a1
        c4 = 15 * p0 + 8 * v0 + 1.5 * a0 - 15 * p1 + 7 * v1 - a1
        c5 = -6 * p0 - 3 * v0 - 0.5 * a0 + 6 * p1 - 3 * v1 + 0.5 * a1
        self._coef = np.stack([c0, c1, c2, c3, c4, c5], axis=1)
        self._dt = dt[:, 0]
        self._end = (p[0], p[-1])

    def __call__(self, t: np.ndarray, nu: int = 0) -> np.ndarray:
        """Value (nu=0), rate (1) or acceleration (2) at times ``t`` (N,) → (N, D)."""
        t = np.asarray(t, dtype=float)
        k = np.clip(np.searchsorted(self.times_s, t, side="right") - 1, 0, len(self._dt) - 1)
        dt = self._dt[k]
        u = np.clip((t - self.times_s[k]) / dt, 0.0, 1.0)
        c = self._coef[k]  # (N, 6, D)
        if nu == 0:
            out = c[:, 5]
            for j in (4, 3, 2, 1, 0):
                out = out * u[:, None] + c[:, j]
        elif nu == 1:
            out = 5 * c[:, 5]
            for j in (4, 3, 2, 1):
                out = out * u[:, None] + j * c[:, j]
            out = out / dt[:, None]
        elif nu == 2:
            out = 20 * c[:, 5]
            for j in (4, 3, 2):
                out = out * u[:, None] + j * (j - 1) * c[:, j]
            out = out / dt[:, None] ** 2
        else:
            raise ValueError("nu must be 0, 1 or 2")
        if nu > 0:
            outside = (t < self.times_s[0]) | (t > self.times_s[-1])
            out = np.where(outside[:, None], 0.0, out)
        return out


class PeriodicShapes:
    """Named periodic curves of the gait phase φ (period 1), from key points.

    Each curve is given as key points ``[(phase, value), ...]`` on [0, 1); a
    periodic cubic spline through them is reduced to its first ``harmonics``
    Fourier terms, so the curve and all its derivatives are continuous. With
    ``normalize=True`` a curve is scaled so that its maximum is exactly 1 (a
    unit "bump" whose amplitude a parameter sets); ``peak_phase`` records where
    that maximum falls.
    """

    def __init__(self, keypoints: dict[str, list[tuple[float, float]]], harmonics: int = 10,
                 normalize: tuple[str, ...] = ()):
        self.names = list(keypoints)
        self.harmonics = harmonics
        grid = np.arange(512) / 512.0
        coefs = []
        self.peak_phase: dict[str, float] = {}
        for name in self.names:
            pts = sorted(keypoints[name])
            ph = np.array([p for p, _ in pts], dtype=float)
            val = np.array([v for _, v in pts], dtype=float)
            ph = np.append(ph, ph[0] + 1.0)
            val = np.append(val, val[0])
            spline = CubicSpline(ph, val, bc_type="periodic")
            y = spline(ph[0] + ((grid - ph[0]) % 1.0))
            f = np.fft.rfft(y) / len(y)
            c = np.zeros(2 * harmonics + 1)
            c[0] = f[0].real
            c[1::2] = 2.0 * f[1 : harmonics + 1].real  # cos terms
            c[2::2] = -2.0 * f[1 : harmonics + 1].imag  # sin terms
            fine = np.arange(8192) / 8192.0
            fit = self._basis(fine) @ c
            if name in normalize:
                c = c / fit.max()
            self.peak_phase[name] = float(fine[np.argmax(fit)])
            coefs.append(c)
        self._coef = np.stack(coefs, axis=1)  # (2H+1, n_curves)

    def _basis(self, phase: np.ndarray) -> np.ndarray:
        """Fourier basis (N, 2H+1): 1, cos 2πkφ, sin 2πkφ (powers of e^{2πiφ})."""
        z1 = np.exp(2j * np.pi * (np.asarray(phase, dtype=float) % 1.0))
        zk = np.cumprod(np.broadcast_to(z1[:, None], (z1.shape[0], self.harmonics)), axis=1)
        out = np.empty((z1.shape[0], 2 * self.harmonics + 1))
        out[:, 0] = 1.0
        out[:, 1::2] = zk.real
        out[:, 2::2] = zk.imag
        return out

    def __call__(self, phase: np.ndarray) -> dict[str, np.ndarray]:
        """All curves at ``phase`` (N,) (any real number; period 1) → name → (N,)."""
        vals = self._basis(phase) @ self._coef
        return {name: vals[:, i] for i, name in enumerate(self.names)}

    def pair(self, phase: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """All curves at ``phase`` and at ``phase − 0.5`` (the other leg), sharing one basis."""
        b = self._basis(phase)
        sign = np.ones(2 * self.harmonics + 1)
        odd = np.arange(1, self.harmonics + 1) % 2 == 1
        sign[1::2][odd] = -1.0
        sign[2::2][odd] = -1.0
        both = b @ np.concatenate([self._coef, self._coef * sign[:, None]], axis=1)
        n = len(self.names)
        right, left = both[:, :n], both[:, n:]
        return ({n: right[:, i] for i, n in enumerate(self.names)},
                {n: left[:, i] for i, n in enumerate(self.names)})


class PeriodicBumps:
    """Named periodic curves of the phase (period 1) through key points at rest.

    Each curve is ``[(phase, value), ...]``; between key points it follows the
    quintic smoothstep (zero slope and curvature at every key point), so each
    key point is an exact extremum, the curve is C2 and exactly zero wherever
    two neighbouring key points are zero: a compact "bump" with no ripple
    elsewhere in the cycle (unlike a truncated Fourier series).
    """

    def __init__(self, keypoints: dict[str, list[tuple[float, float]]]):
        self.names = list(keypoints)
        self._tracks = {}
        for name, pts in keypoints.items():
            pts = sorted(pts)
            ph = [p for p, _ in pts]
            val = [v for _, v in pts]
            if ph[0] > 0.0:
                ph, val = [ph[-1] - 1.0] + ph, [val[-1]] + val
            if ph[-1] < 1.0:
                ph, val = ph + [ph[1] + 1.0 if ph[0] < 0 else ph[0] + 1.0], val + [val[1] if ph[0] < 0 else val[0]]
            self._tracks[name] = PiecewiseQuintic(np.array(ph), np.array(val)[:, None])
        self.peak_phase = {}
        fine = np.arange(8192) / 8192.0
        for name in self.names:
            v = self(fine)[name]
            self.peak_phase[name] = float(fine[np.argmax(v)])

    def __call__(self, phase: np.ndarray) -> dict[str, np.ndarray]:
        ph = np.asarray(phase, dtype=float) % 1.0
        return {name: tr(ph)[:, 0] for name, tr in self._tracks.items()}
