"""Reference backend: vectorised NumPy, short and obviously right, slow.

Every backend function takes validated, contiguous inputs (see sampler/checks.py):
scores (N, L, H, W) float32, labels (N, H, W) uint8 (updated in place and returned),
theta (C, L, L) float32, offsets (C, 2) int64, bases (N,) uint64 (sampler/rng.py), or
(S, N) for the whole-chain operations (one row per sweep: backends/generic.py, which also
serves this backend), and last the keyword weights: None, or (N, K, H, W) float32 with theta
(C, K, L, L) (sampler/gating.py). Other backends implement any subset; missing single operations fall
back to these (sampler/backends/__init__.py).

Arithmetic is float64 in a fixed order (unary, then for each class c the term of
i + d_c, then that of i - d_c; with weights, each term k = 0..K-1, weight times entry), which
numba_backend repeats so both usually agree exactly.
"""
import numpy as np

from .. import gating, grid, kernelmath, rng
from .. import mean_field
from ..colouring import schedule_plan
from ..stats import pair_counts  # noqa: F401 (the backend operation: (C, L, L) int64 of (N, H, W) labels)
from ..stats import weighted_pair_counts  # noqa: F401 ((C, K, L, L) float64 of labels and (N, K, H, W) weights)


def available():
    return True


class _Model:
    """Flattened scores, tables padded with a zero row for the "outside" label L, neighbour tables;
    with weights, K tables per class and each pixel's edge weights to its neighbours (float64 of
    sampler/gating.py's float32 w_k(i, j); the outside neighbour's half weight is 0)."""

    def __init__(self, scores, theta, offsets, weights=None):
        n, num_labels, h, w = scores.shape
        self.key, self.shape = grid.key(offsets), (h, w)
        self.scores = scores.reshape(n, num_labels, h * w)
        self.forward, self.backward = grid.neighbours(self.key, h, w)
        self.weighted = weights is not None
        self.forward_weight = self.backward_weight = None
        tables = theta[:, None] if theta.ndim == 3 else theta  # (C, K, L, L)
        pad = np.zeros(tables.shape[:2] + (1, num_labels))
        self.forward_table = np.concatenate([tables.transpose(0, 1, 3, 2), pad], axis=2).astype(np.float64)
        self.backward_table = np.concatenate([tables, pad], axis=2).astype(np.float64)
        if self.weighted:
            half = gating.halves(weights).reshape(n, -1, h * w)
            half = np.concatenate([half, np.zeros(half.shape[:2] + (1,), np.float32)], axis=2)
            own = half[:, :, None, :h * w]  # (N, K, 1, H*W)
            self.forward_weight = (own + half[:, :, self.forward]).astype(np.float64)  # (N, K, C, H*W)
            self.backward_weight = (own + half[:, :, self.backward]).astype(np.float64)

    def padded(self, labels):
        """(N, H*W + 1) labels with the outside label L in the last slot."""
        n, num_labels = self.scores.shape[:2]
        return np.concatenate([labels.reshape(n, -1), np.full((n, 1), num_labels, np.uint8)], axis=1)

    def logits(self, padded, pixels):
        """(N, len(pixels), L) float64 unnormalised log conditionals of the given flat pixels."""
        out = self.scores[:, :, pixels].transpose(0, 2, 1).astype(np.float64)
        for c in range(len(self.forward)):
            for table, weight, neighbour in ((self.forward_table, self.forward_weight, self.forward),
                                             (self.backward_table, self.backward_weight, self.backward)):
                for k in range(table.shape[1]):
                    rows = table[c, k][padded[:, neighbour[c, pixels]]]
                    out += weight[:, k, c, pixels, None] * rows if self.weighted else rows
        return out


def draw(logits, u):
    """Inverse-CDF draw per row of (..., L) logits with uniforms (...): the first l with
    cumsum(w) > u * lane_sum(w), w = exp_neg(logits - max); if rounding leaves none, the
    first l of largest weight."""
    weights = kernelmath.exp_neg(logits - logits.max(axis=-1, keepdims=True))
    first = np.sum(np.cumsum(weights, axis=-1) <= (u * kernelmath.lane_sum(weights))[..., None], axis=-1)
    return np.where(first < logits.shape[-1], first, weights.argmax(axis=-1))


def improve(logits, current):
    """ICM choice: the first best label, but keep the current one unless strictly beaten."""
    best = logits.argmax(axis=-1)
    keep = np.take_along_axis(logits, current[..., None].astype(np.intp), -1)[..., 0] >= logits.max(axis=-1)
    return np.where(keep, current, best)


def _scan(model, labels, schedule, choose):
    """Update the groups of `schedule` in order; choose(logits, pixels, current) -> new labels."""
    order, starts = schedule_plan(model.key, *model.shape, schedule)
    padded = model.padded(labels)
    for g in range(len(starts) - 1):
        pixels = order[starts[g]:starts[g + 1]]
        padded[:, pixels] = choose(model.logits(padded, pixels), pixels, padded[:, pixels])
    labels[...] = padded[:, :-1].reshape(labels.shape)
    return labels


def sweep(scores, labels, theta, offsets, bases, schedule, weights=None):
    model = _Model(scores, theta, offsets, weights)
    return _scan(model, labels, schedule, lambda z, pixels, _: draw(z, rng.uniform(bases[:, None], pixels)))


def icm(scores, labels, theta, offsets, iterations, weights=None):
    model = _Model(scores, theta, offsets, weights)
    for _ in range(iterations):
        before = labels.copy()
        _scan(model, labels, "chromatic", lambda z, _, current: improve(z, current))
        if np.array_equal(before, labels):
            break
    return labels


def conditionals(scores, labels, theta, offsets, weights=None):
    model = _Model(scores, theta, offsets, weights)
    z = model.logits(model.padded(labels), np.arange(labels[0].size))
    z -= z.max(axis=-1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return z.transpose(0, 2, 1).reshape(scores.shape).astype(np.float32)


def count(counts, labels):
    """counts (N, L, H, W) += one-hot(labels); each (image, pixel) has one label, so no collisions."""
    n, num_labels, h, w = counts.shape
    flat = labels.reshape(n, h * w).astype(np.int64)
    index = (np.arange(n)[:, None] * num_labels + flat) * (h * w) + np.arange(h * w)
    counts.reshape(-1)[index] += 1


def meanfield(scores, theta, offsets, iterations, damping, weights=None):
    return mean_field.meanfield(np, scores, theta, offsets, iterations, damping, weights)
