"""The pairwise field of soft labellings, written once for any NumPy-like array module (NumPy, CuPy).

For q (N, L, H, W), field(q)_i(l) = sum_c [sum_l' theta[c, l, l'] q_{i+d_c}(l')
+ sum_l' theta[c, l', l] q_{i-d_c}(l')], terms for neighbours outside the image dropped.
With q one-hot this is the pairwise part of the log conditionals; mean field adds it to the
unaries. As a linear map of q its matrix is symmetric (entry ((i, l), (i + d_c, l')) is
theta[c, l, l'] from both ends), so the same call is its own adjoint; theta_gradient is its
derivative in theta. With image-dependent factors (sampler/gating.py) edge (i, j) of class c
has the table sum_k w_k(i, j) theta[c, k], symmetric in the same way; weights_gradient is the
derivative in the weights.
"""
import numpy as np

from . import field_kernels, grid

CHUNK = 4  # images per pass: at L=20, 120x160 their q, z and products (float32) stay in cache


def overlaps(offsets, height, width):
    """grid.overlap of every edge class, computed once per image size."""
    return [grid.overlap(offset, height, width) for offset in offsets]


class Field:
    """The field of one model (theta, and half: None or add_field's halved weights) at one image
    size: add(z, q) (add_field), theta_gradient(g, q) and weights_gradient(g, q). kernels: add and
    weights_gradient by field_kernels.py's Numba kernels (float32 NumPy arrays; faster on the CPU:
    tools/bench_meanfield.py) instead of this module's array-module form (NumPy or CuPy)."""

    def __init__(self, xp, theta, offsets, height, width, half=None, kernels=False):
        self.xp, self.theta, self.offsets, self.half = xp, theta, offsets, half
        self.kernels = kernels and theta.dtype == np.float32  # float64 (gradient checks): this module's form
        self.overlaps = overlaps(offsets, height, width)

    def add(self, z, q):
        if self.kernels:
            return field_kernels.add_field(z, q, self.theta, self.offsets, self.half)
        return add_field(self.xp, z, q, self.theta, self.overlaps, self.half)

    def theta_gradient(self, g, q):
        return theta_gradient(self.xp, g, q, self.overlaps, self.half)

    def weights_gradient(self, g, q):
        if self.kernels:
            return field_kernels.weights_gradient(g, q, self.theta, self.offsets, self.half)
        return weights_gradient(self.xp, g, q, self.theta, self.overlaps, self.half)


def add_field(xp, z, q, theta, overlap_list, half=None):
    """z += field(q), in place, for z and q (N, L, H, W); returns z. With half (N, K, H, W), the
    halved weights (sampler/gating.py), theta is (C, K, L, L) and edge (i, j) of class c has the
    table sum_k w_k(i, j) theta[c, k].

    Each class (and k) costs two (L x L) products over whole images and two shifted adds (no gathers).
    """
    n, num_labels, h, w = q.shape
    if half is None:
        transposed = xp.ascontiguousarray(theta.transpose(0, 2, 1))
    else:
        transposed = xp.ascontiguousarray(theta.transpose(0, 1, 3, 2))
    for first in range(0, n, CHUNK):
        q_part, z_part = q[first:first + CHUNK], z[first:first + CHUNK]
        flat = q_part.reshape(len(q_part), num_labels, h * w)
        for c, (at_i, at_j) in enumerate(overlap_list):
            if half is None:
                z_part[(..., *at_i)] += (theta[c] @ flat).reshape(q_part.shape)[(..., *at_j)]
                z_part[(..., *at_j)] += (transposed[c] @ flat).reshape(q_part.shape)[(..., *at_i)]
                continue
            edge = edge_weights(half[first:first + CHUNK], at_i, at_j)
            for k in range(theta.shape[1]):
                weight = edge[:, k:k + 1]
                z_part[(..., *at_i)] += weight * (theta[c, k] @ flat).reshape(q_part.shape)[(..., *at_j)]
                z_part[(..., *at_j)] += weight * (transposed[c, k] @ flat).reshape(q_part.shape)[(..., *at_i)]
    return z


def edge_weights(half, at_i, at_j):
    """(N, K, h', w') w_k(i, j) of one class's edges (overlap slices at_i, at_j) from halves (N, K, H, W)."""
    return half[(slice(None), slice(None), *at_i)] + half[(slice(None), slice(None), *at_j)]


def theta_gradient(xp, g, q, overlap_list, half=None):
    """(C, L, L) derivative in theta of sum(g * field(q)): per edge (i, j = i + d_c) of class c,
    g_i q_j^T + q_i g_j^T. field is linear in theta, so sum(theta * this) == sum(g * field(q)).
    With half (add_field's), (C, K, L, L): those terms times w_k(i, j).

    Per image, q is copied shifted by +d_c and by -d_c for every class (and k, times the edge
    weight) into one (2C L, H W) buffer (zero where the neighbour is outside), so that one
    (L, H W) x (H W, 2C L) product serves all classes: about 9x faster than one small product
    per class here.
    """
    n, num_labels, h, w = q.shape
    classes, tables = len(overlap_list), 1 if half is None else half.shape[1]
    shifted = xp.zeros((2, classes, tables, num_labels, h, w), dtype=q.dtype)
    products = 0
    for image in range(n):
        for c, (at_i, at_j) in enumerate(overlap_list):
            after, before = q[(image, slice(None), *at_j)], q[(image, slice(None), *at_i)]
            edge = None if half is None else edge_weights(half[image:image + 1], at_i, at_j)[0]
            for k in range(tables):
                shifted[(0, c, k, slice(None), *at_i)] = after if edge is None else edge[k] * after  # q_{i+d} at i
                shifted[(1, c, k, slice(None), *at_j)] = before if edge is None else edge[k] * before  # q_{j-d} at j
        products = products + g[image].reshape(num_labels, h * w) @ shifted.reshape(-1, h * w).T
    products = products.reshape(num_labels, 2, classes, tables, num_labels)  # [a, term, c, k, b]
    gradient = products[:, 0].transpose(1, 2, 0, 3) + products[:, 1].transpose(1, 2, 3, 0)
    return xp.ascontiguousarray(gradient[:, 0] if half is None else gradient)


def weights_gradient(xp, g, q, theta, overlap_list, half):
    """(N, K, H, W) derivative in the weights (not the halves) of sum(g * field(q)) with the
    tables mixed per edge (add_field with half): per edge e = (i, j) of class c,
    dw_k(e) = g_i . theta[c, k] q_j + q_i . theta[c, k] g_j, and each end gets 0.5 dw_k(e)."""
    n, num_labels, h, w = q.shape
    out = xp.zeros(half.shape, dtype=q.dtype)
    q_flat = q.reshape(n, num_labels, h * w)
    for c, (at_i, at_j) in enumerate(overlap_list):
        for k in range(theta.shape[1]):
            pulled = (theta[c, k] @ q_flat).reshape(q.shape)  # (theta q)_p(l) = sum_l' theta[l, l'] q_p(l')
            pushed = (theta[c, k].T @ q_flat).reshape(q.shape)
            dw = ((g[(..., *at_i)] * pulled[(..., *at_j)]).sum(axis=1)
                  + (g[(..., *at_j)] * pushed[(..., *at_i)]).sum(axis=1))
            out[(slice(None), k, *at_i)] += 0.5 * dw
            out[(slice(None), k, *at_j)] += 0.5 * dw
    return out
