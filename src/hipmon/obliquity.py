"""Pelvic obliquity on real bodies: a second witness from the hip joint centres, and per-stance peaks.

A sacral sensor rides on the gluteal and lumbar fascia. On the real walk
(``../shared/data/real/neura-sparse-s02-walk``) its obliquity error against the
pelvis markers sits at the STRIDE frequency (0.5–1.2 Hz), where the real pelvic
drop is too, and follows the legs: 94 % of it is 0.2 deg per deg of
``(flex_L − flex_R)/2`` (the sensor rocks with the buttocks). A low-pass or a
stride average cannot remove an error that is periodic with the stride
(docs/placement.md, "What was measured").

An independent witness of the same angle comes from the thighs. Both hip joint
centres (HJCs) are points of the bony pelvis, ``d`` metres apart along its Z
axis, so

    sin(obliquity) = (z_HJC,right − z_HJC,left) / d          (global Y up)

and each HJC's vertical acceleration can be worked out from its thigh sensor
(``f + ω̇ × r + ω × (ω × r)`` with the lever arm ``r`` from
``hipmon.hip_joint``, rotated to the earth frame). Twice integrated in a band
around the stride, that gives the drop's dynamic part without the sacral skin.
Gravity and a constant tilt error cancel between the two sides.

Measured (docs/placement.md): the witness follows the markers' shape better than the sacral
sensor on the real walk, but its amplitude rests on a poorly determined inter-HJC distance, and a
50/50 blend helps on the real walk and hurts on the simulator (or the reverse, per metric). So
the pipeline does NOT use ``blend_obliquity_rad``; it and the per-stance helpers serve
``benchmarks/bench_obliquity.py``.

Functions here are pure: arrays in, arrays out; time on axis 0. Units: s, m,
m/s², rad/s, rad (degrees only where the name says ``_deg``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from hipmon.hip_joint import lever_arm_matrices, low_pass
from hipmon.kinematics import contralateral_pelvic_drop_deg

#: Band (Hz) in which the hip-joint-centre obliquity is trusted: from below a slow walk's stride
#: (0.3 Hz; drift of the double integral grows below it) up to the step's harmonics (3 Hz).
HJC_BAND_HZ = (0.3, 3.0)
GRAVITY_MPS2 = 9.81


def band_pass(x: np.ndarray, rate_hz: float, band_hz: tuple[float, float]) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth band-pass along axis 0 (offline)."""
    from scipy.signal import butter, sosfiltfilt

    lo, hi = band_hz
    sos = butter(2, [lo / (rate_hz / 2), min(hi, 0.45 * rate_hz) / (rate_hz / 2)], btype="band", output="sos")
    return sosfiltfilt(sos, x, axis=0)


def hjc_vertical_acc_earth(acc_sensor: np.ndarray, gyr_sensor: np.ndarray, r_sensor_earth: np.ndarray,
                           lever_arm_sensor_m: np.ndarray, rate_hz: float, cutoff_hz: float = 12.0) -> np.ndarray:
    """(N,) vertical linear acceleration (m/s², earth up, gravity removed) of the hip joint centre seen from one thigh.

    ``acc_sensor`` (N, 3) m/s² specific force, ``gyr_sensor`` (N, 3) rad/s, ``r_sensor_earth``
    (N, 3, 3) the sensor's orientation (sensor -> earth, z up; any heading),
    ``lever_arm_sensor_m`` (3,) the HJC relative to the sensor in its own frame.
    Signals are low-passed at ``cutoff_hz`` (zero phase) before ω̇ is differentiated.
    """
    w = low_pass(gyr_sensor, rate_hz, cutoff_hz)
    f = low_pass(acc_sensor, rate_hz, cutoff_hz)
    f_hjc = f + np.einsum("nij,j->ni", lever_arm_matrices(w, rate_hz), lever_arm_sensor_m)
    return np.einsum("nj,nj->n", r_sensor_earth[:, 2, :], f_hjc) - GRAVITY_MPS2


def obliquity_from_hip_joint_centres_rad(acc_up_left: np.ndarray, acc_up_right: np.ndarray, inter_hjc_m: float,
                                         rate_hz: float, band_hz: tuple[float, float] = HJC_BAND_HZ) -> np.ndarray:
    """(N,) pelvic obliquity (rad, + right side higher), its part inside ``band_hz`` only.

    ``acc_up_*`` (N,) vertical accelerations (m/s²) of the left and right hip joint centres
    (``hjc_vertical_acc_earth``); ``inter_hjc_m`` the distance between the centres. The height
    difference is the band-passed double integral of the acceleration difference; the constant
    and slow part of the obliquity (below the band) is not observable this way.
    """
    from scipy.integrate import cumulative_trapezoid

    da = np.asarray(acc_up_right, float) - np.asarray(acc_up_left, float)
    v = band_pass(cumulative_trapezoid(da, dx=1.0 / rate_hz, initial=0.0), rate_hz, band_hz)
    dz = band_pass(cumulative_trapezoid(v, dx=1.0 / rate_hz, initial=0.0), rate_hz, band_hz)  # trapezoid: no lag
    return np.arcsin(np.clip(dz / inter_hjc_m, -1.0, 1.0))


def blend_obliquity_rad(obliquity_sacral_rad: np.ndarray, obliquity_hjc_band_rad: np.ndarray, rate_hz: float,
                        weight_hjc: float = 0.5, band_hz: tuple[float, float] = HJC_BAND_HZ) -> np.ndarray:
    """(N,) obliquity (rad): the sacral sensor's, with its part inside ``band_hz`` replaced by a weighted
    mean of the sacral and the hip-joint-centre witnesses (``weight_hjc`` for the latter).

    Outside the band (the standing offset, slow changes, impacts) the sacral sensor alone counts.
    ``weight_hjc=0.5`` is the equal-variance choice: nothing about either witness is fitted.
    """
    s = np.asarray(obliquity_sacral_rad, float)
    s_band = band_pass(s, rate_hz, band_hz)
    return s - s_band + (1.0 - weight_hjc) * s_band + weight_hjc * np.asarray(obliquity_hjc_band_rad, float)


def stance_peak_drop_deg(time_s: np.ndarray, obliquity_deg: np.ndarray,
                         stances: Iterable[tuple[str, float, float]]) -> np.ndarray:
    """(K,) peak contralateral pelvic drop (deg, + swing side lower) in each stance (side, start_s, end_s).

    The same definition as ``hipmon.metrics`` (DESIGN section 2); NaN for a stance without samples.
    """
    out = []
    for side, a, b in stances:
        m = (time_s >= a) & (time_s <= b) & np.isfinite(obliquity_deg)
        out.append(float(np.max(contralateral_pelvic_drop_deg(obliquity_deg[m], side))) if m.any() else np.nan)
    return np.array(out)


def peak_error_summary(est_peaks_deg: np.ndarray, ref_peaks_deg: np.ndarray, sides: np.ndarray) -> dict[str, float]:
    """What a coach reads off per-stance peaks: error RMSE, bias and SD (deg) over all stances, and
    the error of the left-minus-right difference of the per-side means (deg), with the stance count."""
    e = np.asarray(est_peaks_deg, float) - np.asarray(ref_peaks_deg, float)
    sides = np.asarray(sides)
    ok = np.isfinite(e)
    lr = np.nan
    if (ok & (sides == "left")).any() and (ok & (sides == "right")).any():
        lr = float(np.mean(e[ok & (sides == "left")]) - np.mean(e[ok & (sides == "right")]))
    return {"rmse_deg": float(np.sqrt(np.mean(e[ok] ** 2))), "bias_deg": float(np.mean(e[ok])),
            "sd_deg": float(np.std(e[ok])), "left_minus_right_error_deg": lr, "stances": int(ok.sum())}
