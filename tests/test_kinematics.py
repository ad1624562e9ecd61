"""Angle conventions of DESIGN.md section 2: known poses give known numbers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from hipmon import kinematics as kin
from hipmon import rotations as rot

X, Y, Z = np.eye(3)
deg = np.radians


def test_quaternion_maps_segment_vectors_to_global():
    # 90° about global Y (up): the segment's right axis (Z) points forward (X).
    q = rot.from_axis_angle(Y, np.pi / 2)
    assert np.allclose(rot.rotate(q, Z), X, atol=1e-12)
    assert np.allclose(rot.matrix(q) @ Z, X, atol=1e-12)
    # agrees with scipy (scalar last)
    r = Rotation.from_quat(np.roll(q, -1))
    assert np.allclose(r.as_matrix(), rot.matrix(q))


def test_pelvis_right_side_up_is_positive_obliquity():
    # Rotate the pelvis about the forward axis so its right side (Z) goes up (+Y).
    q = rot.from_axis_angle(X, -deg(10))
    assert rot.rotate(q, Z)[1] > 0
    tilt, obl, yaw = np.degrees(kin.pelvis_angles_rad(q[None]))[0]
    assert obl == pytest.approx(10.0)
    assert tilt == pytest.approx(0.0, abs=1e-9) and yaw == pytest.approx(0.0, abs=1e-9)


def test_pelvis_anterior_tilt_and_right_forward_rotation_are_positive():
    # Anterior tilt: the pelvis's anterior axis (X) points down.
    q = rot.from_axis_angle(Z, -deg(12))
    assert rot.rotate(q, X)[1] < 0
    assert np.degrees(kin.pelvis_angles_rad(q[None]))[0, 0] == pytest.approx(12.0)
    # Right side forward: the pelvis's right axis (Z) gains a forward (+X) component.
    q = rot.from_axis_angle(Y, deg(8))
    assert rot.rotate(q, Z)[0] > 0
    assert np.degrees(kin.pelvis_angles_rad(q[None]))[0, 2] == pytest.approx(8.0)


def _thigh(q_thigh_pelvis, q_pelvis=None):
    q_pelvis = rot.from_axis_angle(Y, 0.0) if q_pelvis is None else q_pelvis
    return q_pelvis[None], rot.multiply(q_pelvis, q_thigh_pelvis)[None]


@pytest.mark.parametrize("side,medial", [("right", -1.0), ("left", 1.0)])
def test_hip_adduction_moves_the_knee_medially_positive_on_both_sides(side, medial):
    knee = -Y  # hip -> knee along the thigh
    # find the rotation about the anterior axis that moves the knee medially by 10°
    for angle in (deg(10), -deg(10)):
        q = rot.from_axis_angle(X, angle)
        if np.sign(rot.rotate(q, knee)[2]) == medial:
            break
    qp, qt = _thigh(q)
    flex, add, ir = np.degrees(kin.hip_angles_rad(qp, qt, side))[0]
    assert add == pytest.approx(10.0)
    assert flex == pytest.approx(0.0, abs=1e-9) and ir == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("side,medial", [("right", -1.0), ("left", 1.0)])
def test_hip_internal_rotation_turns_the_front_of_the_thigh_medially(side, medial):
    for angle in (deg(15), -deg(15)):
        q = rot.from_axis_angle(Y, angle)
        if np.sign(rot.rotate(q, X)[2]) == medial:
            break
    qp, qt = _thigh(q)
    assert np.degrees(kin.hip_angles_rad(qp, qt, side))[0, 2] == pytest.approx(15.0)


@pytest.mark.parametrize("side", ["left", "right"])
def test_hip_flexion_moves_the_knee_forward_on_both_sides(side):
    q = rot.from_axis_angle(Z, deg(30))
    assert rot.rotate(q, -Y)[0] > 0
    qp, qt = _thigh(q)
    assert np.degrees(kin.hip_angles_rad(qp, qt, side))[0, 0] == pytest.approx(30.0)


def test_hip_angles_are_relative_to_the_pelvis():
    # The same hip pose under any pelvis orientation gives the same hip angles.
    q_tp = kin.hip_orientation(deg(20), deg(7), deg(-5), "right")
    q_p = kin.pelvis_orientation(deg(10), deg(-4), deg(30))
    assert q_tp.shape == (4,) and q_p.shape == (4,)
    qp, qt = _thigh(q_tp, q_p)
    assert np.allclose(np.degrees(kin.hip_angles_rad(qp, qt, "right"))[0], [20, 7, -5])


angle = st.floats(-60, 60)


@settings(max_examples=200, deadline=None)
@given(angle, angle, angle, angle, st.floats(-80, 80), angle, st.sampled_from(["left", "right"]))
def test_angles_round_trip(tilt, obl, yaw, flex, add, ir, side):
    q_p = kin.pelvis_orientation(deg(tilt), deg(obl), deg(yaw))
    assert np.allclose(np.degrees(kin.pelvis_angles_rad(q_p)), [tilt, obl, yaw], atol=1e-7)
    q_tp = kin.hip_orientation(deg(flex), deg(add), deg(ir), side)
    q_t = rot.multiply(q_p, q_tp)
    assert np.allclose(np.degrees(kin.hip_angles_rad(q_p, q_t, side)), [flex, add, ir], atol=1e-7)


def test_cardan_sequences_match_scipy_intrinsic_sequences():
    rng = np.random.default_rng(1)
    a = rng.uniform(-0.8, 0.8, size=(50, 3))
    # pelvis: intrinsic Y, X, Z with (rot, -obl, -tilt)
    q = kin.pelvis_orientation(a[:, 0], a[:, 1], a[:, 2])
    r = Rotation.from_euler("YXZ", np.stack([a[:, 2], -a[:, 1], -a[:, 0]], 1))
    assert np.allclose(rot.matrix(q), r.as_matrix())
    # right hip: intrinsic Z, X, Y
    q = kin.hip_orientation(a[:, 0], a[:, 1], a[:, 2], "right")
    assert np.allclose(rot.matrix(q), Rotation.from_euler("ZXY", a).as_matrix())


def test_contralateral_drop_sign():
    # right stance, left side drops => right higher => positive obliquity => positive drop
    assert kin.contralateral_pelvic_drop_deg(np.array([6.0]), "right")[0] == 6.0
    assert kin.contralateral_pelvic_drop_deg(np.array([-6.0]), "left")[0] == 6.0


def test_rotation_helpers_round_trip():
    rng = np.random.default_rng(2)
    q = rot.normalize(rng.normal(size=(100, 4)))
    q = np.where(q[:, :1] < 0, -q, q)
    assert np.allclose(rot.from_matrix(rot.matrix(q)), q)
    assert np.allclose(np.abs(np.sum(rot.from_rotvec(rot.to_rotvec(q)) * q, 1)), 1.0)
    # integrating a constant rate about Y for 1 s at 90°/s turns by 90°
    out = rot.integrate_gyr(np.array([1.0, 0, 0, 0]), np.tile([0, np.pi / 2 / 100, 0], (100, 1)) * 100, 0.01)
    assert rot.angle_between_deg(out[-1], rot.from_axis_angle(Y, np.pi / 2)) < 1e-9
