"""Loopy belief propagation written plainly, edge by edge, for the tests: the same functions as
lbp_kernels.py (same layout, update and float32 storage of the messages), with logsumexp over
the tables themselves. It works on labels-last views of unary (H, L, W) and of the messages
(2, C, H, L, W): one pixel's label vector is [y, x]."""
import numpy as np


def iterate(unary, messages, theta, offsets, iterations, damping):
    unary, messages = _labels_last(unary), _labels_last(messages)  # views: the writes land in place
    for _ in range(iterations):
        old = messages.astype(np.float64)
        total = unary + old.sum(axis=(0, 1))
        for c, i, j in _edges(offsets, *unary.shape[:2]):
            # into j = i + d_c from i: log sum_l exp(a_i(l) + theta[c, l, m]), a_i without j's message
            into_j = _logsumexp(total[i] - old[1, c][i] + theta[c].T)
            into_i = _logsumexp(theta[c] + (total[j] - old[0, c][j]))
            messages[0, c][j] = (1 - damping) * old[0, c][j] + damping * (into_j - into_j.max())
            messages[1, c][i] = (1 - damping) * old[1, c][i] + damping * (into_i - into_i.max())


def pair_beliefs(unary, messages, theta, offsets):
    unary, m = _labels_last(unary), _labels_last(messages).astype(np.float64)
    total = unary + m.sum(axis=(0, 1))
    pairs, edge_term = np.zeros(theta.shape), 0.0
    for c, i, j in _edges(offsets, *unary.shape[:2]):
        a_i, a_j = total[i] - m[1, c][i], total[j] - m[0, c][j]
        log_b = a_i[:, None] + theta[c] + a_j[None, :]
        log_z = _logsumexp(log_b.ravel())
        b = np.exp(log_b - log_z)
        pairs[c] += b
        edge_term += log_z - (b * (a_i[:, None] + a_j[None, :])).sum()
    return pairs, edge_term


def _labels_last(array):
    return np.swapaxes(array, -1, -2)


def _edges(offsets, h, w):
    """(c, i, j) with i and j = i + d_c as (row, column) inside the image."""
    for c, (dy, dx) in enumerate(np.asarray(offsets).tolist()):
        for y in range(h):
            for x in range(w):
                if 0 <= y + dy < h and 0 <= x + dx < w:
                    yield c, (y, x), (y + dy, x + dx)


def _logsumexp(rows):
    """log sum exp over the last axis."""
    top = rows.max(axis=-1, keepdims=True)
    return (top + np.log(np.exp(rows - top).sum(axis=-1, keepdims=True)))[..., 0]
