"""The Potts restriction theta[c] = w_c * I (one weight per edge class): attraction only, the
repulsion ablation.

Layers keep theta of this form by projecting its gradient (potts_project) before the solver
sees it. Every Caffe solver (SGD, Nesterov, AdaGrad, RMSProp, AdaDelta, Adam) updates each
entry from that entry's own history of gradients and values only, and weight decay (L2 or L1)
and gradient clipping keep a Potts gradient Potts when theta is Potts. So from a Potts theta
(zero, say) the diagonal entries of a class see identical histories and stay bitwise equal,
and the off-diagonal ones see zero gradients and zero values and stay zero.
"""
import numpy as np


def potts_project(tables):
    """Orthogonal projection of (C, L, L) tables (or gradients) onto {w_c * I}: w_c is the mean
    of the diagonal of class c. Orthogonal, so a projected gradient step has the length in
    theta that the same learning rate gives the unconstrained tables (the derivative in w_c
    itself would be the diagonal's sum, L times larger)."""
    tables = np.asarray(tables)
    num_labels = tables.shape[-1]
    weights = np.trace(tables, axis1=1, axis2=2) / num_labels
    return (weights[:, None, None] * np.eye(num_labels)).astype(tables.dtype)


def potts_violation(theta):
    """None when every class of theta (C, L, L) is exactly w_c * I, else where it is not."""
    theta = np.asarray(theta)
    for c, table in enumerate(theta):
        off = table - np.diag(np.diag(table))
        if off.any():
            a, b = np.argwhere(off)[0]
            return f"class {c} has theta[{c}, {a}, {b}] = {table[a, b]:g} off the diagonal"
        if (np.diag(table) != table[0, 0]).any():
            return f"class {c} has unequal diagonal entries {np.diag(table).min():g}..{np.diag(table).max():g}"
    return None
