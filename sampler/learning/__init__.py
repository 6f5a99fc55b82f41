"""Prior-art ways to learn the same CRF (theta per edge class, CNN unaries), for comparison with
persistent-chain maximum likelihood: pseudo-likelihood, unrolled mean field, piecewise
(log-marginal) tables, and the Potts restriction of any of them.

Functions return the log-objective (to be maximised) and its exact gradients; Caffe layers negate.
"""
from .piecewise import piecewise_tables
from .potts import potts_project, potts_violation
from .pseudo_likelihood import pseudo_likelihood
from .unrolled_meanfield import UnrolledMeanField

__all__ = ["piecewise_tables", "potts_project", "potts_violation", "pseudo_likelihood", "UnrolledMeanField"]
