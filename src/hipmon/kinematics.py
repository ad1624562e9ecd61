"""Pelvis and hip angles in the conventions of DESIGN.md section 2 (ISB, Wu et al. 2002).

Frames: global X forward (direction faced at calibration), Y up, Z right;
segment frames (pelvis, left thigh, right thigh) X anterior, Y superior, Z right.
Orientations are ``q_segment_global`` / ``R_segment_global`` (segment → global).

Pelvis: Cardan Y → X → Z of the pelvis relative to global (Baker 2001):
``R_pelvis_global = Ry(rot) · Rx(x) · Rz(z)`` with, at the edge,
``pelvis_rotation = rot`` (right side forward +), ``pelvis_obliquity = −x``
(right side up +), ``pelvis_tilt = −z`` (anterior tilt +).

Hip: Cardan Z → X → Y of the thigh relative to the pelvis (ISB JCS):
``R_thigh_pelvis = Rz(a) · Rx(b) · Ry(c)``; flexion = ``a`` on both sides;
adduction = ``b`` right, ``−b`` left; internal rotation = ``c`` right, ``−c`` left.

Sign table (rad inside the code, degrees only at the edge):

=====================  ==============  =====================  =====================
angle                  rotation axis   right side / pelvis     left side
=====================  ==============  =====================  =====================
pelvis_tilt            pelvis Z        −z (anterior +)         –
pelvis_obliquity       floating X      −x (right side up +)    –
pelvis_rotation        global Y        +rot (right fwd +)      –
hip_flexion            pelvis Z        +a                      +a
hip_adduction          floating X      +b                      −b
hip_internal_rotation  thigh Y         +c                      −c
=====================  ==============  =====================  =====================
"""

from __future__ import annotations

import numpy as np

from hipmon import kinematics_kernels as kk
from hipmon import rotations as rot
from hipmon.types import ANGLE_COLUMNS

_SIDE_SIGN = {"right": 1.0, "left": -1.0}


def _rx(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


# ---------------------------------------------------------------- orientations -> angles


def pelvis_angles_rad(q_pelvis_global: np.ndarray) -> np.ndarray:
    """Pelvis (tilt, obliquity, rotation) in rad, (N, 3), from ``q_pelvis_global`` (N, 4)."""
    m = rot.matrix(q_pelvis_global)
    x = np.arcsin(np.clip(-m[..., 1, 2], -1.0, 1.0))
    z = np.arctan2(m[..., 1, 0], m[..., 1, 1])
    y = np.arctan2(m[..., 0, 2], m[..., 2, 2])
    return np.stack([-z, -x, y], axis=-1)


def hip_angles_rad(q_pelvis_global: np.ndarray, q_thigh_global: np.ndarray, side: str) -> np.ndarray:
    """Hip (flexion, adduction, internal rotation) in rad, (N, 3), of ``side`` ("left"/"right")."""
    sign = _SIDE_SIGN[side]
    q_thigh_pelvis = rot.multiply(rot.conjugate(q_pelvis_global), q_thigh_global)
    m = rot.matrix(q_thigh_pelvis)
    b = np.arcsin(np.clip(m[..., 2, 1], -1.0, 1.0))
    a = np.arctan2(-m[..., 0, 1], m[..., 1, 1])
    c = np.arctan2(-m[..., 2, 0], m[..., 2, 2])
    return np.stack([a, sign * b, sign * c], axis=-1)


def all_angles_deg(q_pelvis_global: np.ndarray, q_left_global: np.ndarray, q_right_global: np.ndarray) -> np.ndarray:
    """The nine ANGLES.csv columns (after ``time_s``) in degrees, (N, 9), in ``ANGLE_COLUMNS`` order."""
    out = np.concatenate(
        [
            pelvis_angles_rad(q_pelvis_global),
            hip_angles_rad(q_pelvis_global, q_left_global, "left"),
            hip_angles_rad(q_pelvis_global, q_right_global, "right"),
        ],
        axis=-1,
    )
    assert out.shape[-1] == len(ANGLE_COLUMNS)
    return np.degrees(out)


# ---------------------------------------------------------------- the pipeline's compiled passes


def segment_frames(q_sensor_earth: np.ndarray, q_sensor_segment: np.ndarray, q_global_earth: np.ndarray,
                   gyr_sensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``q_segment_global`` (N, 4) (``calibration.segment_orientation``) and the angular rate in
    the segment frame (N, 3) (``rotate(q_sensor_segment, gyr_sensor)``) of one sensor's
    ``q_sensor_earth`` (N, 4) and ``gyr_sensor`` (N, 3): one compiled pass, the same numbers."""
    q = np.ascontiguousarray(q_sensor_earth, dtype=float)
    g = np.ascontiguousarray(gyr_sensor, dtype=float)
    q_out, g_out = np.empty(q.shape), np.empty(g.shape)
    q_ss = np.ascontiguousarray(q_sensor_segment, dtype=float)
    kk.segment_frames(q, rot.conjugate(q_global_earth), rot.conjugate(q_ss), q_ss, g, q_out, g_out)
    return q_out, g_out


def acc_global(q_segment_global: np.ndarray, q_sensor_segment: np.ndarray, acc_sensor: np.ndarray) -> np.ndarray:
    """The acceleration (N, 3) in the global frame: ``rotate(multiply(q_segment_global,
    q_sensor_segment), acc_sensor)`` in one compiled pass, the same numbers."""
    out = np.empty(np.shape(acc_sensor))
    kk.sensor_acc_global(np.ascontiguousarray(q_segment_global, dtype=float),
                         np.ascontiguousarray(q_sensor_segment, dtype=float),
                         np.ascontiguousarray(acc_sensor, dtype=float), out)
    return out


def angles_deg(q_pelvis_global: np.ndarray, q_thigh_global: dict, valid: dict) -> np.ndarray:
    """The nine ANGLES.csv columns (N, 9) in degrees, as ``all_angles_deg`` computes them (the
    same numbers): the products in compiled passes, numpy's ``arcsin``/``arctan2`` on their
    arguments. ``q_thigh_global``: ``"left_thigh"``/``"right_thigh"`` -> (N, 4), either may be
    absent; ``valid``: placement -> (N,) bool. NaN where a column lacks data: the pelvis's where
    the pelvis has none, a hip's where the pelvis or its thigh has none or the thigh is absent."""
    qp = np.ascontiguousarray(q_pelvis_global, dtype=float)
    n = qp.shape[0]
    angles = np.full((n, len(ANGLE_COLUMNS)), np.nan)
    args, raw = np.empty((5, n)), np.empty((3, n))
    vp = np.asarray(valid["pelvis"], dtype=bool)
    for col, p, sign in ((0, "pelvis", 1.0), (3, "left_thigh", -1.0), (6, "right_thigh", 1.0)):
        if p not in q_thigh_global and p != "pelvis":
            continue
        qt = qp if p == "pelvis" else np.ascontiguousarray(q_thigh_global[p], dtype=float)
        kk.angle_arguments(qp, qt, p != "pelvis", args)
        np.arcsin(args[0], out=raw[0])
        np.arctan2(args[1], args[2], out=raw[1])
        np.arctan2(args[3], args[4], out=raw[2])
        v = vp if p == "pelvis" else vp & np.asarray(valid[p], dtype=bool)
        kk.store_degrees(raw, p == "pelvis", sign, v, angles, col)
    return angles


# ---------------------------------------------------------------- angles -> orientations


def pelvis_orientation(tilt_rad, obliquity_rad, rotation_rad) -> np.ndarray:
    """``q_pelvis_global`` (N, 4) from pelvis angles in rad, arrays (N,); scalars give (4,)."""
    tilt, obl, yaw = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (tilt_rad, obliquity_rad, rotation_rad)))
    m = _ry(yaw) @ _rx(-obl) @ _rz(-tilt)
    return rot.from_matrix(m)


def hip_orientation(flexion_rad, adduction_rad, internal_rotation_rad, side: str) -> np.ndarray:
    """``q_thigh_pelvis`` (N, 4) from hip angles in rad of ``side``, arrays (N,); scalars give (4,)."""
    sign = _SIDE_SIGN[side]
    a, b, c = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (flexion_rad, adduction_rad, internal_rotation_rad))
    )
    m = _rz(a) @ _rx(sign * b) @ _ry(sign * c)
    return rot.from_matrix(m)


def contralateral_pelvic_drop_deg(pelvis_obliquity_deg: np.ndarray, stance_side: str) -> np.ndarray:
    """Drop (degrees, + when it drops) of the swing side's pelvis during a stance on ``stance_side``.

    Right stance: the left side dropping is the right side higher, positive obliquity.
    """
    return _SIDE_SIGN[stance_side] * np.asarray(pelvis_obliquity_deg, dtype=float)
