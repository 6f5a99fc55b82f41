"""Image-dependent ("gated") pairwise factors: K tables per edge class, mixed per edge by weights.

weights (N, K, H, W) float32 come per pixel (from a branch of the net); edge (i, j = i + d_c) of
class c has the potential sum_k w_k(i, j) theta[c, k, y_i, y_j] with, exactly in float32,

    w_k(i, j) = h_k(i) + h_k(j),   h = 0.5 * weights   (halves(): one float32 multiply, exact
                                                        but for subnormals)

symmetric in the two ends, and 1 for unit weights: K = 1 with weights 1 is the stationary model.
A float32 weight times a float32 table entry is exact in float64, so the float64 logits of every
backend (numpy_backend's order: per class the forward term k = 0..K-1, then the backward one)
round only where they add. numba_backend.py and cupy_kernels.cu restate these two lines.
"""
import numpy as np

HALF = np.float32(0.5)


def halves(weights):
    """(N, K, H, W) float32: 0.5 * weights."""
    return HALF * np.asarray(weights, dtype=np.float32)


def edge_weights(half, i, j):
    """(N, K, E) float32 w_k(i, j) of the edges with flat ends i, j, from halves (N, K, H, W)."""
    flat = half.reshape(half.shape[0], half.shape[1], -1)
    return flat[:, :, i] + flat[:, :, j]
