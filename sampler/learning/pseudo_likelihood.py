"""Besag's pseudo-likelihood PL(y) = sum_i log p(y_i | y_neighbours) and its exact gradient.

In the scores: d PL / d u_i(l) = [y_i == l] - p_i(l), the residual r_i (u_i enters only its own
conditional). In theta: theta[c, a, b] enters p_i through i's forward neighbour i + d_c and its
backward neighbour i - d_c, which gives, per edge (i, j = i + d_c),
r_i(a) [y_j == b] + [y_i == a] r_j(b): pair_field.theta_gradient of (r, one-hot(y)).
"""
import numpy as np

from .. import api, checks, pair_field


def pseudo_likelihood(scores, labels, theta, offsets, *, backend="auto"):
    """(value (N,) float64, d_scores (N, L, H, W) float32, d_theta (C, L, L) float32):
    the pseudo-log-likelihood of each image's labels and its gradients, summed over the batch.

    The conditionals come from sampler.conditionals (the chosen backend); the rest is NumPy.
    """
    scores, theta, offsets = checks.model(scores, theta, offsets)
    n, num_labels, h, w = scores.shape
    labels = checks.labels(labels, (n, h, w), num_labels)
    log_conditional = api.conditionals(scores, labels, theta, offsets, backend=backend)
    onehot = (labels[:, None] == np.arange(num_labels, dtype=np.uint8)[:, None, None]).astype(np.float32)
    value = (onehot * log_conditional).sum(axis=(1, 2, 3), dtype=np.float64)
    residual = onehot - np.exp(log_conditional)
    d_theta = pair_field.theta_gradient(np, residual, onehot, pair_field.overlaps(offsets, h, w))
    return value, residual, d_theta
