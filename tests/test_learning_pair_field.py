"""The pairwise field shared by mean field and the learning code: one-hot in, it is the pairwise
part of sampler.conditionals; it is its own adjoint; theta_gradient is its exact derivative; the
Numba kernels (field_kernels.py) compute the same field."""
import numpy as np
import pytest

import sampler
from sampler import field_kernels, pair_field

OFFSETS = sampler.parse_edges([[0, 1], [1, -2], [2, 1], [1, 1], [0, 9]])


def random(seed, n=2, num_labels=3, h=4, w=5):
    g = np.random.default_rng(seed)
    return (g.normal(size=(n, num_labels, h, w)), g.normal(size=(n, num_labels, h, w)),
            g.normal(size=(len(OFFSETS), num_labels, num_labels)))


def field(q, theta):
    return pair_field.add_field(np, np.zeros_like(q), q, theta, pair_field.overlaps(OFFSETS, *q.shape[2:]))


def test_one_hot_field_gives_the_conditionals():
    scores, _, theta = random(0)
    labels = np.random.default_rng(1).integers(0, 3, (2, 4, 5))
    onehot = (labels[:, None] == np.arange(3)[:, None, None]).astype(np.float64)
    z = scores + field(onehot, theta)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    assert np.allclose(log_p, sampler.conditionals(scores, labels, theta, OFFSETS, backend="numpy"), atol=1e-5)


def test_field_is_its_own_adjoint():
    g, q, theta = random(2)
    assert abs(np.sum(g * field(q, theta)) - np.sum(q * field(g, theta))) < 1e-10
    assert abs(np.sum(g * field(q, theta))) > 1  # not trivially zero


def test_theta_gradient_is_the_derivative_in_theta():
    """field is linear in theta, so <theta', grad> = <g, field_theta'(q)> holds for every theta'."""
    g, q, theta = random(3)
    gradient = pair_field.theta_gradient(np, g, q, pair_field.overlaps(OFFSETS, 4, 5))
    for seed in range(3):
        other = np.random.default_rng(10 + seed).normal(size=theta.shape)
        assert abs(np.sum(other * gradient) - np.sum(g * field(q, other))) < 1e-10
    assert not gradient[4].any() and (np.abs(gradient[:4]).max(axis=(1, 2)) > 0.1).all()  # class 4: no edges


@pytest.mark.parametrize("tables", [0, 1, 3])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 5, 11, 13), (2, 20, 9, 70)])
def test_the_kernels_compute_the_array_module_field(shape, tables):
    """float32 both, summed in other orders: ~1e-6 of the field's size. The offsets include
    dx < 0 and a class longer than the small image (no edges there); 70 columns are 3 blocks of
    the kernels' product."""
    g = np.random.default_rng(tables + shape[0])
    n, num_labels, h, w = shape
    q, z = g.random(shape).astype(np.float32), g.normal(size=shape).astype(np.float32)
    theta = g.normal(size=(len(OFFSETS),) + ((tables,) if tables else ()) + (num_labels, num_labels))
    half = (0.5 * g.normal(0.5, 0.7, (n, tables, h, w))).astype(np.float32) if tables else None
    expected = pair_field.add_field(np, z.astype(np.float64), q.astype(np.float64), theta,
                                    pair_field.overlaps(OFFSETS, h, w), half)
    got = field_kernels.add_field(z.copy(), q, theta.astype(np.float32), OFFSETS, half)
    assert got.dtype == np.float32
    assert np.abs(expected - z).max() > 1 and np.abs(got - expected).max() < 2e-6 * np.abs(expected).max()
    with pytest.raises(ValueError, match="float32 arrays only, got float64"):
        field_kernels.add_field(z.astype(np.float64), q, theta, OFFSETS, half)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 5, 11, 13)])
def test_the_weights_gradient_kernel_computes_the_array_module_one(shape):
    g = np.random.default_rng(shape[0])
    n, num_labels, h, w = shape
    dz, q = g.normal(size=shape), g.random(shape)
    theta = g.normal(size=(len(OFFSETS), 2, num_labels, num_labels))
    half = 0.5 * g.normal(0.5, 0.7, (n, 2, h, w))
    expected = pair_field.weights_gradient(np, dz, q, theta, pair_field.overlaps(OFFSETS, h, w), half)
    for dtype, tolerance in ((np.float64, 1e-13), (np.float32, 2e-6)):
        got = field_kernels.weights_gradient(dz.astype(dtype), q.astype(dtype), theta.astype(dtype), OFFSETS,
                                             half.astype(dtype))
        assert got.dtype == dtype and got.shape == half.shape
        assert np.abs(expected).max() > 1 and np.abs(got - expected).max() < tolerance * np.abs(expected).max()
