"""Labels from scores: the CRF's marginals by one of its inference methods, the one path that the
deploy layer (layers/crf_infer.py) and the evaluation of stored scores share.

Gibbs sampling keys each image's random streams by a checksum of the image's own scores, so an
image's marginals depend on (seed, its scores, theta) only: not on its batch, its place in the
batch, or whether the scores came through a deploy net or from a file.
"""
import zlib

import numpy as np

from . import api, belief_propagation

METHODS = ("gibbs", "meanfield", "icm", "lbp")
ITERATIONS = 10  # of mean field, ICM and LBP: the deploy layer's default (layers/params.py) and the evaluation's


def content_keys(scores, weights=None):
    """(N,) int64: crc32 of each image's scores (N, L, H, W) and, gated, its weights."""
    def key(n):
        crc = zlib.crc32(np.ascontiguousarray(scores[n]).tobytes())
        return crc if weights is None else zlib.crc32(np.ascontiguousarray(weights[n]).tobytes(), crc)
    return np.array([key(n) for n in range(len(scores))], dtype=np.int64)


def infer(scores, theta, offsets, method, *, burn_in=20, samples=50, seed=0, iterations=ITERATIONS, backend="auto",
          weights=None):
    """(N, L, H, W) float32 marginals of `method`: Gibbs label frequencies (their argmax is the
    max-marginal labelling), the mean-field marginals, the one-hot ICM labelling, or the loopy-BP
    node beliefs (sum-product, damping 0.5, from uniform messages; stationary model only). Gated:
    weights (N, K, H, W) with theta (C, K, L, L)."""
    if method == "gibbs":
        return api.marginals(scores, theta, offsets, burn_in=burn_in, samples=samples, seed=seed,
                             keys=content_keys(scores, weights), backend=backend, weights=weights)
    if method == "meanfield":
        return api.meanfield(scores, theta, offsets, iterations=iterations, backend=backend, weights=weights)
    if method == "icm":
        labels = api.icm(scores, theta, offsets, iterations=iterations, backend=backend, weights=weights)
        return (labels[:, None] == np.arange(scores.shape[1])[None, :, None, None]).astype(np.float32)
    if method == "lbp":
        if weights is not None:
            raise ValueError("weights: loopy BP runs the stationary model only (no image-dependent factors)")
        return belief_propagation.lbp(scores, theta, offsets, iterations=iterations, backend=backend)
    raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")


def crf_labels(scores, theta, offsets, method, **settings):
    """(N, H, W) uint8 argmax of infer(...)."""
    return infer(scores, theta, offsets, method, **settings).argmax(axis=1).astype(np.uint8)
