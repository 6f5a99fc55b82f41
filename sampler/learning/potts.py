"""The Potts restriction theta[c] = w_c * I (one weight per edge class): attraction only, the
repulsion ablation.

Layers keep theta of this form by projecting its gradient (potts_project) before the solver
sees it. Every Caffe solver (SGD, Nesterov, AdaGrad, RMSProp, AdaDelta, Adam) updates each
entry from that entry's own history of gradients and values, and weight decay (L2 or L1) and
gradient clipping keep a Potts gradient Potts while theta is Potts. So off-diagonal entries
see zero gradients and zero values and stay exactly zero, and the diagonal entries of a class
see equal histories. Equal in exact arithmetic only: Caffe's CPU solver rounds the same update
differently at different positions of the array (OpenBLAS's axpy/axpby: vectorised body and
scalar tail), and under `caffe train` we measured the last diagonal entry of theta drift by
one ulp. Layers therefore check that any diagonal spread is at rounding level (ROUNDING) and
re-project theta's data before each use.
"""
import numpy as np

ROUNDING = 1e-5  # diagonal spread allowed, relative to max(1, largest |w_c|)


def potts_project(tables):
    """Orthogonal projection of (C, L, L) tables (or gradients) onto {w_c * I}: w_c is the mean
    of the diagonal of class c. Orthogonal, so a projected gradient step has the length in
    theta that the same learning rate gives the unconstrained tables (the derivative in w_c
    itself would be the diagonal's sum, L times larger)."""
    tables = np.asarray(tables)
    num_labels = tables.shape[-1]
    weights = np.trace(tables, axis1=1, axis2=2) / num_labels
    return (weights[:, None, None] * np.eye(num_labels)).astype(tables.dtype)


def potts_violation(theta, rtol=ROUNDING):
    """None when every class of theta (C, L, L) is w_c * I: off-diagonal entries exactly zero,
    diagonal entries equal up to rtol * max(1, |largest entry|); else where it is not."""
    theta = np.asarray(theta)
    for c, table in enumerate(theta):
        off = table - np.diag(np.diag(table))
        if off.any():
            a, b = np.argwhere(off)[0]
            return f"class {c} has theta[{c}, {a}, {b}] = {table[a, b]:g} off the diagonal"
        diagonal = np.diag(table)
        if np.ptp(diagonal) > rtol * max(1.0, np.abs(diagonal).max()):
            return f"class {c} has unequal diagonal entries {diagonal.min():g}..{diagonal.max():g}"
    return None
