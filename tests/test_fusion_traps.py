"""Frames, units, quaternion order, settings and initialisation of every fusion adapter.

Synthetic sensors with exactly known orientation: the specific force and the
magnetic field are the earth-frame vectors rotated into the sensor frame by the
true ``q_sensor_earth``, so any frame, sign, unit or ordering mistake in an
adapter shows up as a large error against the truth.
"""

from __future__ import annotations

import numpy as np
import pytest

from hipmon import rotations as R
from hipmon.fusion import FILTER_NAMES
from hipmon.fusion import make_filter as _make_filter
from hipmon.fusion.evaluation import error_angles_rad


def make_filter(name, rate_hz, **params):
    """These tests check every adapter, the refused ahrs 9D variants included (REFUSED only keeps
    hipmon from running them; their frame and trap handling must still be right)."""
    return _make_filter(name, rate_hz, allow_refused=True, **params)


RATE = 100.0
G_ENU = np.array([0.0, 0.0, 9.81])  # specific force at rest, up
MAG_ENU = np.array([0.0, 18.0, -46.0])  # µT, Berlin-like: dip about 69° downward, north = +y
NAMES_6D = [n for n in FILTER_NAMES if not n.endswith("9d")]
NAMES_9D = [n for n in FILTER_NAMES if n.endswith("9d")]


def sensor_data(q_sensor_earth: np.ndarray, gyr: np.ndarray | None = None):
    """acc (N, 3) m/s², gyr (N, 3) rad/s, mag (N, 3) µT measured by a sensor at these orientations."""
    q_earth_sensor = R.conjugate(q_sensor_earth)
    acc = R.rotate(q_earth_sensor, np.broadcast_to(G_ENU, (len(q_sensor_earth), 3)))
    mag = R.rotate(q_earth_sensor, np.broadcast_to(MAG_ENU, (len(q_sensor_earth), 3)))
    if gyr is None:
        gyr = np.zeros((len(q_sensor_earth), 3))
    return acc, gyr, mag


def heading_rad(q_sensor_earth: np.ndarray) -> np.ndarray:
    """Heading of the sensor x axis in the earth frame: atan2(y, x), counter-clockwise from x."""
    x = R.rotate(q_sensor_earth, np.array([1.0, 0.0, 0.0]))
    return np.arctan2(x[..., 1], x[..., 0])


# A static sensor tilted 30° about x then 20° about y, heading 40° (sensor x 40° CCW from east).
Q_TILT = R.multiply(
    R.from_axis_angle([0, 0, 1], np.radians(40)),
    R.multiply(R.from_axis_angle([0, 1, 0], np.radians(20)), R.from_axis_angle([1, 0, 0], np.radians(30))),
)


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_static_tilt_gives_the_true_inclination(name):
    """Earth z is up (not down, as raw ahrs EKF/NED would give) and the tilt is recovered."""
    q_true = np.tile(Q_TILT, (500, 1))
    acc, gyr, mag = sensor_data(q_true)
    q = make_filter(name, RATE).update(acc, gyr, mag)
    err = np.degrees(error_angles_rad(q, q_true)["inclination"])
    assert np.max(err[-100:]) < 0.2, name
    # Specific force maps to +z (up) in the earth frame.
    up = R.rotate(q[-1], acc[-1])
    assert up[2] > 9.8 and np.hypot(up[0], up[1]) < 0.05


@pytest.mark.parametrize("name", NAMES_9D)
def test_9d_heading_is_enu_magnetic_north(name):
    """Static, tilted sensor heading 40°: a 9D filter's full orientation equals the ENU truth.

    Madgwick's own frame is North-West-Up (90° off) and the EKF's default is NED
    with a Munich field: this fails unless the adapter converts.
    """
    q_true = np.tile(Q_TILT, (500, 1))
    acc, gyr, mag = sensor_data(q_true)
    q = make_filter(name, RATE).update(acc, gyr, mag)
    total = np.degrees(error_angles_rad(q, q_true)["total"])
    assert np.max(total[-100:]) < 0.5, name


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_rotation_about_sensor_z_turns_heading_counter_clockwise(name):
    """Flat sensor spinning at +90°/s about its z (up) for 2 s: heading +180°, right sign and units.

    A deg/s-for-rad/s mistake gives 57× the angle; a frame with z down gives the opposite sign.
    """
    n = int(2 * RATE)
    rate = np.pi / 2  # rad/s
    gyr = np.tile([0.0, 0.0, rate], (n, 1))
    q_true = R.integrate_gyr(np.array([1.0, 0, 0, 0]), gyr, 1 / RATE)[1:]
    acc, _, mag = sensor_data(q_true)
    q = make_filter(name, RATE).update(acc, gyr, mag)
    turned = np.unwrap(heading_rad(q))
    steps = np.diff(turned)
    assert np.all(steps > 0), name  # always counter-clockwise seen from above
    # 1 s of rotation = 90°, measured between two samples well after the start
    assert np.degrees(turned[150] - turned[50]) == pytest.approx(90.0, abs=1.0)
    if name.endswith("9d"):
        total = np.degrees(error_angles_rad(q, q_true)["total"])
        assert np.max(total) < 1.0, name


@pytest.mark.parametrize("family", ["madgwick", "mahony", "ekf"])
@pytest.mark.parametrize("nine", [False, True])
def test_ahrs_adapters_converge_from_a_wrong_start_even_with_zero_gyro(family, nine):
    """Start 30° off in tilt, sensor at rest with an exactly-zero gyroscope.

    ahrs Madgwick/Mahony skip their accelerometer correction when |gyr| == 0, so
    they would stay 30° off for ever; the adapter makes them converge.
    """
    q_true = np.tile(Q_TILT, (3000, 1))
    acc, gyr, mag = sensor_data(q_true)
    q0 = R.multiply(R.from_axis_angle([1, 0, 0], np.radians(30)), Q_TILT)
    gains = {"madgwick": {"gain": 0.1}, "mahony": {}, "ekf": {}}[family]
    f = make_filter(family + ("9d" if nine else ""), RATE, q0=q0, **gains)
    q = f.update(acc, gyr, mag)
    err = np.degrees(error_angles_rad(q, q_true)["inclination"])
    if family != "ekf":  # the EKF starts with P = I and corrects most of it in its first step
        assert err[0] > 25.0
    assert err[-1] < 1.0, (family, nine, err[-1])


def _convergence_error(name: str, **params) -> float:
    """Inclination error (deg) 0.5 s after starting 30° off (static sensor, small gyro noise)."""
    rng = np.random.default_rng(1)
    q_true = np.tile(Q_TILT, (50, 1))
    acc, gyr, mag = sensor_data(q_true)
    gyr = gyr + rng.normal(0, 1e-3, gyr.shape)
    q0 = R.multiply(R.from_axis_angle([1, 0, 0], np.radians(30)), Q_TILT)
    q = make_filter(name, RATE, q0=q0, **params).update(acc, gyr, mag)
    return float(np.degrees(error_angles_rad(q[-1:], q_true[-1:])["inclination"][0]))


@pytest.mark.parametrize(
    "name, slow, fast",
    [
        ("madgwick", {"gain": 0.01}, {"gain": 1.0}),
        ("madgwick9d", {"gain": 0.01}, {"gain": 1.0}),  # ahrs ignores gain_marg; the adapter passes gain
        ("mahony", {"k_P": 0.1}, {"k_P": 3.0}),
        ("ekf", {"var_acc": 10.0}, {"var_acc": 0.01}),
    ],
)
def test_gains_passed_to_ahrs_really_change_the_output(name, slow, fast):
    e_slow, e_fast = _convergence_error(name, **slow), _convergence_error(name, **fast)
    assert e_slow > 1.0 and e_fast < 0.5 * e_slow, (e_slow, e_fast)


def test_vqf_settings_are_taken():
    """tauAcc changes how fast VQF's inclination follows a sudden tilt (acc step, no gyro)."""
    n = int(4 * RATE)
    q_true = np.tile(Q_TILT, (n, 1))
    acc, gyr, _ = sensor_data(q_true)
    flat_acc = np.tile(G_ENU, (n, 1))
    acc = np.concatenate([flat_acc, acc])
    gyr = np.zeros_like(acc)
    errs = {}
    for tau in (0.5, 5.0):
        f = make_filter("vqf", RATE, tauAcc=tau, restBiasEstEnabled=False, motionBiasEstEnabled=False)
        assert f._vqf.params["tauAcc"] == tau
        q = f.update(acc, gyr)
        errs[tau] = float(np.degrees(error_angles_rad(q[-1:], q_true[-1:])["inclination"][0]))
    assert errs[0.5] < 1.0 and errs[5.0] > 5.0, errs


@pytest.mark.parametrize("family", ["vqf", "madgwick", "mahony", "ekf"])
def test_unknown_parameters_are_rejected_not_ignored(family):
    with pytest.raises(TypeError):
        make_filter(family, RATE, gain_marg=0.5, beta=0.2, kp=1.0, tau_acc=1.0)


def test_ahrs_traps_still_exist_in_the_library():
    """The library behaviours the adapters work around (fails if ahrs changes them)."""
    from ahrs.filters import EKF, Madgwick

    assert Madgwick(frequency=RATE, gain_marg=0.5).gain == pytest.approx(0.033)  # gain_marg ignored
    ekf = EKF(frequency=RATE)
    assert ekf.frame == "NED" and np.allclose(ekf.a_ref, [0, 0, 1])  # gravity reference points down
    # Raw ahrs EKF fed specific force: the "NED" output has z pointing *up*.
    acc, gyr, _ = sensor_data(np.tile(Q_TILT, (200, 1)))
    q = EKF(gyr=gyr, acc=acc, frequency=RATE).Q
    assert R.rotate(q[-1], acc[-1])[2] > 9.0
