"""``rotation_kernels`` = ``rotations.rotate``/``multiply`` broadcast over rows, and the strapdown chain, bit for bit."""

import numpy as np
import pytest

from hipmon import rotations as rot
from hipmon.rotation_kernels import chain, multiply_by, rotate_by


def _bits(a):
    return np.ascontiguousarray(a).view(np.int64)


@pytest.mark.parametrize("seed", range(20))
def test_same_bits_as_numpy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 500))
    q = rot.normalize(rng.normal(size=4)) if seed % 4 else rng.normal(size=4) * 1e3  # unit and not
    v = rng.normal(0, 10.0 ** rng.integers(-3, 4), (n, 3))
    p = rng.normal(size=(n, 4))
    if seed % 3 == 0 and n:  # NaN and inf rows pass through as numpy's arithmetic gives them
        v.ravel()[rng.integers(0, v.size, 5)] = rng.choice([np.nan, np.inf, -np.inf], 5)
        p.ravel()[rng.integers(0, p.size, 5)] = rng.choice([np.nan, np.inf, -np.inf], 5)
    with np.errstate(invalid="ignore"):  # inf - inf in numpy's reference
        assert np.array_equal(_bits(rotate_by(q, v)), _bits(rot.rotate(q, v)))
        assert np.array_equal(_bits(multiply_by(p, q)), _bits(rot.multiply(p, q)))
    # a non-contiguous view (a column slice of a wider array) as the pipeline may pass
    wide = rng.normal(size=(n, 6))
    assert np.array_equal(_bits(rotate_by(q, wide[:, 1:4])), _bits(rot.rotate(q, wide[:, 1:4])))


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        rotate_by(np.array([1.0, 0, 0, 0]), np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        multiply_by(np.zeros((4, 3)), np.array([1.0, 0, 0, 0]))


def _chain_reference(q0, steps):
    """``rotations.integrate_gyr``'s recursion as it was (numpy, one row at a time)."""
    out = np.empty((steps.shape[0] + 1, 4))
    out[0] = q = q0
    for i in range(steps.shape[0]):
        q = rot.multiply(q, steps[i])
        out[i + 1] = q
    return out


@pytest.mark.parametrize("seed", range(10))
def test_chain_is_the_strapdown_recursion_bit_for_bit(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(0, 3000))
    q0 = rot.normalize(rng.normal(size=4))
    gyr = rng.normal(0, 10.0 ** rng.uniform(-3, 1), (n, 3))
    steps = rot.from_rotvec(gyr * float(rng.choice([1 / 52, 1 / 104, 1 / 208])))
    if seed % 3 == 0 and n:  # not unit: the chain multiplies, it does not renormalise
        steps = steps * rng.uniform(0.9, 1.1, (n, 1))
    assert np.array_equal(_bits(chain(q0, steps)), _bits(_chain_reference(q0, steps)))
    # and integrate_gyr, which uses it, turns a constant rate into the closed-form rotation
    w = np.array([0.3, -0.2, 0.5])
    q = rot.integrate_gyr(q0, np.tile(w, (400, 1)), 0.01)
    assert np.allclose(q[-1], rot.normalize(rot.multiply(q0, rot.from_rotvec(4.0 * w))), atol=1e-12)


def test_chain_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        chain(np.array([1.0, 0, 0, 0]), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(4,\)"):
        chain(np.zeros(3), np.zeros((4, 4)))
