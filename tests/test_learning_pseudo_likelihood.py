"""Pseudo-likelihood value and gradients: against explicit loops over pixels and neighbours, against
finite differences of the loop's float64 value, and the pseudo-likelihood's estimating equation
(its gradient has mean zero under the model itself, by exact enumeration)."""
import itertools

import numpy as np
import pytest

import sampler
from sampler.learning import pseudo_likelihood

OFFSETS = [[0, 1], [1, -2], [2, 1], [0, 9]]  # negative dx, and one longer than the image (no edges)
BACKENDS = [b for b in sampler.available_backends() if b != "cupy"]


def tiny(seed, n=2, num_labels=3, h=3, w=4, scale=1.0):
    g = np.random.default_rng(seed)
    offsets = sampler.parse_edges(OFFSETS)
    scores = g.normal(size=(n, num_labels, h, w))
    theta = scale * g.normal(size=(len(offsets), num_labels, num_labels))
    labels = g.integers(0, num_labels, (n, h, w))
    return scores, labels, theta, offsets


def loop_pll(scores, labels, theta, offsets):
    """(value, d_scores, d_theta) in float64, one pixel and one neighbour at a time."""
    n, num_labels, h, w = scores.shape
    value, d_scores, d_theta = 0.0, np.zeros(scores.shape), np.zeros(theta.shape)
    for b, y, x in itertools.product(range(n), range(h), range(w)):
        z = scores[b, :, y, x].astype(np.float64).copy()
        rows, columns = [], []  # theta rows/columns this pixel's conditional read
        for c, (dy, dx) in enumerate(offsets):
            if 0 <= y + dy < h and 0 <= x + dx < w:
                z += theta[c, :, labels[b, y + dy, x + dx]]
                columns.append((c, labels[b, y + dy, x + dx]))
            if 0 <= y - dy < h and 0 <= x - dx < w:
                z += theta[c, labels[b, y - dy, x - dx], :]
                rows.append((c, labels[b, y - dy, x - dx]))
        log_p = z - np.log(np.exp(z - z.max()).sum()) - z.max()
        value += log_p[labels[b, y, x]]
        residual = np.eye(num_labels)[labels[b, y, x]] - np.exp(log_p)
        d_scores[b, :, y, x] = residual
        for c, m in columns:
            d_theta[c, :, m] += residual
        for c, m in rows:
            d_theta[c, m, :] += residual
    return value, d_scores, d_theta


@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_an_explicit_loop(backend):
    scores, labels, theta, offsets = tiny(0)
    value, d_scores, d_theta = pseudo_likelihood(scores, labels, theta, offsets, backend=backend)
    expected = loop_pll(scores.astype(np.float32), labels, theta.astype(np.float32), offsets)
    assert value.shape == (2,) and value.sum() == pytest.approx(expected[0], rel=1e-6)
    assert np.allclose(value, sampler.pseudo_log_likelihood(scores, labels, theta, offsets), rtol=1e-6)
    assert d_scores.dtype == d_theta.dtype == np.float32
    assert np.abs(d_scores - expected[1]).max() < 1e-6
    assert np.abs(d_theta - expected[2]).max() < 1e-5
    assert np.abs(d_theta).max() > 0.1 and not d_theta[3].any()  # class 3 has no edges


def test_gradients_are_finite_differences_of_the_value():
    """Central differences of the float64 loop value, step 1e-5: error ~1e-9, far below the
    float32 gradients' own ~1e-6."""
    scores, labels, theta, offsets = tiny(1, scale=1.5)
    _, d_scores, d_theta = pseudo_likelihood(scores, labels, theta, offsets)
    for array, gradient in ((scores, d_scores), (theta, d_theta)):
        numeric = np.zeros(array.shape)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + 1e-5
            up = loop_pll(scores, labels, theta, offsets)[0]
            array[index] = saved - 1e-5
            down = loop_pll(scores, labels, theta, offsets)[0]
            array[index] = saved
            numeric[index] = (up - down) / 2e-5
        assert np.abs(gradient - numeric).max() < 2e-5, np.abs(gradient - numeric).max()


def all_labellings(num_labels, h, w):
    return np.array(list(itertools.product(range(num_labels), repeat=h * w)), np.uint8).reshape(-1, h, w)


@pytest.mark.parametrize("shift", [0.0, 0.8])
def test_gradient_has_mean_zero_under_the_model_only(shift):
    """Sum over all 3^6 labellings of p(y) grad PL(y): zero at the model's own parameters (the
    pseudo-likelihood is a consistent estimating equation), and not zero at other parameters."""
    g = np.random.default_rng(2)
    offsets = sampler.parse_edges([[0, 1], [1, 0], [1, 1], [0, 2]])
    scores = g.normal(size=(3, 2, 3)).astype(np.float32)
    theta = (g.normal(size=(len(offsets), 3, 3)) - 1.5 * np.eye(3)).astype(np.float32)  # repulsive diagonal
    labellings = all_labellings(3, 2, 3)
    energies = sampler.energy(np.broadcast_to(scores, (len(labellings),) + scores.shape), labellings, theta, offsets)
    p = np.exp(energies - sampler.exact.enumerate(scores, theta, offsets).log_partition)
    assert p.sum() == pytest.approx(1, abs=1e-6)
    model = scores + shift, theta - shift * np.eye(3, dtype=np.float32)
    mean_scores, mean_theta = 0.0, 0.0
    for weight, y in zip(p, labellings):
        _, d_scores, d_theta = pseudo_likelihood(model[0][None], y[None], model[1], offsets)
        mean_scores, mean_theta = mean_scores + weight * d_scores[0], mean_theta + weight * d_theta
    largest = max(np.abs(mean_scores).max(), np.abs(mean_theta).max())
    if shift == 0:
        assert largest < 1e-5
    else:
        assert largest > 0.05


def test_bad_input_names_the_argument():
    scores, labels, theta, offsets = tiny(3)
    with pytest.raises(ValueError, match="labels: values must be in 0..2"):
        pseudo_likelihood(scores, labels + 1, theta, offsets)
    with pytest.raises(ValueError, match="theta: expected shape"):
        pseudo_likelihood(scores, labels, theta[:2], offsets)
