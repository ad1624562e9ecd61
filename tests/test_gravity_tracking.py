"""``calibration.gravity_tracking_error_deg`` (the mirrored-sensor check of walking calibrations)
is a compiled loop (issue 16: the session-7 numpy loop took 27 ms per 500 samples): the number the
``np.cross`` loop it replaced gave, to the last bits (its norms and dot products sum x, y, z in
order; numpy's BLAS may pair them otherwise), and the true handedness tracks best."""

from __future__ import annotations

import numpy as np
import pytest

from hipmon.calibration import gravity_tracking_error_deg
from hipmon.hip_joint import low_pass


def _reference(acc_sensor, gyr_sensor, rate_hz, handedness=1, tau_s=3.0) -> float:
    """The loop as it was (session 7): ``np.cross`` per sample."""
    a = low_pass(np.asarray(acc_sensor, float), rate_hz, 2.0)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    w = np.asarray(gyr_sensor, float) * float(handedness)
    dt = 1.0 / rate_hz
    k = min(dt / tau_s, 1.0)
    g = a[0].copy()
    err2 = 0.0
    for i in range(a.shape[0]):
        g = g + dt * np.cross(g, w[i]) + k * (a[i] - g)
        g /= np.linalg.norm(g)
        c = min(1.0, max(-1.0, float(g @ a[i])))
        err2 += np.arccos(c) ** 2
    return float(np.degrees(np.sqrt(err2 / max(a.shape[0], 1))))


@pytest.mark.parametrize("seed", range(6))
def test_the_number_the_np_cross_loop_gave(seed):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        n = int(rng.integers(20, 400))
        acc = rng.normal(size=(n, 3)) * 10 ** rng.uniform(-3, 2) + np.array([0.0, 0.0, 9.81]) * rng.uniform(0, 2)
        gyr = rng.normal(size=(n, 3)) * 10 ** rng.uniform(-2, 1)
        rate = float(rng.choice([52.0, 100.0, 104.0, 208.0]))
        for h in (1, -1):
            assert gravity_tracking_error_deg(acc, gyr, rate, h) == pytest.approx(_reference(acc, gyr, rate, h),
                                                                                  rel=1e-9, abs=1e-12)


def test_the_true_handedness_tracks_gravity_best():
    """A sensor turning about a tilted axis: gravity seen from it follows dg/dt = g × ω (right-handed)."""
    rate, n = 100.0, 600
    t = np.arange(n) / rate
    w = np.column_stack([1.5 * np.sin(2 * np.pi * 0.8 * t), 1.0 * np.cos(2 * np.pi * 0.5 * t), 0.3 + 0 * t])
    g = np.array([0.0, 0.0, 1.0])
    acc = np.empty((n, 3))
    for i in range(n):  # exact rotation of the world vector into the turning frame (small steps)
        acc[i] = 9.81 * g
        g = g + np.cross(g, w[i]) / rate
        g /= np.linalg.norm(g)
    right, left = gravity_tracking_error_deg(acc, w, rate, +1), gravity_tracking_error_deg(acc, w, rate, -1)
    assert right < 2.0 and left > 3 * right, (right, left)
