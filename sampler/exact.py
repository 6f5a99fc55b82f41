"""Exact enumeration of a tiny model (one image): ground truth for tests and audits."""
import collections

import numpy as np

from . import checks, gating, grid, stats

MAX_STATES = 2_000_000
BATCH = 1 << 15  # states per block, bounds memory

Exact = collections.namedtuple("Exact", "marginals pair_expectations log_partition weight_expectations",
                               defaults=(None,))


def enumerate(scores, theta, offsets, weights=None):
    """Exact marginals (L, H, W), expected pair counts (C, L, L) and log Z for one image.

    With weights (K, H, W) and theta (C, K, L, L) (sampler/gating.py): the expected weighted
    pair counts (C, K, L, L) and, as weight_expectations, E[weight_statistics(y)] (K, H, W).
    """
    scores = np.asarray(scores)
    if weights is not None and np.ndim(weights) == 3:
        weights = np.asarray(weights)[None]
    scores, theta, offsets, weights = checks.weighted_model(scores[None] if scores.ndim == 3 else scores, theta,
                                                            offsets, weights)
    if len(scores) != 1:
        raise ValueError(f"scores: exact enumeration takes one image, got {len(scores)}")
    _, num_labels, h, w = scores.shape
    states = num_labels ** (h * w)
    if states > MAX_STATES:
        raise ValueError(f"scores: {num_labels}^{h * w} = {states} labellings, more than {MAX_STATES} to enumerate")
    blocks = [(s, min(states, s + BATCH)) for s in range(0, states, BATCH)]

    def batch(array, size):
        return None if array is None else np.broadcast_to(array, (size,) + array.shape[1:])
    energies = np.concatenate([stats.energy(batch(scores, b - a), _labellings(a, b, num_labels, h, w), theta, offsets,
                                            batch(weights, b - a))
                               for a, b in blocks])
    top = energies.max()
    log_z = top + np.log(np.exp(energies - top).sum())
    per_class = 1 if weights is None else weights.shape[1]
    marginals = np.zeros((num_labels, h * w))
    pairs = np.zeros((len(offsets), per_class, num_labels * num_labels))
    weight_stats = None if weights is None else np.zeros((per_class, h, w))
    for a, b in blocks:
        p = np.exp(energies[a:b] - log_z)
        labellings = _labellings(a, b, num_labels, h, w)
        y = labellings.reshape(b - a, h * w).astype(np.int64)
        for pixel in range(h * w):
            marginals[:, pixel] += np.bincount(y[:, pixel], weights=p, minlength=num_labels)
        for c in range(len(offsets)):
            i, j = grid.edges(grid.key(offsets), h, w, c)
            codes = y[:, i] * num_labels + y[:, j]
            if weights is None:
                pairs[c, 0] += np.bincount(codes.ravel(), weights=np.repeat(p, len(i)), minlength=num_labels ** 2)
                continue
            edge = gating.edge_weights(gating.halves(weights), i, j)[0].astype(np.float64)  # (K, E)
            for k in range(per_class):
                pairs[c, k] += np.bincount(codes.ravel(), weights=(p[:, None] * edge[k]).ravel(),
                                           minlength=num_labels ** 2)
        if weights is not None:
            weight_stats += np.tensordot(p, stats.weight_statistics(labellings, theta, offsets), axes=1)
    pairs = pairs.reshape(len(offsets), per_class, num_labels, num_labels)
    return Exact(marginals.reshape(num_labels, h, w), pairs[:, 0] if weights is None else pairs, float(log_z),
                 weight_stats)


def _labellings(start, stop, num_labels, h, w):
    """Labellings number start..stop-1 (pixel p is digit p in base L): (n, H, W) uint8."""
    index = np.arange(start, stop, dtype=np.int64)[:, None]
    return (index // num_labels ** np.arange(h * w, dtype=np.int64) % num_labels).astype(np.uint8).reshape(-1, h, w)
