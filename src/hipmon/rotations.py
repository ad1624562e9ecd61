"""Quaternion and rotation-matrix helpers, vectorised over a leading time axis.

Quaternions are unit, scalar first ``[w, x, y, z]``, shape (4,) or (N, 4).
``q_a_b`` (orientation of frame a relative to frame b) maps vectors in a to b:
``rotate(q_a_b, v_a) == v_b`` and ``matrix(q_a_b) @ v_a == v_b``.
Composition: ``q_a_c = multiply(q_b_c, q_a_b)``.
Rotations about axes follow the right-hand rule (positive = counter-clockwise
looking down the axis towards the origin).
"""

from __future__ import annotations

import numpy as np


def normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternion(s) (N, 4) or (4,)."""
    q = np.asarray(q, dtype=float)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def conjugate(q: np.ndarray) -> np.ndarray:
    """Inverse of unit quaternion(s): ``q_b_a`` from ``q_a_b``."""
    q = np.asarray(q, dtype=float)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def multiply(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product ``p ⊗ q`` (broadcasts over leading axes).

    Written out per component (no ``moveaxis``/``stack``: these dominated the cost of the
    pipeline's 0.1 s chunks); the same products and sums in the same order as before, so
    the results are bit-identical."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    pw, px, py, pz = p[..., 0], p[..., 1], p[..., 2], p[..., 3]
    qw, qx, qy, qz = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    out = np.empty(np.broadcast_shapes(pw.shape, qw.shape) + (4,))
    out[..., 0] = pw * qw - px * qx - py * qy - pz * qz
    out[..., 1] = pw * qx + px * qw + py * qz - pz * qy
    out[..., 2] = pw * qy - px * qz + py * qw + pz * qx
    out[..., 3] = pw * qz + px * qy - py * qx + pz * qw
    return out


def from_axis_angle(axis: np.ndarray, angle_rad: np.ndarray | float) -> np.ndarray:
    """Quaternion(s) for a rotation of ``angle_rad`` about ``axis`` (3,) or (N, 3)."""
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    half = 0.5 * np.asarray(angle_rad, dtype=float)
    return np.concatenate([np.cos(half)[..., None], np.sin(half)[..., None] * axis], axis=-1)


def from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """Quaternion(s) from rotation vector(s) (…, 3) in radians (safe at zero)."""
    rotvec = np.asarray(rotvec, dtype=float)
    angle = np.linalg.norm(rotvec, axis=-1)
    half = 0.5 * angle
    # sin(half)/angle with its limit 0.5 at angle -> 0
    k = np.where(angle > 1e-12, np.sin(half) / np.where(angle > 1e-12, angle, 1.0), 0.5 - angle**2 / 48.0)
    return np.concatenate([np.cos(half)[..., None], k[..., None] * rotvec], axis=-1)


def to_rotvec(q: np.ndarray) -> np.ndarray:
    """Rotation vector(s) (…, 3) in radians, angle in [0, π]."""
    q = normalize(q)
    q = np.where(q[..., :1] < 0, -q, q)
    v = q[..., 1:]
    s = np.linalg.norm(v, axis=-1)
    angle = 2.0 * np.arctan2(s, q[..., 0])
    k = np.where(s > 1e-12, angle / np.where(s > 1e-12, s, 1.0), 2.0)
    return k[..., None] * v


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector(s) ``v`` (…, 3) by quaternion(s) ``q`` (…, 4).

    ``v + w·t + u × t`` with ``t = 2 u × v`` (``u`` the vector part), the cross products
    written out as ``np.cross`` computes them (``a1·b2 - a2·b1``, ...): bit-identical to
    the ``np.cross`` form, without its per-call overhead."""
    q = np.asarray(q, dtype=float)
    v = np.asarray(v, dtype=float)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    v0, v1, v2 = v[..., 0], v[..., 1], v[..., 2]
    t0 = 2.0 * (y * v2 - z * v1)
    t1 = 2.0 * (z * v0 - x * v2)
    t2 = 2.0 * (x * v1 - y * v0)
    out = np.empty(np.broadcast_shapes(w.shape, v0.shape) + (3,))
    out[..., 0] = v0 + w * t0 + (y * t2 - z * t1)
    out[..., 1] = v1 + w * t1 + (z * t0 - x * t2)
    out[..., 2] = v2 + w * t2 + (x * t1 - y * t0)
    return out


def matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix/matrices (…, 3, 3) of unit quaternion(s) (…, 4)."""
    q = np.asarray(q, dtype=float)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    out = np.empty(q.shape[:-1] + (3, 3))
    out[..., 0, 0] = 1 - 2 * (y * y + z * z)
    out[..., 0, 1] = 2 * (x * y - w * z)
    out[..., 0, 2] = 2 * (x * z + w * y)
    out[..., 1, 0] = 2 * (x * y + w * z)
    out[..., 1, 1] = 1 - 2 * (x * x + z * z)
    out[..., 1, 2] = 2 * (y * z - w * x)
    out[..., 2, 0] = 2 * (x * z - w * y)
    out[..., 2, 1] = 2 * (y * z + w * x)
    out[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return out


def from_matrix(m: np.ndarray) -> np.ndarray:
    """Unit quaternion(s) (…, 4) with w >= 0 from rotation matrix/matrices (…, 3, 3)."""
    m = np.asarray(m, dtype=float)
    shape = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    tr = np.trace(m, axis1=1, axis2=2)
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    best = np.argmax(cand, axis=1)
    q = np.empty((m.shape[0], 4))
    for i in range(4):
        sel = best == i
        if not np.any(sel):
            continue
        r = m[sel]
        if i == 0:
            s = 2.0 * np.sqrt(1.0 + tr[sel])
            q[sel] = np.stack(
                [0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 1, 0] - r[:, 0, 1]) / s],
                axis=1,
            )
        elif i == 1:
            s = 2.0 * np.sqrt(1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2])
            q[sel] = np.stack(
                [(r[:, 2, 1] - r[:, 1, 2]) / s, 0.25 * s, (r[:, 0, 1] + r[:, 1, 0]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s],
                axis=1,
            )
        elif i == 2:
            s = 2.0 * np.sqrt(1.0 + r[:, 1, 1] - r[:, 0, 0] - r[:, 2, 2])
            q[sel] = np.stack(
                [(r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 0, 1] + r[:, 1, 0]) / s, 0.25 * s, (r[:, 1, 2] + r[:, 2, 1]) / s],
                axis=1,
            )
        else:
            s = 2.0 * np.sqrt(1.0 + r[:, 2, 2] - r[:, 0, 0] - r[:, 1, 1])
            q[sel] = np.stack(
                [(r[:, 1, 0] - r[:, 0, 1]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s, (r[:, 1, 2] + r[:, 2, 1]) / s, 0.25 * s],
                axis=1,
            )
    q = np.where(q[:, :1] < 0, -q, q)
    return normalize(q).reshape(*shape, 4)


def angle_between_deg(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Smallest rotation angle (degrees) taking orientation p to q, (…,)."""
    d = np.abs(np.sum(normalize(p) * normalize(q), axis=-1))
    return np.degrees(2.0 * np.arccos(np.clip(d, 0.0, 1.0)))


def integrate_gyr(q0: np.ndarray, gyr_body: np.ndarray, dt_s: np.ndarray | float) -> np.ndarray:
    """Strapdown integration of body-frame angular rate (N, 3) rad/s.

    Returns orientations (N + 1, 4) ``q_body_ref`` starting at ``q0``; sample i
    rotates by ``gyr_body[i] * dt_s[i]`` (rate held over the step).
    """
    gyr_body = np.asarray(gyr_body, dtype=float)
    dt = np.broadcast_to(np.asarray(dt_s, dtype=float), gyr_body.shape[:1])
    steps = from_rotvec(gyr_body * dt[:, None])
    from hipmon.rotation_kernels import chain  # the recursion compiled (the same products, bit for bit)

    return normalize(chain(normalize(q0), steps))


def from_two_vectors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The shortest-arc rotation (4,) that turns direction ``a`` (3,) into direction ``b`` (3,)."""
    a = np.asarray(a, dtype=float) / np.linalg.norm(a)
    b = np.asarray(b, dtype=float) / np.linalg.norm(b)
    c = float(np.dot(a, b))
    if c < -1.0 + 1e-12:  # opposite: any axis perpendicular to a
        axis = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a, [0.0, 1.0, 0.0])
        return from_axis_angle(axis / np.linalg.norm(axis), np.pi)
    q = np.concatenate([[1.0 + c], np.cross(a, b)])
    return normalize(q)
