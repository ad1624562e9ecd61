"""Adapters for the ``ahrs`` (0.4) Madgwick, Mahony and EKF filters.

Each ahrs filter is driven one sample at a time through its public per-sample
method (``updateIMU``/``updateMARG``/``update``); the adapter owns the
quaternion state, so chunked calls give exactly the one-call result.

Traps found by reading ahrs 0.4 and checked on data (tests/test_fusion_traps.py):

- **Quaternion**: ahrs quaternions are scalar first and map sensor to earth
  (body-rate propagation ``q̇ = ½ q ⊗ ω``), like hipmon's: no reordering needed.
- **Earth frames differ per filter.** Madgwick's magnetic reference is
  ``[bx, 0, bz]`` with gravity on +z: its 9D frame is North-West-Up; we rotate
  it to ENU. Mahony's magnetic reference is ``[0, by, bz]``: already ENU. The EKF
  takes ``frame="NED"`` by default with a magnetic reference for **Munich**; we
  use ``frame="ENU"`` and our own dip angle.
- **Accelerometer sign in the EKF**: its gravity reference is the *downward*
  axis (``[0, 0, 1]`` in NED, ``[0, 0, -1]`` in ENU), i.e. it expects the
  accelerometer to read gravity, not specific force. Fed m/s² specific force
  as is, its "NED" output is z-up and its magnetometer model is upside-down.
  The adapter negates the accelerometer and uses ``frame="ENU"``.
- **EKF 9D needs its constructor's ``mag``**: ``h()`` and ``dhdq()`` look at the
  object's ``mag`` attribute, not at the sample passed to ``update``; without
  it a 9D update fails. The adapter sets it.
- **Ignored settings**: Madgwick's ``gain_marg`` is silently ignored when the
  filter is built without data (the gain stays the IMU default 0.033); the
  adapter passes one explicit ``gain`` instead. Mahony rejects ``k_I=0``; the
  adapter maps 0 to 1e-12 (bias estimation off in effect).
- **Initial orientation**: Madgwick's 9D start is computed in NED while the
  filter runs in NWU, and ahrs's own starts come from one sample in yet other
  conventions; the adapter starts every filter from ``initial_orientation``
  (first sample, hipmon earth frame) converted into the filter's own frame,
  or from a given ``q0``.
- **Zero gyroscope sample**: Madgwick and Mahony return the old quaternion
  without any accelerometer correction when ``|gyr| == 0`` exactly (common for a
  quantised sensor at rest); the adapter replaces an exact zero by 1e-12 rad/s.
- **Units**: all three take gyr in rad/s; acc and mag are normalised, so m/s²
  and µT are fine. The sampling period must be given (default 100 Hz).

Unknown parameter names raise ``TypeError`` (ahrs would ignore them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ahrs.filters import EKF, Madgwick, Mahony

from hipmon import rotations
from hipmon.fusion.base import OrientationFilter, initial_orientation
from hipmon.fusion.preprocess import ACC_TAU_S, BIAS_CLIP_DPS, EarthFrameAccLowpass, RestBiasEstimator

_TINY_GYR = np.array([1e-12, 0.0, 0.0])

#: Rotation taking North-West-Up vectors to East-North-Up: +90° about z.
Q_NWU_ENU = rotations.from_axis_angle([0.0, 0.0, 1.0], np.pi / 2)


def _nonzero_gyr(gyr: np.ndarray) -> np.ndarray:
    """Replace exactly-zero gyroscope rows so the ahrs filters still apply their correction."""
    zero = ~np.any(gyr != 0.0, axis=1)
    if np.any(zero):
        gyr = gyr.copy()
        gyr[zero] = _TINY_GYR
    return gyr


class _AhrsFilter(OrientationFilter):
    """Shared state handling: the adapter keeps q in the library's own frame."""

    def __init__(self, rate_hz: float, use_mag: bool, q0: np.ndarray | None, rest_bias: bool = True,
                 bias_clip_dps: float = BIAS_CLIP_DPS, acc_tau_s: float = ACC_TAU_S) -> None:
        super().__init__(rate_hz, use_mag)
        self._q0 = None if q0 is None else rotations.normalize(np.asarray(q0, dtype=float).reshape(4))
        self._q: np.ndarray | None = None
        self._bias = RestBiasEstimator(self.rate_hz, bias_clip_dps) if rest_bias else None
        self._acc_lp = EarthFrameAccLowpass(self.rate_hz, acc_tau_s) if acc_tau_s > 0 else None
        self._common_params = {"rest_bias": bool(rest_bias), "bias_clip_dps": float(bias_clip_dps),
                               "acc_tau_s": float(acc_tau_s)}

    # Conversions between hipmon's earth frame and the library's, for 9D.
    def _to_lib(self, q_sensor_earth: np.ndarray) -> np.ndarray:
        return q_sensor_earth

    def _from_lib(self, q_lib: np.ndarray) -> np.ndarray:
        return q_lib

    def reset(self) -> None:
        self._q = None
        if self._bias is not None:
            self._bias.reset()
        if self._acc_lp is not None:
            self._acc_lp.reset()
        self._reset_impl()

    def _reset_impl(self) -> None:
        pass

    def _start(self, acc0: np.ndarray, mag0: np.ndarray | None) -> np.ndarray:
        q = self._q0 if self._q0 is not None else initial_orientation(acc0, mag0)
        return self._to_lib(q)

    def _update(self, acc: np.ndarray, gyr: np.ndarray, mag: np.ndarray | None) -> np.ndarray:
        if self._q is None:
            self._q = self._start(acc[0], None if mag is None else mag[0])
        if self._bias is not None:
            bias, rest = self._bias.update(acc, gyr)
            gyr = gyr - bias
            self.flags = {"rest": rest, "bias_rad_s": bias}
        else:
            self.flags = {}
        if self._acc_lp is not None:
            acc = self._acc_lp.update(acc, gyr)
        out = self._loop(self._q, acc, _nonzero_gyr(gyr), mag)
        self._q = out[-1].copy()
        return self._from_lib(out)

    def state(self) -> dict[str, Any]:
        s: dict[str, Any] = {"q_sensor_earth": None if self._q is None else self._from_lib(self._q)}
        if self._bias is not None:
            s["rest_bias_rad_s"] = self._bias.bias_rad_s.copy()
        return s

    def _loop(self, q, acc, gyr, mag):
        """One library step per sample (ahrs filters are pure Python); Madgwick and Mahony
        share ``updateIMU(q, gyr, acc, dt)`` / ``updateMARG(q, gyr, acc, mag, dt)``."""
        out = np.empty((acc.shape[0], 4))
        dt = self.dt_s
        if mag is None:
            step = self._impl.updateIMU
            for i in range(acc.shape[0]):
                q = step(q, gyr[i], acc[i], dt)
                out[i] = q
        else:
            step = self._impl.updateMARG
            for i in range(acc.shape[0]):
                q = step(q, gyr[i], acc[i], mag[i], dt)
                out[i] = q
        return out


class MadgwickFilter(_AhrsFilter):
    """ahrs Madgwick gradient-descent filter.

    Parameters: ``gain`` (β, rad/s-equivalent gradient step; default 0.033 for 6D,
    0.041 for 9D, the paper's values), ``q0`` (4,) optional start ``q_sensor_earth``.
    """

    family = "madgwick"

    def __init__(self, rate_hz: float, use_mag: bool = False, gain: float | None = None,
                 q0: np.ndarray | None = None, rest_bias: bool = True, bias_clip_dps: float = BIAS_CLIP_DPS,
                 acc_tau_s: float = ACC_TAU_S) -> None:
        super().__init__(rate_hz, use_mag, q0, rest_bias, bias_clip_dps, acc_tau_s)
        if gain is None:
            gain = 0.041 if use_mag else 0.033
        self.params = {"gain": float(gain), **self._common_params}
        self._impl = Madgwick(frequency=self.rate_hz, gain=float(gain))
        if self._impl.gain != float(gain):  # pragma: no cover - guards a library change
            raise RuntimeError("ahrs Madgwick did not take the gain")

    def _to_lib(self, q):
        return rotations.multiply(rotations.conjugate(Q_NWU_ENU), q) if self.use_mag else q

    def _from_lib(self, q):
        return rotations.multiply(Q_NWU_ENU, q) if self.use_mag else q


class MahonyFilter(_AhrsFilter):
    """ahrs Mahony explicit complementary filter with gyroscope-bias integrator.

    Parameters: ``k_P`` (proportional gain, 1/s; ahrs default 1.0), ``k_I`` (integral
    gain, 1/s²; ahrs default 0.3; 0 disables bias estimation), ``q0`` (4,).
    ``state()`` adds ``bias_rad_s`` (3,), the integrator's bias estimate.
    """

    family = "mahony"

    def __init__(self, rate_hz: float, use_mag: bool = False, k_P: float = 1.0, k_I: float = 0.3,
                 q0: np.ndarray | None = None, rest_bias: bool = True, bias_clip_dps: float = BIAS_CLIP_DPS,
                 acc_tau_s: float = ACC_TAU_S) -> None:
        super().__init__(rate_hz, use_mag, q0, rest_bias, bias_clip_dps, acc_tau_s)
        self.params = {"k_P": float(k_P), "k_I": float(k_I), **self._common_params}
        self._reset_impl()

    def _reset_impl(self) -> None:
        k_I = self.params["k_I"] if self.params["k_I"] != 0 else 1e-12
        self._impl = Mahony(frequency=self.rate_hz, k_P=self.params["k_P"], k_I=k_I)

    def state(self) -> dict[str, Any]:
        s = super().state()
        # ahrs's b enters as omega - b (it estimates the bias to subtract).
        s["bias_rad_s"] = np.array(self._impl.b, dtype=float)
        return s


class EkfFilter(_AhrsFilter):
    """ahrs quaternion EKF, run in ENU with the accelerometer sign it expects.

    Parameters: ``var_gyr`` (rad²/s², default 0.3²), ``var_acc`` (default 0.5²),
    ``var_mag`` (default 0.8²), the latter two on *normalised* vectors;
    ``magnetic_dip_deg`` (field inclination below horizontal, degrees; default:
    measured from the first sample); ``q0`` (4,). ``state()`` adds ``P`` (4, 4).
    """

    family = "ekf"

    def __init__(self, rate_hz: float, use_mag: bool = False, var_gyr: float = 0.3**2,
                 var_acc: float = 0.5**2, var_mag: float = 0.8**2,
                 magnetic_dip_deg: float | None = None, q0: np.ndarray | None = None,
                 rest_bias: bool = True, bias_clip_dps: float = BIAS_CLIP_DPS,
                 acc_tau_s: float = ACC_TAU_S) -> None:
        super().__init__(rate_hz, use_mag, q0, rest_bias, bias_clip_dps, acc_tau_s)
        self.params = {"var_gyr": float(var_gyr), "var_acc": float(var_acc), "var_mag": float(var_mag),
                       "magnetic_dip_deg": magnetic_dip_deg, **self._common_params}
        self._reset_impl()

    def _reset_impl(self, dip_deg: float | None = None) -> None:
        p = self.params
        dip = p["magnetic_dip_deg"] if dip_deg is None else dip_deg
        self._impl = EKF(frequency=self.rate_hz, frame="ENU",
                         noises=[p["var_gyr"], p["var_acc"], p["var_mag"]],
                         magnetic_ref=float(dip if dip is not None else 0.0))
        if self.use_mag:
            # h()/dhdq() switch to the 6-row model only when the object has magnetometer data.
            self._impl.mag = np.zeros((1, 3))
        self.dip_deg = dip

    def _start(self, acc0, mag0):
        if self.use_mag and self.params["magnetic_dip_deg"] is None:
            up = acc0 / np.linalg.norm(acc0)
            dip = float(np.degrees(np.arcsin(np.clip(-np.dot(mag0, up) / np.linalg.norm(mag0), -1, 1))))
            self._reset_impl(dip)
        return super()._start(acc0, mag0)

    def _loop(self, q, acc, gyr, mag):
        out = np.empty((acc.shape[0], 4))
        dt = self.dt_s
        down = -acc  # the EKF's gravity reference points down: feed it gravity, not specific force
        step = self._impl.update
        if mag is None:
            for i in range(acc.shape[0]):
                q = step(q, gyr[i], down[i], None, dt)
                out[i] = q
        else:
            for i in range(acc.shape[0]):
                q = step(q, gyr[i], down[i], mag[i], dt)
                out[i] = q
        return out

    def state(self) -> dict[str, Any]:
        s = super().state()
        s["P"] = np.array(self._impl.P, dtype=float)
        s["magnetic_dip_deg"] = self.dip_deg
        return s
