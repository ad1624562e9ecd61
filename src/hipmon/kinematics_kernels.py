"""Compiled passes of the pipeline's kinematics (``hipmon.kinematics.segment_frames``,
``acc_global``, ``angles_deg``): the same IEEE operations in the same order as the numpy they
replaced (``hipmon.rotations``, ``calibration.segment_orientation``, ``kinematics.all_angles_deg``);
the angles' ``arcsin``/``arctan2`` are left to numpy (its SIMD versions differ from the C
library's by an ulp on this CPU): these kernels compute their arguments and store the degrees.
"""

from __future__ import annotations

import math

from hipmon.jit import njit
from hipmon.rotation_kernels import quat_multiply, quat_rotate


@njit
def segment_frames(q_se, a, b, q_ss, gyr, q_out, g_out):
    """Per sample: ``q_out = normalize(multiply(a, multiply(q_se, b)))`` (N, 4) and
    ``g_out = rotate(q_ss, gyr)`` (N, 3), with constant quaternions ``a``, ``b``, ``q_ss`` (4,):
    ``calibration.segment_orientation`` (``a`` the conjugate of ``q_global_earth``, ``b`` of
    ``q_sensor_segment``) and the rate in the segment frame, as ``hipmon.rotations`` computes them."""
    aw, ax, ay, az = a[0], a[1], a[2], a[3]
    bw, bx, by, bz = b[0], b[1], b[2], b[3]
    w, x, y, z = q_ss[0], q_ss[1], q_ss[2], q_ss[3]
    for i in range(q_se.shape[0]):
        mw, mx, my, mz = quat_multiply(q_se[i, 0], q_se[i, 1], q_se[i, 2], q_se[i, 3], bw, bx, by, bz)
        qw, qx, qy, qz = quat_multiply(aw, ax, ay, az, mw, mx, my, mz)
        nrm = math.sqrt(((qw * qw + qx * qx) + qy * qy) + qz * qz)  # np.linalg.norm's order
        if nrm == 0.0:  # numpy's x / 0.0 is x · inf (NaN for 0); numba's division would raise
            q_out[i, 0], q_out[i, 1], q_out[i, 2], q_out[i, 3] = qw * math.inf, qx * math.inf, qy * math.inf, qz * math.inf
        else:
            q_out[i, 0] = qw / nrm
            q_out[i, 1] = qx / nrm
            q_out[i, 2] = qy / nrm
            q_out[i, 3] = qz / nrm
        g_out[i, 0], g_out[i, 1], g_out[i, 2] = quat_rotate(w, x, y, z, gyr[i, 0], gyr[i, 1], gyr[i, 2])


@njit
def _clip1(v):
    """``np.clip(v, -1.0, 1.0)`` (NaN stays NaN)."""
    if v < -1.0:
        return -1.0
    if v > 1.0:
        return 1.0
    return v


@njit
def angle_arguments(qp, qt, hip, out):
    """The arguments of the three inverse trigonometric functions of the pelvis angles (``hip``
    False; ``qp`` (N, 4) ``q_pelvis_global``) or of a hip's (``hip`` True; ``qt`` the thigh's),
    rows of ``out`` (5, N): the arcsin's, then the two arctan2's (y, x) of
    ``kinematics.pelvis_angles_rad`` / ``hip_angles_rad``, as they compute them."""
    for i in range(qp.shape[0]):
        if hip:  # q_thigh_pelvis = multiply(conjugate(q_pelvis), q_thigh)
            pw, px, py, pz = qp[i, 0], -qp[i, 1], -qp[i, 2], -qp[i, 3]
            qw, qx, qy, qz = qt[i, 0], qt[i, 1], qt[i, 2], qt[i, 3]
            w = pw * qw - px * qx - py * qy - pz * qz
            x = pw * qx + px * qw + py * qz - pz * qy
            y = pw * qy - px * qz + py * qw + pz * qx
            z = pw * qz + px * qy - py * qx + pz * qw
            out[0, i] = _clip1(2.0 * (y * z + w * x))  # m21
            out[1, i] = -(2.0 * (x * y - w * z))  # -m01
            out[2, i] = 1.0 - 2.0 * (x * x + z * z)  # m11
            out[3, i] = -(2.0 * (x * z - w * y))  # -m20
            out[4, i] = 1.0 - 2.0 * (x * x + y * y)  # m22
        else:
            w, x, y, z = qp[i, 0], qp[i, 1], qp[i, 2], qp[i, 3]
            out[0, i] = _clip1(-(2.0 * (y * z - w * x)))  # -m12
            out[1, i] = 2.0 * (x * y + w * z)  # m10
            out[2, i] = 1.0 - 2.0 * (x * x + z * z)  # m11
            out[3, i] = 2.0 * (x * z + w * y)  # m02
            out[4, i] = 1.0 - 2.0 * (x * x + y * y)  # m22


@njit
def sensor_acc_global(q_sg, q_ss, acc, out):
    """``out = rotate(multiply(q_sg, q_ss), acc)`` (N, 3): the acceleration in the global frame
    from ``q_segment_global`` (N, 4) and the constant ``q_sensor_segment`` (4,)."""
    qw, qx, qy, qz = q_ss[0], q_ss[1], q_ss[2], q_ss[3]
    for i in range(q_sg.shape[0]):
        w, x, y, z = quat_multiply(q_sg[i, 0], q_sg[i, 1], q_sg[i, 2], q_sg[i, 3], qw, qx, qy, qz)
        out[i, 0], out[i, 1], out[i, 2] = quat_rotate(w, x, y, z, acc[i, 0], acc[i, 1], acc[i, 2])


_DEG_PER_RAD = 180.0 / math.pi  # np.degrees's factor


@njit
def store_degrees(raw, pelvis, sign, valid, angles, col):
    """Columns ``col..col+2`` of ``angles`` (N, 9) in degrees from ``raw`` (3, N) rad (the arcsin,
    then the two arctan2 of ``angle_arguments``): the pelvis's ``(-z, -x, y)`` (``pelvis``) or a
    hip's ``(a, sign·b, sign·c)``, times np.degrees's factor; NaN where not ``valid`` (N,)."""
    for i in range(raw.shape[1]):
        if not valid[i]:
            angles[i, col] = angles[i, col + 1] = angles[i, col + 2] = math.nan
        elif pelvis:
            angles[i, col] = -raw[1, i] * _DEG_PER_RAD
            angles[i, col + 1] = -raw[0, i] * _DEG_PER_RAD
            angles[i, col + 2] = raw[2, i] * _DEG_PER_RAD
        else:
            angles[i, col] = raw[1, i] * _DEG_PER_RAD
            angles[i, col + 1] = (sign * raw[0, i]) * _DEG_PER_RAD
            angles[i, col + 2] = (sign * raw[2, i]) * _DEG_PER_RAD
