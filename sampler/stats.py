"""Energy and sufficient statistics: pair counts (NumPy: cheap), and the one-hot statistics a
loss layer needs every step, in one pass each (Numba: they touch every score)."""
import numba
import numpy as np

from . import gating, grid


def energy(scores, labels, theta, offsets, weights=None):
    """(N,) float64 E(y) = sum_i u_i(y_i) + sum_c sum_edges theta[c, y_i, y_j], or with weights
    (N, K, H, W) and theta (C, K, L, L) sum_k w_k(i, j) theta[c, k, y_i, y_j] per edge; inputs validated."""
    n, num_labels, h, w = scores.shape
    flat = labels.reshape(n, h * w).astype(np.intp)
    unary = np.take_along_axis(scores.reshape(n, num_labels, h * w), flat[:, None], 1)[:, 0]
    total = unary.astype(np.float64).sum(axis=1)
    half = None if weights is None else gating.halves(weights)
    for c in range(len(offsets)):
        i, j = grid.edges(grid.key(offsets), h, w, c)
        if half is None:
            total += theta[c][flat[:, i], flat[:, j]].astype(np.float64).sum(axis=1)
            continue
        edge = gating.edge_weights(half, i, j).astype(np.float64)
        for k in range(theta.shape[1]):
            total += (edge[:, k] * theta[c, k][flat[:, i], flat[:, j]]).sum(axis=1)
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


def weighted_pair_counts(labels, weights, offsets, num_labels):
    """(C, K, L, L) float64: sum over the edges of all images of w_k(i, j) [y_i = l, y_{i+d_c} = l']
    for labels (N, H, W) and weights (N, K, H, W) (sampler/gating.py)."""
    n, h, w = labels.shape
    flat = labels.reshape(n, h * w).astype(np.int64)
    half = gating.halves(weights)
    counts = np.zeros((len(offsets), half.shape[1], num_labels * num_labels))
    for c in range(len(offsets)):
        i, j = grid.edges(grid.key(offsets), h, w, c)
        codes = (flat[:, i] * num_labels + flat[:, j]).ravel()
        edge = gating.edge_weights(half, i, j)
        for k in range(half.shape[1]):
            counts[c, k] = np.bincount(codes, weights=edge[:, k].ravel().astype(np.float64), minlength=num_labels ** 2)
    return counts.reshape(len(offsets), half.shape[1], num_labels, num_labels)


def weight_statistics(labels, theta, offsets):
    """(N, K, H, W) float64 dE/dweights[k, i] = 0.5 * sum over the edges e at pixel i of
    theta[c_e, k, y_e] for labels (N, H, W) and theta (C, K, L, L): the weights' sufficient
    statistics (E is linear in the weights)."""
    n, h, w = labels.shape
    flat = labels.reshape(n, h * w).astype(np.intp)
    half = 0.5 * theta.astype(np.float64)
    out = np.zeros((half.shape[1], n, h * w))  # (K, N, H*W): the gathers below come out in this order
    for c in range(len(offsets)):
        i, j = grid.edges(grid.key(offsets), h, w, c)  # each pixel ends at most one edge of a class
        entries = half[c][:, flat[:, i], flat[:, j]]
        out[:, :, i] += entries
        out[:, :, j] += entries
    return np.ascontiguousarray(out.transpose(1, 0, 2)).reshape(n, half.shape[1], h, w)


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


def weighted_pair_count_difference(plus, minus, weights, offsets, num_labels):
    """(C, K, L, L) float64 weighted_pair_counts(plus) - weighted_pair_counts(minus) for labellings
    (N, H, W) uint8 and weights (N, K, H, W) float32, from the edges that touch a pixel where the
    two differ (as pair_count_difference)."""
    per_image = np.zeros((len(plus), len(offsets), weights.shape[1], num_labels, num_labels))
    _weighted_pair_count_difference(plus, minus, weights, np.asarray(offsets, dtype=np.int64), per_image)
    return per_image.sum(axis=0)


def weight_statistics_difference(plus, minus, theta, offsets):
    """(N, K, H, W) float64 weight_statistics(plus) - weight_statistics(minus) for labellings
    (N, H, W) uint8 and theta (C, K, L, L), from the edges that touch a pixel where the two differ
    (zero elsewhere): the energy gap's derivative in the weights."""
    n, h, w = plus.shape
    out = np.zeros((n, theta.shape[1], h, w))
    _weight_statistics_difference(plus, minus, theta, np.asarray(offsets, dtype=np.int64), out)
    return out


@numba.njit(cache=True)
def _differing_edges(p, m, offsets, c, y, x):
    """The ends (y0, x0, y1, x1) of up to two edges of class c at pixel (y, x), where p and m
    differ: its forward edge, and its backward edge unless that edge's earlier end differs too
    (then it is that end's forward edge); a missing edge has y0 = -1."""
    h, w = p.shape
    dy, dx = offsets[c, 0], offsets[c, 1]
    forward = (y, x, y + dy, x + dx) if 0 <= y + dy < h and 0 <= x + dx < w else (-1, -1, -1, -1)
    ny, nx = y - dy, x - dx
    backward = (ny, nx, y, x) if 0 <= ny < h and 0 <= nx < w and p[ny, nx] == m[ny, nx] else (-1, -1, -1, -1)
    return forward, backward


@numba.njit(parallel=True, cache=True)
def _weighted_pair_count_difference(plus, minus, weights, offsets, out):
    n, h, w = plus.shape
    half = np.float32(0.5)  # sampler/gating.py: w_k(i, j) = 0.5 a_k(i) + 0.5 a_k(j) in float32
    for image in numba.prange(n):
        p, m, a = plus[image], minus[image], weights[image]
        for y in range(h):
            for x in range(w):
                if p[y, x] == m[y, x]:
                    continue
                for c in range(offsets.shape[0]):
                    for y0, x0, y1, x1 in _differing_edges(p, m, offsets, c, y, x):
                        if y0 < 0:
                            continue
                        for k in range(a.shape[0]):
                            weight = np.float64(half * a[k, y0, x0] + half * a[k, y1, x1])
                            out[image, c, k, p[y0, x0], p[y1, x1]] += weight
                            out[image, c, k, m[y0, x0], m[y1, x1]] -= weight


@numba.njit(parallel=True, cache=True)
def _weight_statistics_difference(plus, minus, theta, offsets, out):
    n, h, w = plus.shape
    for image in numba.prange(n):
        p, m, o = plus[image], minus[image], out[image]
        for y in range(h):
            for x in range(w):
                if p[y, x] == m[y, x]:
                    continue
                for c in range(offsets.shape[0]):
                    for y0, x0, y1, x1 in _differing_edges(p, m, offsets, c, y, x):
                        if y0 < 0:
                            continue
                        for k in range(theta.shape[1]):
                            gap = 0.5 * (np.float64(theta[c, k, p[y0, x0], p[y1, x1]])
                                         - np.float64(theta[c, k, m[y0, x0], m[y1, x1]]))
                            o[k, y0, x0] += gap
                            o[k, y1, x1] += gap
