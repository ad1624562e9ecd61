"""Gyroscope bias estimated at rest, for the filters that have no bias estimate of their own.

A MEMS gyroscope reads a zero-rate offset of one to a few deg/s (LSM6DSL: typ. ±1..3
dps; hipmon's simulator draws 1 dps SD per axis). Integrated, 1 dps is 60° of error
per minute. VQF estimates this bias (at rest and in motion); the ``ahrs`` filters do
not (Madgwick, EKF) or only on the axes the accelerometer observes (Mahony's
integrator, never about the vertical). Every hipmon session starts with quiet
standing (DESIGN section 4: at least 3 s), when the gyroscope reads nothing but its
bias, so the adapters subtract a bias measured whenever the sensor is at rest, the
way VQF's rest phase does (Laidig & Seel 2023, section on rest detection):

- low-pass both signals (2nd-order Butterworth, time constant ``REST_FILTER_TAU_S``);
- *quiet*: ``|gyr - gyr_lp| < REST_TH_GYR_DPS``, ``|acc - acc_lp| < REST_TH_ACC_M_S2``
  and every axis of ``gyr_lp`` within ``bias_clip_dps`` (a larger rate is movement,
  not an offset);
- *rest*: quiet for at least ``REST_MIN_S``; at rest the bias is ``gyr_lp``, and it
  is held between rests.

The thresholds are VQF's defaults (vqf 2.1), so both filter families call the same
moments "rest". Causal and chunkable: ``update`` on consecutive chunks gives exactly
what one call on the concatenation gives (the low-pass state, the quiet run length
and the last bias are carried).
"""

from __future__ import annotations

import numpy as np

REST_FILTER_TAU_S = 0.5  #: low-pass time constant of the rest detection (s), VQF ``restFilterTau``
#: gyroscope / accelerometer deviation from the low-pass at rest (deg/s, m/s²): a standing
#: person, not a sensor on a table (hipmon's VQF ``restThGyr``/``restThAcc``,
#: ``pipeline.VQF_PARAMS``: postural sway 1.3–1.7 °/s RMS, peaks near 4 °/s on a real stand)
REST_TH_GYR_DPS = 5.0
REST_TH_ACC_M_S2 = 1.0
REST_MIN_S = 1.5  #: quiet this long counts as rest (s), VQF ``restMinT``
BIAS_CLIP_DPS = 8.0  #: largest zero-rate offset accepted (deg/s): hipmon's VQF ``biasClip``
ACC_TAU_S = 3.0  #: accelerometer low-pass time constant in the gyroscope frame (s), VQF ``tauAcc``


def lowpass_coefficients(tau_s: float, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """2nd-order Butterworth (b, a) with cutoff ``√2 / (2π τ)`` Hz, VQF's choice for a time constant ``tau_s`` (s)."""
    fc_hz = np.sqrt(2.0) / (2.0 * np.pi * tau_s)
    fc_hz = min(fc_hz, 0.45 * rate_hz)
    from scipy.signal import butter  # here: scipy.signal takes 0.7 s to import, most runs never need it

    b, a = butter(2, fc_hz, fs=rate_hz)
    return b, a


class RestBiasEstimator:
    """Causal gyroscope-bias estimate from rest phases (see the module docstring).

    ``update(acc_sensor (N, 3) m/s², gyr_sensor (N, 3) rad/s) -> (bias_rad_s (N, 3), rest (N,) bool)``;
    ``bias_rad_s[i]`` uses samples up to ``i`` only. ``bias_rad_s`` attribute: the latest estimate.
    """

    def __init__(self, rate_hz: float, bias_clip_dps: float = BIAS_CLIP_DPS) -> None:
        self.rate_hz = float(rate_hz)
        self.bias_clip_rad_s = np.radians(float(bias_clip_dps))
        self._b, self._a = lowpass_coefficients(REST_FILTER_TAU_S, self.rate_hz)
        self._min_run = max(1, int(round(REST_MIN_S * self.rate_hz)))
        self.reset()

    def reset(self) -> None:
        self.bias_rad_s = np.zeros(3)
        self._zi_gyr: np.ndarray | None = None
        self._zi_acc: np.ndarray | None = None
        self._run = 0  # quiet samples in a row up to the last sample seen
        self._rest_sum = np.zeros(3)  # sum and count of the gyro over the rest phase going on
        self._rest_n = 0

    def _lowpass(self, x: np.ndarray, zi: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if zi is None:  # start as if the first sample had always been there (no start-up transient)
            from scipy.signal import lfilter_zi

            zi = lfilter_zi(self._b, self._a)[:, None] * x[0][None, :]
        from scipy.signal import lfilter

        y, zf = lfilter(self._b, self._a, x, axis=0, zi=zi)
        return y, zf

    def update(self, acc_sensor: np.ndarray, gyr_sensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = acc_sensor.shape[0]
        if n == 0:
            return np.zeros((0, 3)), np.zeros(0, bool)
        gyr_lp, self._zi_gyr = self._lowpass(gyr_sensor, self._zi_gyr)
        acc_lp, self._zi_acc = self._lowpass(acc_sensor, self._zi_acc)
        quiet = (
            (np.sum((gyr_sensor - gyr_lp) ** 2, axis=1) < np.radians(REST_TH_GYR_DPS) ** 2)
            & (np.sum((acc_sensor - acc_lp) ** 2, axis=1) < REST_TH_ACC_M_S2**2)
            & np.all(np.abs(gyr_lp) <= self.bias_clip_rad_s, axis=1)
        )
        # run length of quiet samples ending at each sample, continuing the previous chunk's run
        idx = np.arange(n)
        last_loud = np.maximum.accumulate(np.where(quiet, -1, idx))
        run = np.where(last_loud >= 0, idx - last_loud, idx + 1 + self._run)
        self._run = int(run[-1])
        rest = run >= self._min_run
        # bias: the mean gyro over the rest phase so far (a standing person's sway averages out
        # over the whole stand; one low-passed sample kept ~0.3 °/s of it, a heading drift),
        # held after the rest ends; phases split at chunk boundaries continue
        starts = rest & ~np.concatenate([[self._rest_n > 0], rest[:-1]])
        cs = np.cumsum(np.where(rest[:, None], gyr_sensor, 0.0), axis=0)
        cn = np.cumsum(rest)
        phase = np.cumsum(starts)  # 0: the phase carried over from the previous chunk
        first = np.flatnonzero(starts)
        base_s = np.vstack([-self._rest_sum[None, :], cs[first - 1] * (first >= 1)[:, None]])
        base_n = np.concatenate([[-self._rest_n], cn[first - 1] * (first >= 1)])
        total = cs - base_s[phase]
        count = cn - base_n[phase]
        mean = total / np.maximum(count, 1)[:, None]
        last_rest = np.maximum.accumulate(np.where(rest, idx, -1))
        bias = np.where((last_rest >= 0)[:, None], mean[np.maximum(last_rest, 0)], self.bias_rad_s)
        bias = np.clip(bias, -self.bias_clip_rad_s, self.bias_clip_rad_s)
        if rest[-1]:
            self._rest_sum, self._rest_n = total[-1].copy(), int(count[-1])
        else:
            self._rest_sum, self._rest_n = np.zeros(3), 0
        self.bias_rad_s = bias[-1].copy()
        return bias, rest


def _rotate_rows(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise rotation of v (N, 3) by q (N, 4) (scalar first)."""
    w, u = q[:, :1], q[:, 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


class EarthFrameAccLowpass:
    """Specific force low-passed in a gyroscope-integrated frame, expressed in the current sensor frame.

    Over a stride the body does not accelerate on average, so the *earth-frame* mean of
    the specific force is gravity; a filter that corrects towards each normalised
    sample instead weights a flight phase (near 0 g, any direction) like a 3 g stance
    and is pulled off vertical (measured: 15° at a running pelvis with the ahrs filters).
    VQF low-passes the accelerometer in a quasi-inertial frame for this reason
    (Laidig & Seel 2023, ``tauAcc``). This does the same in front of the ahrs
    filters: each sample is rotated into a frame integrated from the (bias-corrected)
    gyroscope alone, low-passed there (2nd-order Butterworth, time constant ``tau_s``),
    and rotated back into the sensor frame of that sample. The gyroscope frame only
    needs to be right over about ``tau_s`` seconds, so its slow drift does no harm.

    ``update(acc_sensor (N, 3) m/s², gyr_sensor (N, 3) rad/s) -> acc_lp_sensor (N, 3) m/s²``;
    causal and chunkable.
    """

    def __init__(self, rate_hz: float, tau_s: float) -> None:
        self.rate_hz = float(rate_hz)
        self.tau_s = float(tau_s)
        self._b, self._a = lowpass_coefficients(self.tau_s, self.rate_hz)
        self.reset()

    def reset(self) -> None:
        self._q = np.array([1.0, 0.0, 0.0, 0.0])  # q_sensor_gyroframe after the last sample
        self._zi: np.ndarray | None = None

    def update(self, acc_sensor: np.ndarray, gyr_sensor: np.ndarray) -> np.ndarray:
        n = acc_sensor.shape[0]
        if n == 0:
            return np.zeros((0, 3))
        # strapdown: q[i] is the sensor's orientation in the gyroscope frame at sample i
        half = 0.5 * gyr_sensor / self.rate_hz
        angle = np.linalg.norm(half, axis=1, keepdims=True)
        steps = np.hstack([np.cos(angle), np.sinc(angle / np.pi) * half])
        q = np.empty((n, 4))
        w, x, y, z = self._q
        for i in range(n):
            a, b, c, d = steps[i]
            w, x, y, z = (w * a - x * b - y * c - z * d, w * b + x * a + y * d - z * c,
                          w * c - x * d + y * a + z * b, w * d + x * c - y * b + z * a)
            s = 1.0 / np.sqrt(w * w + x * x + y * y + z * z)
            w, x, y, z = w * s, x * s, y * s, z * s
            q[i] = (w, x, y, z)
        self._q = q[-1].copy()
        acc_frame = _rotate_rows(q, acc_sensor)
        if self._zi is None:  # start at the first sample's value (no start-up transient)
            from scipy.signal import lfilter_zi

            self._zi = lfilter_zi(self._b, self._a)[:, None] * acc_frame[0][None, :]
        from scipy.signal import lfilter

        lp, self._zi = lfilter(self._b, self._a, acc_frame, axis=0, zi=self._zi)
        q_inv = q * np.array([1.0, -1.0, -1.0, -1.0])
        return _rotate_rows(q_inv, lp)
