"""The pairwise field shared by mean field and the learning code: one-hot in, it is the pairwise
part of sampler.conditionals; it is its own adjoint; theta_gradient is its exact derivative."""
import numpy as np

import sampler
from sampler import pair_field

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
