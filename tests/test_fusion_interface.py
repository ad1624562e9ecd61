"""The OrientationFilter contract: names, chunking, reset, input checks, health state."""

from __future__ import annotations

import numpy as np
import pytest

from hipmon import rotations as R
from hipmon.fusion import (
    DEFAULT_FILTER,
    FILTER_NAMES,
    FusionInputError,
    estimate_orientation,
)
from hipmon.fusion import make_filter as _make_filter
from hipmon.fusion.evaluation import align_heading, error_angles_rad, rmse_deg


def make_filter(name, rate_hz, **params):
    """These tests check every adapter, the refused ahrs 9D variants included (REFUSED only keeps
    hipmon from running them; their frame and trap handling must still be right)."""
    return _make_filter(name, rate_hz, allow_refused=True, **params)


RATE = 200.0


def moving_sensor(n: int = 1200, seed: int = 0):
    """A sensor wandering through orientations with noisy measurements (acc m/s², gyr rad/s, mag µT)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    gyr = np.stack([1.5 * np.sin(2.1 * t), 1.0 * np.cos(1.3 * t + 0.5), 2.0 * np.sin(0.7 * t)], axis=1)
    q = R.integrate_gyr(np.array([1.0, 0, 0, 0]), gyr, 1 / RATE)[1:]
    acc = R.rotate(R.conjugate(q), np.array([0.0, 0.0, 9.81])) + rng.normal(0, 0.05, (n, 3))
    mag = R.rotate(R.conjugate(q), np.array([0.0, 18.0, -46.0])) + rng.normal(0, 0.3, (n, 3))
    return acc, gyr + rng.normal(0, 0.002, (n, 3)), mag, q


def test_default_is_vqf_6d():
    f = make_filter(DEFAULT_FILTER, RATE)
    assert DEFAULT_FILTER == "vqf" and f.name == "vqf" and not f.use_mag and f.rate_hz == RATE
    assert make_filter("vqf", RATE, use_mag=True).name == "vqf9d"
    assert make_filter("VQF9D", RATE).use_mag
    assert make_filter("madgwick6d", RATE).name == "madgwick"


def test_unknown_name_and_bad_rate():
    with pytest.raises(ValueError, match="unknown filter"):
        make_filter("kalman", RATE)
    with pytest.raises(ValueError):
        make_filter("vqf", 0.0)


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_chunked_updates_equal_one_call(name):
    acc, gyr, mag, _ = moving_sensor(600)
    whole = make_filter(name, RATE).update(acc, gyr, mag)
    f = make_filter(name, RATE)
    cuts = [0, 1, 2, 57, 300, 301, 600]
    parts = [f.update(acc[a:b], gyr[a:b], mag[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_reset_restarts_and_output_is_unit_scalar_first(name):
    acc, gyr, mag, q_true = moving_sensor(400)
    f = make_filter(name, RATE)
    first = f.update(acc, gyr, mag)
    f.update(acc[::-1].copy(), -gyr, mag)  # disturb the state
    f.reset()
    again = f.update(acc, gyr, mag)
    np.testing.assert_allclose(again, first, rtol=0, atol=1e-12)
    assert again.shape == (400, 4)
    np.testing.assert_allclose(np.linalg.norm(again, axis=1), 1.0, atol=1e-9)
    assert np.all(again[:, 0] >= 0)
    # scalar first: the inclination against the truth is small (a reordered quaternion is not)
    err = np.degrees(error_angles_rad(again[200:], q_true[200:])["inclination"])
    assert np.sqrt(np.mean(err**2)) < 3.0, name


def test_estimate_orientation_is_make_filter_update():
    acc, gyr, mag, _ = moving_sensor(300)
    np.testing.assert_array_equal(estimate_orientation(acc, gyr, RATE), make_filter("vqf", RATE).update(acc, gyr))
    np.testing.assert_array_equal(
        estimate_orientation(acc, gyr, RATE, mag=mag, method="madgwick9d", allow_refused=True),
        make_filter("madgwick9d", RATE).update(acc, gyr, mag),
    )


def test_6d_filter_ignores_the_magnetometer():
    acc, gyr, mag, _ = moving_sensor(300)
    np.testing.assert_array_equal(make_filter("vqf", RATE).update(acc, gyr, mag),
                                  make_filter("vqf", RATE).update(acc, gyr, None))


@pytest.mark.parametrize("name", ["vqf", "ekf9d"])
def test_input_checks(name):
    f = make_filter(name, RATE)
    acc, gyr, mag, _ = moving_sensor(10)
    with pytest.raises(FusionInputError):
        f.update(acc[:, :2], gyr[:, :2], mag[:, :2])
    with pytest.raises(FusionInputError):
        f.update(acc, gyr[:5], mag)
    bad = acc.copy()
    bad[3, 1] = np.nan
    with pytest.raises(FusionInputError, match="non-finite"):
        f.update(bad, gyr, mag)
    assert f.update(acc[:0], gyr[:0], mag[:0]).shape == (0, 4)
    if f.use_mag:
        with pytest.raises(FusionInputError, match="mag"):
            f.update(acc, gyr, None)


def test_vqf_rest_detection_and_bias_estimate():
    """A sensor at rest with a 0.02 rad/s gyroscope bias: VQF detects rest, learns the bias, and
    its heading stays put; with bias estimation off the heading drifts at the bias rate."""
    n = int(30 * RATE)
    rng = np.random.default_rng(3)
    bias = np.array([0.01, -0.005, 0.02])
    acc = np.tile([0.0, 0.0, 9.81], (n, 1)) + rng.normal(0, 0.02, (n, 3))
    gyr = bias + rng.normal(0, 0.002, (n, 3))
    f = make_filter("vqf", RATE)
    q = f.update(acc, gyr)
    st = f.state()
    assert st["rest_detected"] and f.flags["rest"][-1] and not f.flags["rest"][0]
    np.testing.assert_allclose(st["bias_rad_s"], bias, atol=1e-3)
    assert f.flags["bias_rad_s"].shape == (n, 3)
    # heading change over the last 10 s (after rest was detected): tiny with bias estimation
    drift_on = R.angle_between_deg(q[-1], q[-int(10 * RATE)])
    g = make_filter("vqf", RATE, restBiasEstEnabled=False, motionBiasEstEnabled=False)
    q_off = g.update(acc, gyr)
    drift_off = R.angle_between_deg(q_off[-1], q_off[-int(10 * RATE)])
    assert drift_on < 0.5
    assert drift_off == pytest.approx(np.degrees(0.02 * 10), rel=0.1)  # z-bias 0.02 rad/s for 10 s
    np.testing.assert_array_equal(g.state()["bias_rad_s"], 0.0)


def test_vqf9d_reports_magnetic_disturbance():
    """A field that suddenly changes strength and direction is flagged as disturbed."""
    acc, gyr, mag, _ = moving_sensor(int(30 * RATE), seed=5)
    mag = mag.copy()
    mag[-int(5 * RATE):] += np.array([40.0, -30.0, 20.0])  # a magnet next to the sensor
    f = make_filter("vqf9d", RATE)
    f.update(acc, gyr, mag)
    assert not f.flags["mag_disturbed"][int(20 * RATE)]
    assert f.flags["mag_disturbed"][-1] and f.state()["mag_disturbed"]
    assert f.state()["mag_ref_dip_deg"] == pytest.approx(np.degrees(np.arctan2(46, 18)), abs=3.0)


def test_error_metrics_split_heading_and_inclination():
    rng = np.random.default_rng(0)
    q_true = R.normalize(rng.normal(size=(50, 4)))
    zero = error_angles_rad(q_true, q_true)
    assert max(np.max(v) for v in zero.values()) < 1e-6
    # a pure heading offset of 10° in the earth frame: heading 10°, inclination 0
    q_h = R.multiply(R.from_axis_angle([0, 0, 1], np.radians(10)), q_true)
    e = {k: np.degrees(v) for k, v in error_angles_rad(q_h, q_true).items()}
    np.testing.assert_allclose(e["heading"], 10, atol=1e-6)
    np.testing.assert_allclose(e["inclination"], 0, atol=1e-5)
    np.testing.assert_allclose(e["total"], 10, atol=1e-6)
    # a pure tilt of 5° about earth x: inclination 5°, heading 0
    q_t = R.multiply(R.from_axis_angle([1, 0, 0], np.radians(5)), q_true)
    e = {k: np.degrees(v) for k, v in error_angles_rad(q_t, q_true).items()}
    np.testing.assert_allclose(e["inclination"], 5, atol=1e-6)
    np.testing.assert_allclose(e["heading"], 0, atol=1e-5)
    # heading alignment removes an offset but keeps the tilt
    q_ht = R.multiply(R.from_axis_angle([0, 0, 1], np.radians(70)), q_t)
    aligned = align_heading(q_ht, q_true, 0)
    np.testing.assert_allclose(np.degrees(error_angles_rad(aligned, q_true)["total"]), 5, atol=1e-5)
    assert rmse_deg(np.radians([3.0, 4.0, np.nan]), np.array([True, True, True])) == pytest.approx(
        np.sqrt(12.5)
    )
