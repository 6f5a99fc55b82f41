"""Claim 3: with theta = 0, one sweep from any start is an exact sample.

The joint state of a 2x2, 3-label image (81 states) after one sweep is histogrammed over
many independent chains and compared, by a chi-square test, with the product of the
per-pixel softmaxes (from enumeration). A start-dependent or pixel-coupled sweep shows
up as a tiny p-value. Starts: all zeros, all top label, random.
"""
import numpy as np
from scipy import stats

import sampler

from .common import Result, random_model, verdict

NUMBER = "3"
CLAIM = "Theta = 0: one sweep gives perfect samples from any start"
EDGES = "window:1"  # edge classes present, but with zero tables
LABELS, HEIGHT, WIDTH = 3, 2, 2
# With fixed seeds the p-values are fixed numbers; 1e-3 per test keeps the chance that a
# correct sampler fails any of the 6 tests under 1% for other seeds.
MIN_P = 1e-3


def starts(num_chains, rng):
    shape = (num_chains, HEIGHT, WIDTH)
    return {"zeros": np.zeros(shape, np.uint8),
            "top label": np.full(shape, LABELS - 1, np.uint8),
            "random": rng.integers(0, LABELS, shape).astype(np.uint8)}


def joint_states(labels):
    """Each labelling (H, W) as one integer in 0 .. L**(H*W) - 1."""
    flat = labels.reshape(len(labels), -1).astype(np.int64)
    return flat @ (LABELS ** np.arange(flat.shape[1]))


def run(quick=False, sweep=sampler.sweep):
    offsets = sampler.parse_edges(EDGES)
    num_chains = 20_000 if quick else 100_000
    rng = np.random.default_rng(3)
    scores, theta = random_model(rng, 1, LABELS, HEIGHT, WIDTH, len(offsets), 0.7, 0.0)
    marg = sampler.exact.enumerate(scores[0], theta, offsets).marginals
    # Product distribution over joint states, in joint_states' digit order.
    every = np.indices((LABELS,) * (HEIGHT * WIDTH)).reshape(HEIGHT * WIDTH, -1)[::-1].T
    expected = np.prod(marg.reshape(LABELS, -1).T[np.arange(HEIGHT * WIDTH), every], axis=1)
    batch = np.repeat(scores, num_chains, axis=0)
    keys = np.arange(num_chains, dtype=np.int64)
    pvalues = {}
    cases = [(sch, name, start) for sch in ("chromatic", "raster") for name, start in starts(num_chains, rng).items()]
    for seed, (schedule, name, start) in enumerate(cases):  # a fresh seed per case: independent tests
        out = sweep(batch, start, theta, offsets, seed=seed, keys=keys, schedule=schedule)
        counts = np.bincount(joint_states(out), minlength=len(expected))
        pvalues[f"{schedule}, {name}"] = float(stats.chisquare(counts, num_chains * expected).pvalue)
    worst = min(pvalues.values())
    return Result(
        NUMBER, CLAIM,
        f"{num_chains} one-sweep chains of a {HEIGHT}x{WIDTH}, {LABELS}-label image, 3 starts x "
        f"2 schedules; chi-square of the {LABELS ** (HEIGHT * WIDTH)} joint states against the "
        f"exact product distribution; pass if every p > {MIN_P:g}",
        f"smallest p = {worst:.3f}",
        verdict(worst > MIN_P),
        {"p_values": pvalues, "chains": num_chains},
    )
