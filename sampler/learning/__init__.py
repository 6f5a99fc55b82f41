"""Ways to learn the CRF (theta per edge class, CNN unaries): the paper's maximum likelihood with
persistent Gibbs chains (gibbs_ml_step), and for comparison the prior-art ways: pseudo-likelihood,
unrolled mean field, loopy-BP beliefs (loopy_bp), piecewise (log-marginal) tables, and the Potts
restriction of any of them.

Functions return the log-objective (to be maximised) and its gradients (exact, or for Gibbs ML
the stochastic gradient of the sample); Caffe layers negate.
"""
from .gibbs_ml import GibbsMLStep, gibbs_ml_step
from .loopy_bp import MessageStore, loopy_bp, memory_figures
from .piecewise import piecewise_tables
from .potts import potts_project, potts_violation
from .pseudo_likelihood import pseudo_likelihood
from .unrolled_meanfield import UnrolledMeanField

__all__ = ["GibbsMLStep", "gibbs_ml_step", "MessageStore", "loopy_bp", "memory_figures", "piecewise_tables",
           "potts_project", "potts_violation", "pseudo_likelihood", "UnrolledMeanField"]
