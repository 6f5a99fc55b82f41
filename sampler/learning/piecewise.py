"""Piecewise (log-marginal) tables: no gradient steps, theta from label co-occurrences alone.

For edge class c, with n_c(l, l') the number of edges (i, i + d_c) labelled (l, l') in the
training labels, a pseudo-count alpha added to every cell (m_c = n_c + alpha), row sums
r_c(l), column sums k_c(l') and total M_c of m_c:

    theta_c(l, l') = log m_c(l, l') + log M_c - log r_c(l) - log k_c(l'),

the pointwise mutual information of the two ends' labels. Why this normalisation: the unaries
(a CNN trained with softmax loss, i.e. log node marginals up to a per-pixel constant) already
carry the label frequencies, so the pair term must carry only what a pair adds beyond them;
PMI is zero for independent labels, and for a tree-structured model it is exact:
p(y) = prod_i p_i(y_i) prod_edges p_ij(y_i, y_j) / (p_i(y_i) p_j(y_j)), so log node marginals
plus PMI tables give back p (for a chain with translation-invariant pairs, the test checks this
by enumeration). On the loopy grid with long-range classes the same tables double-count
evidence (each pair is counted as if it were the only path): the approximation the paper
contrasts with learning. Normalising by each class's own row and column sums (not by global
label frequencies) keeps a class whose offset leaves few edges consistent: zero PMI exactly
when its pair table factorises, and all-zero theta for a class with no edges. The pseudo-count
keeps label pairs never seen at an offset finite (log 0 would forbid them outright).

Procedure (no gradient steps): unaries from the stage-1 CNN (softmax loss); theta =
piecewise_tables(all training labels, the CRF's offsets, L), written into blobs[0] of the CRF
layer of a model (pycaffe: net.params["crf"][0].data[...] = theta; net.save(path)), which a
deploy net then uses as it uses a learned theta.
"""
import numpy as np

from .. import api

CHUNK = 64  # images counted at a time: bounds the int64 temporaries of sampler.pair_counts


def piecewise_tables(labels, offsets, num_labels, *, pseudo_count=1.0):
    """(C, L, L) float32 PMI tables from labellings (N, H, W) (formula in the module docstring)."""
    if isinstance(pseudo_count, bool) or not isinstance(pseudo_count, (int, float)) or not pseudo_count > 0 \
            or not np.isfinite(pseudo_count):
        raise ValueError(f"pseudo_count: expected a finite number > 0, got {pseudo_count!r}")
    labels = np.asarray(labels)
    if labels.ndim != 3 or not len(labels):
        raise ValueError(f"labels: expected shape (N, H, W) with N >= 1, got {labels.shape}")
    counts = sum(api.pair_counts(labels[start:start + CHUNK], offsets, num_labels)
                 for start in range(0, len(labels), CHUNK))
    m = counts + float(pseudo_count)
    rows, columns = m.sum(axis=2, keepdims=True), m.sum(axis=1, keepdims=True)
    total = m.sum(axis=(1, 2), keepdims=True)
    return (np.log(m) + np.log(total) - np.log(rows) - np.log(columns)).astype(np.float32)
