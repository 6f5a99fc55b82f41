"""Energy and sufficient statistics (pair counts): cheap, so one NumPy implementation."""
import numpy as np

from . import grid


def energy(scores, labels, theta, offsets):
    """(N,) float64 E(y) = sum_i u_i(y_i) + sum_c sum_edges theta[c, y_i, y_j]; inputs validated."""
    n, num_labels, h, w = scores.shape
    flat = labels.reshape(n, h * w).astype(np.intp)
    unary = np.take_along_axis(scores.reshape(n, num_labels, h * w), flat[:, None], 1)[:, 0]
    total = unary.astype(np.float64).sum(axis=1)
    for c in range(len(offsets)):
        i, j = grid.edges(grid.key(offsets), h, w, c)
        total += theta[c][flat[:, i], flat[:, j]].astype(np.float64).sum(axis=1)
    return total


def pair_counts(labels, offsets, num_labels):
    """(C, L, L) int64: counts[c, y_i, y_{i+d_c}] over all edges of all images given."""
    n, h, w = labels.shape
    flat = labels.reshape(n, h * w).astype(np.int64)
    counts = np.zeros((len(offsets), num_labels * num_labels), dtype=np.int64)
    for c in range(len(offsets)):
        i, j = grid.edges(grid.key(offsets), h, w, c)
        counts[c] = np.bincount((flat[:, i] * num_labels + flat[:, j]).ravel(), minlength=num_labels ** 2)
    return counts.reshape(len(offsets), num_labels, num_labels)
