"""Compiled row-wise forms of ``hipmon.rotations`` for one constant quaternion and many rows.

``LevelledFilter`` turns every chunk's acc and gyr by one quaternion and its output back
(``rotations.rotate``/``multiply`` broadcast a (4,) quaternion over (N, 3)/(N, 4) rows: a dozen
numpy temporaries per call). These loops do the same products and sums in the same order, so
the results are the same bits (tests/test_rotation_kernels.py).
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from hipmon.jit import njit

__all__ = ["rotate_by", "multiply_by", "chain", "quat_multiply", "quat_rotate"]


@register_jitable
def quat_multiply(pw, px, py, pz, qw, qx, qy, qz):  # pragma: no cover - compiled into its callers
    """``rotations.multiply`` of two quaternions given by their components: (w, x, y, z)."""
    return (pw * qw - px * qx - py * qy - pz * qz,
            pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx,
            pw * qz + px * qy - py * qx + pz * qw)


@register_jitable
def quat_rotate(w, x, y, z, v0, v1, v2):  # pragma: no cover - compiled into its callers
    """``rotations.rotate`` of the vector (v0, v1, v2) by the quaternion (w, x, y, z)."""
    t0 = 2.0 * (y * v2 - z * v1)
    t1 = 2.0 * (z * v0 - x * v2)
    t2 = 2.0 * (x * v1 - y * v0)
    return v0 + w * t0 + (y * t2 - z * t1), v1 + w * t1 + (z * t0 - x * t2), v2 + w * t2 + (x * t1 - y * t0)


def rotate_by(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``rotations.rotate(q, v)`` for one quaternion ``q`` (4,) and vectors ``v`` (N, 3) -> (N, 3)."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"rotate_by: v must be (N, 3), not {v.shape}")
    out = np.empty(v.shape)
    _rotate_rows(np.asarray(q, dtype=np.float64), v, out)
    return out


def multiply_by(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``rotations.multiply(p, q)`` for quaternions ``p`` (N, 4) and one quaternion ``q`` (4,) -> (N, 4)."""
    p = np.ascontiguousarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 4:
        raise ValueError(f"multiply_by: p must be (N, 4), not {p.shape}")
    out = np.empty(p.shape)
    _multiply_rows(p, np.asarray(q, dtype=np.float64), out)
    return out


def chain(q0: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Orientations (N + 1, 4): ``q0`` (4,), then each times the next of ``steps`` (N, 4):
    ``out[i + 1] = rotations.multiply(out[i], steps[i])`` (the strapdown recursion), bit for bit."""
    steps = np.ascontiguousarray(steps, dtype=np.float64)
    q0 = np.asarray(q0, dtype=np.float64)
    if steps.ndim != 2 or steps.shape[1] != 4 or q0.shape != (4,):
        raise ValueError(f"chain: q0 must be (4,) and steps (N, 4), not {q0.shape} and {steps.shape}")
    out = np.empty((steps.shape[0] + 1, 4))
    _chain_rows(q0, steps, out)
    return out


@njit
def _chain_rows(q0, steps, out):  # pragma: no cover - compiled
    w, x, y, z = q0[0], q0[1], q0[2], q0[3]
    out[0, 0], out[0, 1], out[0, 2], out[0, 3] = w, x, y, z
    for i in range(steps.shape[0]):
        w, x, y, z = quat_multiply(w, x, y, z, steps[i, 0], steps[i, 1], steps[i, 2], steps[i, 3])
        out[i + 1, 0], out[i + 1, 1], out[i + 1, 2], out[i + 1, 3] = w, x, y, z


@njit
def _rotate_rows(q, v, out):  # pragma: no cover - compiled
    w, x, y, z = q[0], q[1], q[2], q[3]
    for i in range(v.shape[0]):
        out[i, 0], out[i, 1], out[i, 2] = quat_rotate(w, x, y, z, v[i, 0], v[i, 1], v[i, 2])


@njit
def _multiply_rows(p, q, out):  # pragma: no cover - compiled
    qw, qx, qy, qz = q[0], q[1], q[2], q[3]
    for i in range(p.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = quat_multiply(p[i, 0], p[i, 1], p[i, 2], p[i, 3], qw, qx, qy, qz)
