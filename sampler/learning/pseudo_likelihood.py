"""Besag's pseudo-likelihood PL(y) = sum_i log p(y_i | y_neighbours) and its exact gradient.

In the scores: d PL / d u_i(l) = [y_i == l] - p_i(l), the residual r_i (u_i enters only its own
conditional). In theta: theta[c, a, b] enters p_i through i's forward neighbour i + d_c and its
backward neighbour i - d_c, which gives, per edge (i, j = i + d_c),
r_i(a) [y_j == b] + [y_i == a] r_j(b): pair_field.theta_gradient of (r, one-hot(y)), which
_theta_gradient computes without the one-hot (L times less work; Numba).

With image-dependent factors (sampler/gating.py) each edge's terms are times w_k(i, j) for table
k, and the edge weight's own derivative is r_i . theta[c, k, :, y_j] + r_j . theta[c, k, y_i, :],
half of it to each end's weight (_weighted_gradients).
"""
import numba
import numpy as np

from .. import api, checks


def pseudo_likelihood(scores, labels, theta, offsets, *, backend="auto", weights=None):
    """(value (N,) float64, d_scores (N, L, H, W) float32, d_theta (C, L, L) float32):
    the pseudo-log-likelihood of each image's labels and its gradients, summed over the batch.
    With weights (N, K, H, W) and theta (C, K, L, L): d_theta (C, K, L, L) and a fourth,
    d_weights (N, K, H, W) float32.

    The conditionals come from sampler.conditionals (the chosen backend); the rest is NumPy.
    """
    scores, theta, offsets, weights = checks.weighted_model(scores, theta, offsets, weights)
    n, num_labels, h, w = scores.shape
    labels = checks.labels(labels, (n, h, w), num_labels)
    log_conditional = api.conditionals(scores, labels, theta, offsets, backend=backend, weights=weights)
    onehot = (labels[:, None] == np.arange(num_labels, dtype=np.uint8)[:, None, None]).astype(np.float32)
    value = (onehot * log_conditional).sum(axis=(1, 2, 3), dtype=np.float64)
    residual = onehot - np.exp(log_conditional)
    by_pixel = np.ascontiguousarray(residual.transpose(0, 2, 3, 1))
    if weights is None:
        at_i, at_j = _theta_gradient(by_pixel, labels, offsets)
        d_theta = at_i.sum(axis=0).transpose(0, 2, 1) + at_j.sum(axis=0)
        return value, residual, d_theta.astype(np.float32)
    at_i, at_j, d_weights = _weighted_gradients(by_pixel, labels, weights, theta, offsets)
    d_theta = at_i.sum(axis=0).transpose(0, 1, 3, 2) + at_j.sum(axis=0)
    return value, residual, d_theta.astype(np.float32), d_weights.astype(np.float32)


@numba.njit(parallel=True, cache=True)
def _theta_gradient(residual, labels, offsets):
    """Per image, sums over the edges (i, j = i + d_c) inside the image, for residuals r
    (N, H, W, L) and labels (N, H, W): (at_i[n, c, b, a] = sum r_i(a) [y_j == b],
    at_j[n, c, a, b] = sum [y_i == a] r_j(b)), (N, C, L, L) float64 each, rows contiguous."""
    n, h, w, num_labels = residual.shape
    at_i = np.zeros((n, len(offsets), num_labels, num_labels))
    at_j = np.zeros((n, len(offsets), num_labels, num_labels))
    for k in numba.prange(n):
        for c in range(len(offsets)):
            dy, dx = offsets[c, 0], offsets[c, 1]
            for y in range(max(0, -dy), min(h, h - dy)):
                for x in range(max(0, -dx), min(w, w - dx)):
                    row_i, row_j = at_i[k, c, labels[k, y + dy, x + dx]], at_j[k, c, labels[k, y, x]]
                    r_i, r_j = residual[k, y, x], residual[k, y + dy, x + dx]
                    for l in range(num_labels):
                        row_i[l] += r_i[l]
                        row_j[l] += r_j[l]
    return at_i, at_j


@numba.njit(parallel=True, cache=True)
def _weighted_gradients(residual, labels, weights, theta, offsets):
    """_theta_gradient's sums with each edge's terms of table k times w_k(i, j) (at_i, at_j
    (N, C, K, L, L)), and d_weights (N, K, H, W) float64: per edge, half of
    dw = r_i . theta[c, k, :, y_j] + r_j . theta[c, k, y_i, :] to each end's weight k."""
    n, h, w, num_labels = residual.shape
    per_class = weights.shape[1]
    at_i = np.zeros((n, len(offsets), per_class, num_labels, num_labels))
    at_j = np.zeros((n, len(offsets), per_class, num_labels, num_labels))
    d_weights = np.zeros(weights.shape)
    half = np.float32(0.5)  # sampler/gating.py: w_k(i, j) = 0.5 a_k(i) + 0.5 a_k(j) in float32
    for image in numba.prange(n):
        for c in range(len(offsets)):
            dy, dx = offsets[c, 0], offsets[c, 1]
            for k in range(per_class):
                table, a = theta[c, k], weights[image, k]
                for y in range(max(0, -dy), min(h, h - dy)):
                    for x in range(max(0, -dx), min(w, w - dx)):
                        first, second = labels[image, y, x], labels[image, y + dy, x + dx]
                        weight = np.float64(half * a[y, x] + half * a[y + dy, x + dx])
                        row_i, row_j = at_i[image, c, k, second], at_j[image, c, k, first]
                        r_i, r_j = residual[image, y, x], residual[image, y + dy, x + dx]
                        dw = 0.0
                        for l in range(num_labels):
                            row_i[l] += weight * r_i[l]
                            row_j[l] += weight * r_j[l]
                            dw += np.float64(r_i[l]) * table[l, second] + np.float64(r_j[l]) * table[first, l]
                        d_weights[image, k, y, x] += 0.5 * dw
                        d_weights[image, k, y + dy, x + dx] += 0.5 * dw
    return at_i, at_j, d_weights
