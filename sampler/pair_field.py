"""The pairwise field of soft labellings, written once for any NumPy-like array module (NumPy, CuPy).

For q (N, L, H, W), field(q)_i(l) = sum_c [sum_l' theta[c, l, l'] q_{i+d_c}(l')
+ sum_l' theta[c, l', l] q_{i-d_c}(l')], terms for neighbours outside the image dropped.
With q one-hot this is the pairwise part of the log conditionals; mean field adds it to the
unaries. As a linear map of q its matrix is symmetric (entry ((i, l), (i + d_c, l')) is
theta[c, l, l'] from both ends), so the same call is its own adjoint; theta_gradient is its
derivative in theta.
"""
from . import grid

CHUNK = 4  # images per pass: at L=20, 120x160 their q, z and products (float32) stay in cache


def overlaps(offsets, height, width):
    """grid.overlap of every edge class, computed once per image size."""
    return [grid.overlap(offset, height, width) for offset in offsets]


def add_field(xp, z, q, theta, overlap_list):
    """z += field(q), in place, for z and q (N, L, H, W); returns z.

    Each class costs two (L x L) products over whole images and two shifted adds (no gathers).
    """
    n, num_labels, h, w = q.shape
    transposed = xp.ascontiguousarray(theta.transpose(0, 2, 1))
    for first in range(0, n, CHUNK):
        q_part, z_part = q[first:first + CHUNK], z[first:first + CHUNK]
        flat = q_part.reshape(len(q_part), num_labels, h * w)
        for c, (at_i, at_j) in enumerate(overlap_list):
            z_part[(..., *at_i)] += (theta[c] @ flat).reshape(q_part.shape)[(..., *at_j)]
            z_part[(..., *at_j)] += (transposed[c] @ flat).reshape(q_part.shape)[(..., *at_i)]
    return z


def theta_gradient(xp, g, q, overlap_list):
    """(C, L, L) derivative in theta of sum(g * field(q)): per edge (i, j = i + d_c) of class c,
    g_i q_j^T + q_i g_j^T. field is linear in theta, so sum(theta * this) == sum(g * field(q)).

    Per image, q is copied shifted by +d_c and by -d_c for every class into one (2C L, H W)
    buffer (zero where the neighbour is outside), so that one (L, H W) x (H W, 2C L) product
    serves all classes: about 9x faster than one small product per class here.
    """
    n, num_labels, h, w = q.shape
    classes = len(overlap_list)
    shifted = xp.zeros((2 * classes, num_labels, h, w), dtype=q.dtype)
    products = 0
    for k in range(n):
        for c, (at_i, at_j) in enumerate(overlap_list):
            shifted[(c, slice(None), *at_i)] = q[(k, slice(None), *at_j)]  # q_{i+d} at i
            shifted[(classes + c, slice(None), *at_j)] = q[(k, slice(None), *at_i)]  # q_{j-d} at j
        products = products + g[k].reshape(num_labels, h * w) @ shifted.reshape(2 * classes * num_labels, h * w).T
    products = products.reshape(num_labels, 2, classes, num_labels)  # [a, term, c, b]
    return xp.ascontiguousarray(products[:, 0].transpose(1, 0, 2) + products[:, 1].transpose(1, 2, 0))
