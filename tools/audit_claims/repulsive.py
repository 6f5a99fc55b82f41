"""Claim 6a: with strongly repulsive tables, Gibbs max-marginals beat mean-field.

Random tiny models with "must differ" tables on an 8-neighbour grid (frustrated: the
diagonals close triangles) and weak unaries. Each decision (argmax of Gibbs marginals,
argmax of mean-field marginals, both with the same potentials) is scored by its expected
per-pixel accuracy under the exact model, mean_i p_i(decision_i) from enumeration; the
exact max-marginal decision is the ceiling. Paired over models, Gibbs must win on average
by more than 3 standard errors of the paired difference.
"""
import numpy as np

import sampler

from .common import Result, progress, random_model, verdict

NUMBER = "6a"
CLAIM = "Repulsive potentials: Gibbs max-marginals beat mean-field"
EDGES = "window:1"
LABELS, HEIGHT, WIDTH = 3, 3, 3
REPULSION = 2.0
Z_MIN = 3.0


def expected_accuracy(marginals, decision):
    """mean over pixels of p_i(decision_i) for marginals (L, H, W), decision (H, W)."""
    return float(np.take_along_axis(marginals, decision[None].astype(np.int64), 0).mean())


def run(quick=False):
    offsets = sampler.parse_edges(EDGES)
    num_models = 20 if quick else 60
    rng = np.random.default_rng(6)
    scores, noise = random_model(rng, num_models, LABELS, HEIGHT, WIDTH, len(offsets), 0.3, 0.2)
    theta_all = noise[None] - REPULSION * np.eye(LABELS, dtype=np.float32)  # (1, C, L, L) per model
    theta_all = np.broadcast_to(theta_all, (num_models, *noise.shape)) if False else None
    acc = {"gibbs": [], "meanfield": [], "exact": []}
    for m in progress(range(num_models), "claim 6: models"):
        s = scores[m:m + 1]
        theta = (0.2 * rng.standard_normal((len(offsets), LABELS, LABELS))
                 - REPULSION * np.eye(LABELS)).astype(np.float32)
        exact = sampler.exact.enumerate(s[0], theta, offsets).marginals
        gibbs = sampler.marginals(s, theta, offsets, burn_in=50, samples=500 if quick else 2000, seed=m)[0]
        mf = sampler.meanfield(s, theta, offsets, iterations=50)[0]
        for name, marg in (("gibbs", gibbs), ("meanfield", mf), ("exact", exact)):
            acc[name].append(expected_accuracy(exact, marg.argmax(axis=0)))
    return acc
