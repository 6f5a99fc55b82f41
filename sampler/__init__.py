"""Pairwise CRF over pixels with CNN unaries: Gibbs sweeps, marginals, baselines, chain store.

Conventions: scores (N, L, H, W) float32, labels (N, H, W) uint8,
theta (C, L, L) float32 with theta[c, y_i, y_{i+d_c}], offsets (C, 2) canonical,
E(y) = sum_i u_i(y_i) + sum of pair terms, p(y) proportional to exp(E(y)). Image-dependent
factors: theta (C, K, L, L) with weights (N, K, H, W) float32 (weights=; sampler/gating.py).
"""
from . import belief_propagation, exact, inference, learning
from .api import (conditionals, energy, icm, marginals, meanfield, pair_counts, pseudo_log_likelihood, sweep,
                  train_step, weight_statistics, weighted_pair_counts)
from .backends import available_backends
from .belief_propagation import lbp
from .chains import ChainStore, ChainStoreError
from .colouring import colour_map, colouring
from .offsets import parse_edges, sparse, window

__all__ = ["window", "sparse", "parse_edges", "colouring", "colour_map", "sweep", "train_step", "marginals",
           "conditionals", "pseudo_log_likelihood", "energy", "pair_counts", "weighted_pair_counts",
           "weight_statistics", "icm", "meanfield", "lbp",
           "ChainStore", "ChainStoreError", "belief_propagation", "exact", "inference", "learning",
           "available_backends"]
