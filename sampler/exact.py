"""Exact enumeration of a tiny model (one image): ground truth for tests and audits."""
import collections

import numpy as np

from . import checks, grid, stats

MAX_STATES = 2_000_000
BATCH = 1 << 15  # states per block, bounds memory

Exact = collections.namedtuple("Exact", "marginals pair_expectations log_partition")


def enumerate(scores, theta, offsets):
    """Exact marginals (L, H, W), expected pair counts (C, L, L) and log Z for one image."""
    scores = np.asarray(scores)
    scores, theta, offsets = checks.model(scores[None] if scores.ndim == 3 else scores, theta, offsets)
    if len(scores) != 1:
        raise ValueError(f"scores: exact enumeration takes one image, got {len(scores)}")
    _, num_labels, h, w = scores.shape
    states = num_labels ** (h * w)
    if states > MAX_STATES:
        raise ValueError(f"scores: {num_labels}^{h * w} = {states} labellings, more than {MAX_STATES} to enumerate")
    blocks = [(s, min(states, s + BATCH)) for s in range(0, states, BATCH)]
    energies = np.concatenate([stats.energy(np.broadcast_to(scores, (b - a,) + scores.shape[1:]),
                                            _labellings(a, b, num_labels, h, w), theta, offsets)
                               for a, b in blocks])
    top = energies.max()
    log_z = top + np.log(np.exp(energies - top).sum())
    marginals = np.zeros((num_labels, h * w))
    pairs = np.zeros((len(offsets), num_labels * num_labels))
    for a, b in blocks:
        p = np.exp(energies[a:b] - log_z)
        y = _labellings(a, b, num_labels, h, w).reshape(b - a, h * w).astype(np.int64)
        for pixel in range(h * w):
            marginals[:, pixel] += np.bincount(y[:, pixel], weights=p, minlength=num_labels)
        for c in range(len(offsets)):
            i, j = grid.edges(grid.key(offsets), h, w, c)
            codes = y[:, i] * num_labels + y[:, j]
            pairs[c] += np.bincount(codes.ravel(), weights=np.repeat(p, len(i)), minlength=num_labels ** 2)
    return Exact(marginals.reshape(num_labels, h, w), pairs.reshape(len(offsets), num_labels, num_labels),
                 float(log_z))


def _labellings(start, stop, num_labels, h, w):
    """Labellings number start..stop-1 (pixel p is digit p in base L): (n, H, W) uint8."""
    index = np.arange(start, stop, dtype=np.int64)[:, None]
    return (index // num_labels ** np.arange(h * w, dtype=np.int64) % num_labels).astype(np.uint8).reshape(-1, h, w)
