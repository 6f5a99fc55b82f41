"""Numba kernels of the pairwise field (pair_field.py holds the one definition; tests check the two
agree) for NumPy arrays: add_field (z += field(q), image rows in parallel) and the derivative in
the image-dependent factors' weights, weights_gradient (images in parallel).

Why a kernel: pair_field.add_field's NumPy form makes, per edge class, two (L x L) products over
whole images and then adds them shifted into z: the products are fast BLAS, but every one writes a
temporary the size of the scores that the strided add reads back, so a field is memory-bound (two
cores ~1.8 busy, and slower still on a loaded machine). Here each row of z is summed in a local
(L, W) buffer that stays in the L1 cache while every class's neighbour rows of q stream past it,
copied into a label-major block and multiplied by the table: no temporaries. Same multiply-adds,
summed in another order (float32: differences ~1e-6 of the field's size). theta_gradient stays one
BLAS product per image (pair_field.py): a kernel of L x L dot products per row measured 10x
slower. tools/bench_meanfield.py times both forms.

The products are lbp_kernels._product (explicit vectors). Numba's on-disk cache checks only the
file that defines a kernel, so after an edit to _product (or to the numba_backend intrinsics it
uses) touch this file too, or the cached kernels keep the old product.
"""
import numba
import numpy as np

from .lbp_kernels import _padded, _product  # the L x L product of a label-major block (explicit vectors)


def add_field(z, q, theta, offsets, half=None):
    """z += field(q), in place, for C-contiguous float32 NumPy z, q (N, L, H, W); returns z. theta
    (C, L, L), or with half (N, K, H, W) the halved weights (sampler/gating.py) (C, K, L, L): edge
    (i, j) of class c has the table sum_k w_k(i, j) theta[c, k]."""
    if q.dtype != np.float32 or z.dtype != np.float32:
        raise ValueError(f"field_kernels.add_field: float32 arrays only, got {z.dtype} and {q.dtype}")
    theta = np.asarray(theta, dtype=np.float32)
    tables = theta[:, None] if half is None else theta  # (C, K, L, L)
    # _product's layout, [m * L + l] = T[l, m]: T = theta for the neighbour at +d (row 2c), its
    # transpose for the one at -d (row 2c + 1)
    stacked = np.stack([tables.transpose(0, 1, 3, 2), tables], axis=1).reshape(2 * len(theta), tables.shape[1], -1)
    halves = np.zeros((1, 1, 1, 1), np.float32) if half is None else half  # read only when weighted
    _add_field(z, q, np.ascontiguousarray(stacked), np.ascontiguousarray(halves, dtype=np.float32),
               np.ascontiguousarray(offsets, dtype=np.int64), half is not None)
    return z


@numba.njit(cache=True, inline="always")
def _span(y, dy, dx, height, width):
    """(row of the neighbour, first x, end x) of the pixels (y, x) of row y whose neighbour
    (y + dy, x + dx) is inside the image; the row is -1 when there are none."""
    row, start, end = y + dy, max(0, -dx), min(width, width - dx)
    if row < 0 or row >= height or start >= end:
        return -1, 0, 0
    return row, start, end


@numba.njit(parallel=True, cache=True)
def _add_field(z, q, tables, half, offsets, weighted):
    """Per image row, per class, neighbour side and table k: the neighbours' q (times the edge
    weights w_k = half_k(here) + half_k(neighbour), gating.py's sum, when weighted) copied into a
    label-major block, one _product with the table, and the result added to the row's total."""
    n, num_labels, height, width = q.shape
    widest = _padded(width)
    for task in numba.prange(n * height):
        image, y = task // height, task % height
        total = z[image, :, y, :].copy()
        block = np.zeros(num_labels * widest, dtype=np.float32)
        out = np.empty(num_labels * widest, dtype=np.float32)
        weight = np.empty(width, dtype=np.float32)
        for c in range(offsets.shape[0]):
            for side in range(2):
                sign = 1 - 2 * side
                dy, dx = sign * offsets[c, 0], sign * offsets[c, 1]
                row, start, end = _span(y, dy, dx, height, width)
                if row < 0:
                    continue
                count = end - start
                span = _padded(count)
                for k in range(tables.shape[1]):
                    if weighted:
                        weight[:count] = half[image, k, y, start:end] + half[image, k, row, start + dx:end + dx]
                        for m in range(num_labels):
                            block[m * span:m * span + count] = weight[:count] * q[image, m, row, start + dx:end + dx]
                    else:
                        for m in range(num_labels):
                            block[m * span:m * span + count] = q[image, m, row, start + dx:end + dx]
                    _product(block, tables[2 * c + side, k], num_labels, span, out)
                    for l in range(num_labels):
                        total[l, start:end] += out[l * span:l * span + count]
        z[image, :, y, :] = total


def weights_gradient(g, q, theta, offsets, half):
    """pair_field.weights_gradient for C-contiguous NumPy g, q (N, L, H, W) of one float dtype and
    theta (C, K, L, L): (N, K, H, W). half only fixes the shape (the derivative does not depend on it)."""
    theta = np.ascontiguousarray(theta, dtype=q.dtype)
    out = np.zeros(half.shape, dtype=q.dtype)
    _weights_gradient(g, q, theta, np.ascontiguousarray(offsets, dtype=np.int64), out)
    return out


@numba.njit(parallel=True, cache=True, fastmath={"contract"})
def _weights_gradient(g, q, theta, offsets, out):
    """Per edge (i, j = i + d_c), dw_k = g_i . theta[c, k] q_j + q_i . theta[c, k] g_j, half of it to
    each end; images in parallel (an edge writes to two rows of its image)."""
    n, num_labels, height, width = q.shape
    for image in numba.prange(n):
        pulled = np.empty((num_labels, width), dtype=q.dtype)  # theta q_j
        pushed = np.empty((num_labels, width), dtype=q.dtype)  # theta g_j
        for y in range(height):
            for c in range(offsets.shape[0]):
                dx = offsets[c, 1]
                row, start, end = _span(y, offsets[c, 0], dx, height, width)
                if row < 0:
                    continue
                for k in range(theta.shape[1]):
                    pulled[:, start:end] = 0
                    pushed[:, start:end] = 0
                    for m in range(num_labels):
                        q_j, g_j = q[image, m, row, start + dx:end + dx], g[image, m, row, start + dx:end + dx]
                        for l in range(num_labels):
                            t = theta[c, k, l, m]
                            for x in range(end - start):
                                pulled[l, start + x] += t * q_j[x]
                                pushed[l, start + x] += t * g_j[x]
                    for x in range(start, end):
                        dw = 0.0
                        for l in range(num_labels):
                            dw += g[image, l, y, x] * pulled[l, x] + q[image, l, y, x] * pushed[l, x]
                        out[image, k, y, x] += 0.5 * dw
                        out[image, k, row, x + dx] += 0.5 * dw
