"""Pseudo-likelihood value and gradients: against explicit loops over pixels and neighbours, against
finite differences of the loop's float64 value, and the pseudo-likelihood's estimating equation
(its gradient has mean zero under the model itself, by exact enumeration); for the stationary
model and with image-dependent factors (K tables per class, per-pixel weights)."""
import itertools

import numpy as np
import pytest

import sampler
from sampler.learning import pseudo_likelihood

OFFSETS = [[0, 1], [1, -2], [2, 1], [0, 9]]  # negative dx, and one longer than the image (no edges)
BACKENDS = [b for b in sampler.available_backends() if b != "cupy"]


def tiny(seed, n=2, num_labels=3, h=3, w=4, scale=1.0, per_class=0):
    """(scores, labels, theta, offsets) and, with per_class = K > 0, theta (C, K, L, L) and weights."""
    g = np.random.default_rng(seed)
    offsets = sampler.parse_edges(OFFSETS)
    scores = g.normal(size=(n, num_labels, h, w))
    theta = scale * g.normal(size=(len(offsets),) + ((per_class,) if per_class else ()) + (num_labels, num_labels))
    labels = g.integers(0, num_labels, (n, h, w))
    if per_class:
        return scores, labels, theta, offsets, g.normal(0.5, 0.7, (n, per_class, h, w))
    return scores, labels, theta, offsets


def loop_pll(scores, labels, theta, offsets, weights=None):
    """(value, d_scores, d_theta) in float64, one pixel and one neighbour at a time; with weights
    (N, K, H, W), theta (C, K, L, L) and a fourth, d_weights."""
    n, num_labels, h, w = scores.shape
    tables = theta[:, None] if weights is None else theta
    value, d_scores, d_theta = 0.0, np.zeros(scores.shape), np.zeros(tables.shape)
    d_weights = None if weights is None else np.zeros(weights.shape)
    for b, y, x in itertools.product(range(n), range(h), range(w)):
        z = scores[b, :, y, x].astype(np.float64).copy()
        terms = []  # (class, neighbour, the table entries this pixel's conditional read per k, as slices)
        for c, (dy, dx) in enumerate(offsets):
            for sign in (1, -1):
                ny, nx = y + sign * dy, x + sign * dx
                if 0 <= ny < h and 0 <= nx < w:
                    m = labels[b, ny, nx]
                    entries = (slice(None), m) if sign == 1 else (m, slice(None))
                    edge = np.ones(1) if weights is None else 0.5 * weights[b, :, y, x] + 0.5 * weights[b, :, ny, nx]
                    for k in range(len(edge)):
                        z += edge[k] * tables[c, k][entries]
                    terms.append((c, (ny, nx), entries, edge))
        log_p = z - np.log(np.exp(z - z.max()).sum()) - z.max()
        value += log_p[labels[b, y, x]]
        residual = np.eye(num_labels)[labels[b, y, x]] - np.exp(log_p)
        d_scores[b, :, y, x] = residual
        for c, (ny, nx), entries, edge in terms:
            for k in range(len(edge)):
                d_theta[(c, k) + entries] += edge[k] * residual
                if weights is not None:
                    dw = residual @ tables[c, k][entries]
                    d_weights[b, k, y, x] += 0.5 * dw
                    d_weights[b, k, ny, nx] += 0.5 * dw
    if weights is None:
        return value, d_scores, d_theta[:, 0]
    return value, d_scores, d_theta, d_weights


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


@pytest.mark.parametrize("backend", BACKENDS)
def test_weighted_matches_an_explicit_loop(backend):
    scores, labels, theta, offsets, weights = tiny(4, per_class=2)
    got = pseudo_likelihood(scores, labels, theta, offsets, backend=backend, weights=weights)
    expected = loop_pll(scores.astype(np.float32), labels, theta.astype(np.float32), offsets,
                        weights.astype(np.float32))
    assert len(got) == 4 and all(a.dtype == np.float32 for a in got[1:])
    assert got[0].sum() == pytest.approx(expected[0], rel=1e-6)
    assert np.allclose(got[0], sampler.pseudo_log_likelihood(scores, labels, theta, offsets, weights=weights),
                       rtol=1e-6)
    for a, b in zip(got[1:], expected[1:]):
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-5
    assert np.abs(got[3]).max() > 0.1 and not got[2][3].any()  # class 3 has no edges


def test_unit_weights_give_the_stationary_gradients_bit_for_bit():
    scores, labels, theta, offsets = tiny(5)
    plain = pseudo_likelihood(scores, labels, theta, offsets)
    gated = pseudo_likelihood(scores, labels, theta[:, None], offsets, weights=np.ones((2, 1, 3, 4)))
    for a, b in zip(plain, gated):
        assert np.array_equal(a, b.reshape(a.shape))
    assert gated[3].shape == (2, 1, 3, 4)


def test_weighted_gradients_are_finite_differences_of_the_value():
    """Central differences of the float64 loop value in the scores, theta and the weights."""
    scores, labels, theta, offsets, weights = tiny(6, scale=1.5, per_class=2)
    _, d_scores, d_theta, d_weights = pseudo_likelihood(scores, labels, theta, offsets, weights=weights)
    for array, gradient in ((scores, d_scores), (theta, d_theta), (weights, d_weights)):
        numeric = np.zeros(array.shape)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + 1e-5
            up = loop_pll(scores, labels, theta, offsets, weights)[0]
            array[index] = saved - 1e-5
            down = loop_pll(scores, labels, theta, offsets, weights)[0]
            array[index] = saved
            numeric[index] = (up - down) / 2e-5
        assert np.abs(gradient - numeric).max() < 5e-5, np.abs(gradient - numeric).max()


def all_labellings(num_labels, h, w):
    return np.array(list(itertools.product(range(num_labels), repeat=h * w)), np.uint8).reshape(-1, h, w)


@pytest.mark.parametrize("per_class", [0, 2])
@pytest.mark.parametrize("shift", [0.0, 0.8])
def test_gradient_has_mean_zero_under_the_model_only(shift, per_class):
    """Sum over all 3^6 labellings of p(y) grad PL(y): zero at the model's own parameters (the
    pseudo-likelihood is a consistent estimating equation), and not zero at other parameters;
    with weights, the weights' gradient too."""
    g = np.random.default_rng(2)
    offsets = sampler.parse_edges([[0, 1], [1, 0], [1, 1], [0, 2]])
    scores = g.normal(size=(3, 2, 3)).astype(np.float32)
    shape = (len(offsets),) + ((per_class,) if per_class else ()) + (3, 3)
    theta = (g.normal(size=shape) - 1.5 * np.eye(3)).astype(np.float32)  # repulsive diagonal
    weights = g.normal(0.5, 0.7, (per_class, 2, 3)).astype(np.float32) if per_class else None
    labellings = all_labellings(3, 2, 3)
    batch = None if weights is None else np.broadcast_to(weights, (len(labellings),) + weights.shape)
    energies = sampler.energy(np.broadcast_to(scores, (len(labellings),) + scores.shape), labellings, theta, offsets,
                              weights=batch)
    p = np.exp(energies - sampler.exact.enumerate(scores, theta, offsets, weights).log_partition)
    assert p.sum() == pytest.approx(1, abs=1e-6)
    model = scores + shift, theta - shift * np.eye(3, dtype=np.float32)
    means = None
    for weight, y in zip(p, labellings):
        gradients = pseudo_likelihood(model[0][None], y[None], model[1], offsets,
                                      weights=None if weights is None else weights[None])[1:]
        means = [weight * d for d in gradients] if means is None else [m + weight * d for m, d in zip(means, gradients)]
    largest = max(np.abs(m).max() for m in means)
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
    with pytest.raises(ValueError, match="weights: expected shape"):
        pseudo_likelihood(scores, labels, theta[:, None], offsets, weights=np.ones((2, 1, 3, 5)))
    with pytest.raises(ValueError, match="theta: 1 tables per class, but weights has K = 2"):
        pseudo_likelihood(scores, labels, theta[:, None], offsets, weights=np.ones((2, 2, 3, 4)))
