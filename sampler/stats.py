"""Energy and sufficient statistics: pair counts (NumPy: cheap), and the one-hot statistics a
loss layer needs every step, in one pass each (Numba: they touch every score)."""
import numba
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


@numba.njit(parallel=True, cache=True)
def unary_gap(scores, plus, minus):
    """sum over images and pixels of scores[n, plus, y, x] - scores[n, minus, y, x] (float64) for
    scores (N, L, H, W) float32 and labellings (N, H, W) uint8: the unary part of E(plus) - E(minus)."""
    n, num_labels, h, w = scores.shape
    total = 0.0
    for image in numba.prange(n):
        for y in range(h):
            for x in range(w):
                a, b = plus[image, y, x], minus[image, y, x]
                if a != b:
                    total += np.float64(scores[image, a, y, x]) - np.float64(scores[image, b, y, x])
    return total


@numba.njit(parallel=True, cache=True)
def onehot_difference(out, plus, minus, scale):
    """out (N, L, H, W) float32 = scale * (one-hot(plus) - one-hot(minus)) for labellings (N, H, W)."""
    n, num_labels, h, w = out.shape
    value = np.float32(scale)
    for image in numba.prange(n):
        out[image] = 0
        for y in range(h):
            for x in range(w):
                a, b = plus[image, y, x], minus[image, y, x]
                if a != b:
                    out[image, a, y, x] = value
                    out[image, b, y, x] = -value


def pair_count_difference(plus, minus, offsets, num_labels):
    """(C, L, L) int64 pair_counts(plus) - pair_counts(minus) for labellings (N, H, W) uint8,
    from the edges that touch a pixel where the two differ (the others cancel): work in
    proportion to the disagreement, which a trained model's sample keeps small."""
    per_image = np.zeros((len(plus), len(offsets), num_labels, num_labels), dtype=np.int32)
    _pair_count_difference(plus, minus, np.asarray(offsets, dtype=np.int64), per_image)
    return per_image.sum(axis=0, dtype=np.int64)


@numba.njit(parallel=True, cache=True)
def _pair_count_difference(plus, minus, offsets, out):
    n, h, w = plus.shape
    for image in numba.prange(n):
        p, m, counts = plus[image], minus[image], out[image]
        for y in range(h):
            for x in range(w):
                if p[y, x] == m[y, x]:
                    continue
                for c in range(offsets.shape[0]):
                    dy, dx = offsets[c, 0], offsets[c, 1]
                    ny, nx = y + dy, x + dx  # the forward edge: (y, x) is its earlier end, counted here
                    if 0 <= ny < h and 0 <= nx < w:
                        counts[c, p[y, x], p[ny, nx]] += 1
                        counts[c, m[y, x], m[ny, nx]] -= 1
                    ny, nx = y - dy, x - dx  # the backward edge: counted here unless its earlier end differs too
                    if 0 <= ny < h and 0 <= nx < w and p[ny, nx] == m[ny, nx]:
                        counts[c, p[ny, nx], p[y, x]] += 1
                        counts[c, m[ny, nx], m[y, x]] -= 1
