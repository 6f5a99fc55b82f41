"""The paper's learning step: maximum likelihood with one persistent Gibbs chain per training image.

gibbs_ml_step takes the batch's stored chain rows (sampler.ChainStore.encode_rows layout), sweeps
each image's labelling under the current scores and theta, and returns the new rows with the
statistics' difference: d log p / d u = one-hot(truth) - one-hot(sample) and d log p / d theta =
pair_counts(truth) - pair_counts(sample), the stochastic gradient of the log-likelihood (its
expectation over the sample is the exact gradient when the chain has mixed).

With image-dependent ("gated") factors, weights (N, K, H, W) and theta (C, K, L, L)
(sampler/gating.py), the pair statistics are weighted by each edge's weights, and the weights
get their own gradient: the table entries of the truth's label pairs at each pixel's edges minus
the sample's (sampler.stats.weight_statistics).

Its value is E(truth) - E(sample), the batch's energy gap: linear in the statistics, so its
derivative with the sample held fixed is exactly the gradient returned, and its expectation is
zero at the maximum-likelihood optimum. Like the other learners here it is to be maximised.
"""
from typing import NamedTuple

import numpy as np

from .. import api, stats
from ..chains import ChainStore


class GibbsMLStep(NamedTuple):
    rows: np.ndarray     # (N, columns) float32: the chains' new store rows
    sample: np.ndarray   # (N, H, W) uint8: the labelling the sweeps reached
    truth: np.ndarray    # (N, H, W) uint8
    value: float         # E(truth) - E(sample), summed over the batch
    d_theta: np.ndarray  # (C, L, L) int64 pair_counts(truth) - pair_counts(sample); gated: (C, K, L, L) float64
    d_weights: np.ndarray = None  # gated only: (N, K, H, W) float64, d value / d weights

    def d_scores(self, out=None, scale=1.0):
        """scale * (one-hot(truth) - one-hot(sample)), (N, L, H, W) float32, written into `out`
        (a new array when None): the unaries' gradient, materialised only when asked for."""
        if out is None:
            n, h, w = self.truth.shape
            out = np.empty((n, len(self.d_theta[0]), h, w), dtype=np.float32)
        stats.onehot_difference(out, self.truth, self.sample, scale)
        return out


def gibbs_ml_step(scores, truth, theta, offsets, rows, *, seed=0, keys, sweeps=1, backend="auto",
                  schedule="chromatic", weights=None):
    """One learning step on a batch: scores (N, L, H, W) float32, truth (N, H, W) uint8, theta
    (C, L, L), offsets (C, 2), rows the images' chain-store rows, keys (N,) their indices in the
    training set (the random streams are keyed by seed, key and each chain's sweep counter, so
    a resumed run continues the same streams); gated: weights (N, K, H, W), theta (C, K, L, L).
    ValueError names what is wrong with the input."""
    n, num_labels, h, w = np.shape(scores)
    sample, steps = ChainStore.decode_rows(rows, h, w, num_labels)
    for s in range(sweeps):
        sample = api.sweep(scores, sample, theta, offsets, seed=seed, keys=keys, step=steps + s, backend=backend,
                           schedule=schedule, weights=weights)
    # statistics(sample) - statistics(truth): only edges at pixels where they differ count
    if weights is None:
        counts, d_weights = stats.pair_count_difference(sample, truth, offsets, num_labels), None
    else:
        counts = stats.weighted_pair_count_difference(sample, truth, weights, offsets, num_labels)
        d_weights = -stats.weight_statistics_difference(sample, truth, theta, offsets)
    gap = stats.unary_gap(scores, sample, truth) + float(np.sum(theta * counts))
    return GibbsMLStep(rows=ChainStore.encode_rows(sample, steps + sweeps, num_labels), sample=sample, truth=truth,
                       value=-gap, d_theta=-counts, d_weights=d_weights)
