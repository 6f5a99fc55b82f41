"""Whole-chain operations for a backend that does not provide its own, written with that backend's
single operations (op(name) returns them: its sweep, its count, its pair_counts), so a chain runs
on one backend throughout. Signatures as in numpy_backend's docstring, after `op`."""
import numpy as np


def weighted(weights):
    """The keyword arguments that pass weights on to a backend operation: none for the stationary
    model, so that a backend written before weights existed still serves it."""
    return {} if weights is None else {"weights": weights}


def train_step(op, scores, labels, theta, offsets, bases, schedule, weights=None):
    """len(bases) sweeps of labels in place, sweep s with bases[s]; returns the (C, L, L) int64
    pair counts of the final labels summed over the batch, or with weights the (C, K, L, L)
    float64 weighted ones."""
    for row in bases:
        labels = op("sweep")(scores, labels, theta, offsets, row, schedule, **weighted(weights))
    if weights is None:
        return op("pair_counts")(labels, offsets, scores.shape[1])
    return op("weighted_pair_counts")(labels, weights, offsets, scores.shape[1])


def marginal_counts(op, scores, labels, theta, offsets, bases, burn_in, schedule, weights=None):
    """(N, L, H, W) int32 label counts over sweeps burn_in.. of len(bases) sweeps from labels
    (updated in place), sweep s with bases[s]."""
    counts = np.zeros(scores.shape, dtype=np.int32)
    for s, row in enumerate(bases):
        labels = op("sweep")(scores, labels, theta, offsets, row, schedule, **weighted(weights))
        if s >= burn_in:
            op("count")(counts, labels)
    return counts
