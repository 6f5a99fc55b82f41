"""Sum-product loopy belief propagation on the CRF's own edge classes and tables (Chen, Schwing,
Yuille and Urtasun 2015 learn with its beliefs in place of marginals; sampler/learning/loopy_bp.py).

Messages, log domain, float32: messages[n, 0, c] (H, L, W) at pixel j = (y, x), [y, :, x], is
the message into j from i = j - d_c along class c's edge; messages[n, 1, c] at pixel i the
message into i from j = i + d_c; zero where that neighbour lies outside the image. Label-major
rows, so that the kernels read and write a row's messages of one label contiguously (vectors
across pixels). All zero is the cold (uniform) start.

One iteration (parallel, "flooding"): with a_i = u_i + every message into i, every edge
(i, j = i + d_c) gets, from the previous iteration's messages,
    new[0, c](j)(m) = log sum_l exp(a_i(l) - messages[1, c](i)(l) + theta[c, l, m]),
    new[1, c](i)(l) = log sum_m exp(theta[c, l, m] + a_j(m) - messages[0, c](j)(m)),
each shifted so that its largest entry is 0, and is damped in the log domain:
message <- (1 - damping) message + damping new. If the messages converge, the limit satisfies
message = new exactly, so damping does not move the fixed points.

Beliefs: node b_i proportional to exp(a_i) (N, L, H, W); pair b_ij(l, m) proportional to
exp(a_i(l) - messages[1, c](i)(l) + theta[c, l, m] + a_j(m) - messages[0, c](j)(m)), summed per
class (C, L, L). log_partition is minus the Bethe free energy of these beliefs,
sum_i E_b_i[u_i] + sum_ij (E_b_ij[theta] + H(b_ij)) - sum_i (d_i - 1) H(b_i) (d_i: edges at i),
exactly log Z on a tree once the messages have converged. Image-dependent factors are not
supported.
"""
import collections
import numbers

import numpy as np

from . import checks, grid, lbp_kernels, lbp_reference

Beliefs = collections.namedtuple("Beliefs", "nodes pairs log_partition")


def message_shape(num_images, num_classes, num_labels, height, width):
    return (num_images, 2, num_classes, height, num_labels, width)


def message_bytes(num_images, num_classes, num_labels, height, width):
    """Bytes of float32 messages for that many images: images * 2C * L * H * W * 4."""
    return 4 * int(np.prod(message_shape(num_images, num_classes, num_labels, height, width), dtype=np.int64))


def run(scores, theta, offsets, *, iterations=10, damping=0.5, messages=None, pairs=True, backend="auto"):
    """Beliefs(nodes (N, L, H, W) float32, pairs (C, L, L) float64 summed over the batch,
    log_partition (N,) float64) after `iterations` iterations; pairs and log_partition are None
    when pairs is False (inference needs neither).

    messages: None starts every image cold; else a (N, 2, C, H, L, W) float32 array, the start,
    overwritten with the final messages (the warm start). backend "numpy": the plain loops of
    lbp_reference.py; any other: the Numba kernels (the CPU).
    """
    scores, theta, offsets = checks.model(scores, theta, offsets)
    iterations = checks.count(iterations, "iterations")
    if isinstance(damping, bool) or not isinstance(damping, numbers.Real) or not 0 < damping <= 1:
        raise ValueError(f"damping: expected a number in (0, 1], got {damping!r}")
    n, num_labels, h, w = scores.shape
    shape = message_shape(n, len(offsets), num_labels, h, w)
    if messages is not None and not (isinstance(messages, np.ndarray) and messages.shape == shape
                                     and messages.dtype == np.float32 and messages.flags.c_contiguous
                                     and messages.flags.writeable):
        raise ValueError(f"messages: expected a writeable C-contiguous float32 array of shape {shape}, got "
                         f"{type(messages).__name__} {getattr(messages, 'dtype', '')} {np.shape(messages)}")
    method = lbp_reference if backend == "numpy" else lbp_kernels
    cold = np.empty(shape[1:], dtype=np.float32) if messages is None else None
    nodes = np.empty(scores.shape, dtype=np.float32)
    pair_sum = np.zeros((len(offsets), num_labels, num_labels)) if pairs else None
    log_partition = np.zeros(n) if pairs else None
    for k in range(n):
        unary = np.ascontiguousarray(scores[k].transpose(1, 0, 2), dtype=np.float64)  # (H, L, W)
        if messages is None:
            cold[...] = 0
        image = cold if messages is None else messages[k]
        method.iterate(unary, image, theta, offsets, iterations, float(damping))
        total = unary + image.sum(axis=(0, 1), dtype=np.float64)
        log_b = total - _logsumexp(total)
        nodes[k] = np.exp(log_b).transpose(1, 0, 2)
        if pairs:
            at_edges, edge_term = method.pair_beliefs(unary, image, theta, offsets)
            pair_sum += at_edges
            b = np.exp(log_b)
            entropy = -(b * log_b).sum(axis=1)
            log_partition[k] = (b * unary).sum() + ((1 - _degrees(offsets, h, w)) * entropy).sum() + edge_term
    return Beliefs(nodes, pair_sum, log_partition)


def lbp(scores, theta, offsets, *, iterations=10, damping=0.5, backend="auto"):
    """(N, L, H, W) float32 node beliefs after `iterations` damped iterations from uniform messages;
    their argmax is the LBP max-marginal labelling."""
    return run(scores, theta, offsets, iterations=iterations, damping=damping, pairs=False, backend=backend).nodes


def _degrees(offsets, h, w):
    """(H, W) number of edges at each pixel."""
    forward, backward = grid.neighbours(grid.key(offsets), h, w)
    return ((forward < h * w).sum(axis=0) + (backward < h * w).sum(axis=0)).reshape(h, w)


def _logsumexp(total):
    """log sum exp over the labels of (H, L, W)."""
    top = total.max(axis=1, keepdims=True)
    return top + np.log(np.exp(total - top).sum(axis=1, keepdims=True))
