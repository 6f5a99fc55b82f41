"""Claim 1: Gibbs marginals converge to the exact ones like 1/sqrt(samples).

Each tiny model is copied into a batch of independent chains (one RNG key per copy), so
the RMS error over copies, pixels and labels is a smooth function of the sample count.
An exact sampler's error is pure Monte-Carlo noise, sqrt(var * tau / samples): slope
-1/2 on a log-log plot. A biased sampler levels off at its bias, flattening the slope.
The edge set has diagonals (triangles), so a synchronous update is not secretly a
valid two-colour Gibbs scan, as it would be on a bipartite 4-neighbour grid.
"""
import numpy as np

import sampler

from .common import Result, loglog_slope, progress, random_model, verdict

NUMBER = "1"
CLAIM = "Gibbs sampling is exact in the limit"
EDGES = "window:1"
LABELS, HEIGHT, WIDTH = 3, 3, 3
COPIES = 256
BURN_IN = 50
# Measured on 8 models: slopes -0.48..-0.52, and -0.42 for one slowly mixing model (its
# first counts are not yet >> the autocorrelation time); synchronous updates give -0.1..-0.2.
SLOPE_TOLERANCE = 0.12


def sample_counts(quick):
    return [128, 512, 2048, 8192] if quick else [128, 512, 2048, 8192, 32768]


def errors(scores, theta, offsets, counts, marginals, seed):
    """RMS error of marginals(...) against enumeration, one figure per sample count."""
    exact = sampler.exact.enumerate(scores[0], theta, offsets).marginals
    batch = np.repeat(scores, COPIES, axis=0)
    keys = np.arange(COPIES, dtype=np.int64)
    out = []
    for n in progress(counts, "claim 1: samples"):
        est = marginals(batch, theta, offsets, burn_in=BURN_IN, samples=n, seed=seed + n, keys=keys)
        out.append(float(np.sqrt(np.mean((est - exact[None]) ** 2))))
    return out


def run(quick=False, marginals=sampler.marginals, models=None):
    """`marginals` has sampler.marginals' signature; tests inject a broken one."""
    offsets = sampler.parse_edges(EDGES)
    counts = sample_counts(quick)
    rng = np.random.default_rng(1)
    slopes, finals = [], []
    for m in range(models or (2 if quick else 6)):
        scores, theta = random_model(rng, 1, LABELS, HEIGHT, WIDTH, len(offsets), 1.0, 1.5)
        err = errors(scores, theta, offsets, counts, marginals, seed=100 * m)
        slopes.append(loglog_slope(counts, err))
        finals.append(err[-1])
    ok = all(abs(s + 0.5) <= SLOPE_TOLERANCE for s in slopes)
    return Result(
        NUMBER, CLAIM,
        f"{len(slopes)} random {LABELS}-label {HEIGHT}x{WIDTH} models, 8-neighbour edges, "
        f"{COPIES} chains each; RMS marginal error vs enumeration at {counts[0]}..{counts[-1]} "
        f"samples; pass if every log-log slope is -0.5 +- {SLOPE_TOLERANCE}",
        "slopes " + ", ".join(f"{s:.2f}" for s in slopes)
        + f"; error at {counts[-1]} samples <= {max(finals):.4f}",
        verdict(ok),
        {"sample_counts": counts, "slopes": slopes, "final_rms_errors": finals},
    )
