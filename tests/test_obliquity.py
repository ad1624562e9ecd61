"""hipmon.obliquity: the hip-joint-centre witness of pelvic obliquity and per-stance peaks (docs/placement.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from hipmon import obliquity as OB
from tests._real import real_dir

FS = 100.0


def _walk_obliquity(t):
    """A walking-like obliquity (rad): stride fundamental 0.9 Hz plus a step harmonic."""
    return np.radians(4.0 * np.sin(2 * np.pi * 0.9 * t) + 1.5 * np.sin(2 * np.pi * 1.8 * t + 0.7))


def test_hjc_witness_recovers_the_obliquity_from_exact_hip_joint_accelerations():
    t = np.arange(0, 30, 1 / FS)
    d = 0.18
    th = _walk_obliquity(t)
    bounce = 0.03 * np.sin(2 * np.pi * 1.8 * t)  # common vertical motion of the pelvis: cancels
    z_r, z_l = bounce + d / 2 * np.sin(th), bounce - d / 2 * np.sin(th)
    acc = lambda z: np.gradient(np.gradient(z, 1 / FS), 1 / FS)  # noqa: E731
    est = OB.obliquity_from_hip_joint_centres_rad(acc(z_l), acc(z_r), d, FS)
    inner = slice(int(5 * FS), int(25 * FS))  # away from the zero-phase filter's edges
    twice = OB.band_pass(OB.band_pass(th, FS, OB.HJC_BAND_HZ), FS, OB.HJC_BAND_HZ)  # one band-pass per integration
    err = np.degrees(est[inner] - twice[inner])
    assert np.sqrt(np.mean(err**2)) < 0.15
    # and the band keeps most of the drop: within 10 % of the true amplitude
    assert abs(np.ptp(np.degrees(est[inner])) / np.ptp(np.degrees(th[inner])) - 1) < 0.1


def test_hjc_vertical_acc_includes_gravity_and_the_lever_arm():
    n = 200
    r_earth = np.repeat(np.eye(3)[None], n, axis=0)  # sensor frame = earth (z up)
    w0 = 3.0
    gyr = np.tile([w0, 0.0, 0.0], (n, 1))
    acc = np.tile([0.0, 0.0, 9.81], (n, 1))
    az = OB.hjc_vertical_acc_earth(acc, gyr, r_earth, np.array([0.0, 0.0, 0.2]), FS)
    # centripetal acceleration of a point 0.2 m along z spun about x: -w0² r along z
    assert np.allclose(az[20:-20], -0.2 * w0**2, atol=1e-6)
    assert np.allclose(OB.hjc_vertical_acc_earth(acc, 0 * gyr, r_earth, np.zeros(3), FS), 0.0, atol=1e-9)


def test_blend_keeps_the_sacral_offset_and_weights_the_band():
    t = np.arange(0, 30, 1 / FS)
    th = _walk_obliquity(t)
    sacral = th + np.radians(2.0)  # a standing offset only the sacral sensor sees
    band = OB.band_pass(th, FS, OB.HJC_BAND_HZ)
    assert np.allclose(OB.blend_obliquity_rad(sacral, band, FS, weight_hjc=0.0), sacral)
    wrong = np.zeros_like(t)  # a witness that saw nothing halves the band, keeps the offset
    b = OB.blend_obliquity_rad(sacral, wrong, FS, weight_hjc=0.5)
    inner = slice(500, 2500)
    assert abs(np.degrees(b[inner].mean()) - np.degrees(sacral[inner].mean())) < 0.05
    assert abs(np.ptp(b[inner]) / np.ptp(sacral[inner]) - 0.5) < 0.1


def test_stance_peak_drop_sign_and_left_right_error():
    t = np.arange(0, 4, 1 / FS)
    obl_deg = 5.0 * np.sin(2 * np.pi * 0.5 * t)  # right side up in 0-1 s, left side up in 1-2 s
    stances = [("right", 0.0, 1.0), ("left", 1.0, 2.0)]
    pk = OB.stance_peak_drop_deg(t, obl_deg, stances)
    assert np.allclose(pk, [5.0, 5.0], atol=0.01)  # both: the swing side drops by 5 deg
    s = OB.peak_error_summary(pk + np.array([1.0, 3.0]), pk, np.array(["right", "left"]))
    assert np.isclose(s["bias_deg"], 2.0) and np.isclose(s["left_minus_right_error_deg"], 2.0)
    assert np.isclose(s["rmse_deg"], np.sqrt(5.0)) and s["stances"] == 2


def _bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_obliquity.py"
    spec = importlib.util.spec_from_file_location("_bench_obliquity", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_real_walk_sacral_error_is_in_the_drops_band_and_the_thighs_see_the_drop():
    """On the real walk (Vicon pelvis): a low-pass cannot narrow the sacral error (it sits at the
    stride frequency, with the drop), while the hip joint centres seen from the thighs follow the
    markers' obliquity better than the sacral sensor does (correlation)."""
    real_dir("neura-sparse-s02-walk")
    res = _bench().real_trial()
    bands = res["bands_floor"]  # 0-0.5, 0.5-1.5, 1.5-3, 3-6, 6-50 Hz
    assert bands[1] > 1.5 and max(bands[3:]) < 0.5  # stride band dominates, above 3 Hz almost nothing
    s = res["scores"]
    assert s["low-pass 1.5 Hz"]["rmse"] > s["sacral floor"]["rmse"] - 0.2  # filtering gains < 0.2 deg
    assert s["HJC witness (band only)"]["corr"] > s["sacral floor"]["corr"] + 0.1
    # a stride average loses the real drop: per-stance peaks biased low by more than 2 deg
    assert s["stride average"]["peaks"]["bias_deg"] < -2.0
