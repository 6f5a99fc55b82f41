"""Claim 2: the layer's one-sweep stochastic gradient is unbiased.

The real GibbsCRFLoss layer runs through pycaffe on tiny images with scores and theta
held fixed; its persistent chains then sample the model, so the running average of the
diffs it writes must converge to the exact gradient computed by enumeration:
  scores: -(onehot(truth) - marginals) / P,   theta: -(pairs(truth) - E[pairs]) / P.
Unbiasedness is tested with batch-means standard errors (the diffs are autocorrelated),
floored at the Poisson error of the expected count (batch means say nothing about events
that never happened in the run): the RMS z-score of (average - exact) over all components
is about 1 for an unbiased gradient and grows like sqrt(iterations) for a biased one.
"""
import numpy as np

import sampler

from . import caffe_net
from .common import Result, progress, random_model, verdict

NUMBER = "2"
CLAIM = "The one-sweep stochastic gradient is unbiased"
EDGES = [[0, 1], [1, 0], [1, 1]]
IMAGES, LABELS, HEIGHT, WIDTH = 4, 3, 3, 3
BURN_IN = 50
BATCHES = 20
# RMS of roughly chi-square/dof over ~100 components: about 1 +- 0.15 when unbiased.
MAX_RMS_Z = 2.0
# The final relative error must also be small and below the error a quarter of the way.
MAX_RELATIVE_ERROR = 0.1


def exact_gradient(scores, labels, theta, offsets):
    """(scores diff, theta diff) of the exact negated, normalised log-likelihood gradient,
    and the model's expected statistics (marginals (N, L, H, W), pair counts (C, L, L))."""
    pixels = labels.size
    onehot = (np.arange(scores.shape[1])[None, :, None, None] == labels[:, None]).astype(float)
    marg = np.empty_like(onehot)
    pairs = np.zeros(theta.shape)
    for n in range(len(scores)):
        ex = sampler.exact.enumerate(scores[n], theta, offsets)
        marg[n] = ex.marginals
        pairs += ex.pair_expectations
    truth_pairs = sampler.pair_counts(labels, offsets, scores.shape[1])
    return (-(onehot - marg) / pixels, -(truth_pairs - pairs) / pixels), (marg, pairs)


def batch_means_z(series, exact, poisson_se):
    """RMS over components of (mean - exact) / standard error from BATCHES batch means."""
    means = series.reshape(BATCHES, -1, series.shape[-1]).mean(axis=1)
    se = np.maximum(means.std(axis=0, ddof=1) / np.sqrt(BATCHES), poisson_se)
    return float(np.sqrt(np.mean(((means.mean(axis=0) - exact) / se) ** 2)))


def relative_error(estimate, exact):
    return float(np.linalg.norm(estimate - exact) / np.linalg.norm(exact))


def run(quick=False, layer=caffe_net.LAYER):
    """`layer` is the (module, class) Caffe loads; tests inject a broken one."""
    offsets = sampler.parse_edges(EDGES)
    iterations = 5000 if quick else 50000
    rng = np.random.default_rng(2)
    scores, theta = random_model(rng, IMAGES, LABELS, HEIGHT, WIDTH, len(offsets), 1.0, 0.7)
    labels = rng.integers(0, LABELS, (IMAGES, HEIGHT, WIDTH)).astype(np.uint8)
    net = caffe_net.loss_net(scores, labels, offsets, seed=5, layer=layer)
    net.params["crf"][0].data[...] = theta
    exact, expected = exact_gradient(scores, labels, theta, offsets)
    for _ in range(BURN_IN):
        caffe_net.gradients(net)
    series = [np.empty((iterations, g.size)) for g in exact]
    for t in progress(range(iterations), "claim 2: layer gradients"):
        for s, g in zip(series, caffe_net.gradients(net)):
            s[t] = g.ravel()
    figures = {}
    for name, s, g, e in zip(("scores", "theta"), series, exact, expected):
        g, poisson_se = g.ravel(), np.sqrt(e.ravel() / iterations) / labels.size
        figures[name] = {"rms_z": batch_means_z(s, g, poisson_se),
                         "relative_error": relative_error(s.mean(axis=0), g),
                         "relative_error_at_quarter": relative_error(s[: iterations // 4].mean(axis=0), g)}
    ok = all(f["rms_z"] < MAX_RMS_Z and f["relative_error"] < MAX_RELATIVE_ERROR
             and f["relative_error"] < f["relative_error_at_quarter"] for f in figures.values())
    return Result(
        NUMBER, CLAIM,
        f"real Caffe layer, {IMAGES} random {HEIGHT}x{WIDTH} {LABELS}-label images, 3 edge classes, "
        f"diffs averaged over {iterations} iterations vs enumeration; pass if RMS batch-means "
        f"z < {MAX_RMS_Z}, relative error < {MAX_RELATIVE_ERROR} and falling",
        "; ".join(f"{k}: rel. err {v['relative_error_at_quarter']:.3f} -> {v['relative_error']:.3f}, "
                  f"z {v['rms_z']:.2f}" for k, v in figures.items()),
        verdict(ok),
        {"iterations": iterations, **figures},
    )
