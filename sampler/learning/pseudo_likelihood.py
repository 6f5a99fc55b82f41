"""Besag's pseudo-likelihood PL(y) = sum_i log p(y_i | y_neighbours) and its exact gradient.

In the scores: d PL / d u_i(l) = [y_i == l] - p_i(l), the residual r_i (u_i enters only its own
conditional). In theta: theta[c, a, b] enters p_i through i's forward neighbour i + d_c and its
backward neighbour i - d_c, which gives, per edge (i, j = i + d_c),
r_i(a) [y_j == b] + [y_i == a] r_j(b): pair_field.theta_gradient of (r, one-hot(y)), which
_theta_gradient computes without the one-hot (L times less work; Numba).
"""
import numba
import numpy as np

from .. import api, checks


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
    at_i, at_j = _theta_gradient(np.ascontiguousarray(residual.transpose(0, 2, 3, 1)), labels, offsets)
    d_theta = at_i.sum(axis=0).transpose(0, 2, 1) + at_j.sum(axis=0)
    return value, residual, d_theta.astype(np.float32)


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
