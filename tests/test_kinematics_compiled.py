"""The pipeline's compiled kinematics passes (hipmon.kinematics.segment_frames, acc_global,
angles_deg) give the numpy formulas' numbers bit for bit: random orientations (unit and not,
near the arcsin's ±1 edge, NaN rows), random rates, lost and absent sensors."""

from __future__ import annotations

import numpy as np
import pytest

from hipmon import kinematics as kin
from hipmon import rotations as rot
from hipmon.calibration import segment_orientation


def _quats(rng: np.random.Generator, n: int, unit: bool = True) -> np.ndarray:
    q = rng.normal(size=(n, 4))
    if unit:
        q = rot.normalize(q)
    q[rng.integers(0, n, 3)] = np.nan
    # gimbal-lock neighbourhood: rotations of ±90 deg about X (pelvis, hip adduction's arcsin at ±1)
    k = rng.integers(0, n, 20)
    q[k] = rot.from_axis_angle(np.array([1.0, 0.0, 0.0]), rng.choice([-1, 1], 20) * np.pi / 2 + rng.normal(0, 1e-9, 20))
    return q


@pytest.mark.parametrize("seed", range(5))
def test_segment_frames_and_acc_global(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    q_se = _quats(rng, n, unit=bool(seed % 2))
    q_ss, q_ge = rot.normalize(rng.normal(size=4)), rot.normalize(rng.normal(size=4))
    q_se[0] = 0.0  # no orientation: NaN as numpy's division by zero gives (not an exception)
    gyr, acc = rng.normal(size=(n, 3)) * 5, rng.normal(size=(n, 3)) * 20
    q, g = kin.segment_frames(q_se, q_ss, q_ge, gyr)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(q, segment_orientation(q_se, q_ss, q_ge))
    assert np.isnan(q[0]).all()
    np.testing.assert_array_equal(g, rot.rotate(q_ss, gyr))
    np.testing.assert_array_equal(kin.acc_global(q, q_ss, acc), rot.rotate(rot.multiply(q, q_ss), acc))


@pytest.mark.parametrize("seed", range(5))
def test_angles_deg(seed):
    rng = np.random.default_rng(10 + seed)
    n = int(rng.integers(1, 3000))
    qp, ql, qr = (_quats(rng, n, unit=bool(seed % 2)) for _ in range(3))
    valid = {p: rng.uniform(size=n) > 0.1 for p in ("pelvis", "left_thigh", "right_thigh")}
    want = np.concatenate([np.degrees(kin.pelvis_angles_rad(qp)), np.degrees(kin.hip_angles_rad(qp, ql, "left")),
                           np.degrees(kin.hip_angles_rad(qp, qr, "right"))], axis=1)
    want[~valid["pelvis"], :3] = np.nan
    want[~(valid["pelvis"] & valid["left_thigh"]), 3:6] = np.nan
    want[~(valid["pelvis"] & valid["right_thigh"]), 6:] = np.nan
    np.testing.assert_array_equal(kin.angles_deg(qp, {"left_thigh": ql, "right_thigh": qr}, valid), want)
    np.testing.assert_array_equal(kin.all_angles_deg(qp, ql, qr)[valid["pelvis"] & valid["left_thigh"]
                                                                 & valid["right_thigh"]],
                                  want[valid["pelvis"] & valid["left_thigh"] & valid["right_thigh"]])
    # a thigh absent: its columns NaN throughout, the others as before
    got = kin.angles_deg(qp, {"right_thigh": qr}, valid)
    assert np.isnan(got[:, 3:6]).all()
    np.testing.assert_array_equal(got[:, [0, 1, 2, 6, 7, 8]], want[:, [0, 1, 2, 6, 7, 8]])
