"""The one setup every CRF layer shares (GibbsCRFLoss, PseudoLikelihoodLoss, MeanFieldLoss,
CRFMarginals), and CRFLoss, the training layers' adapter from blobs to a learner in
sampler/learning.

CRFLayer: param_str parsed by the layer's SCHEMA (layers/params.py), its bottoms and tops
counted, the scores' shape checked, and the model's parameter blobs added: blobs[0] = theta
(C, L, L), zero at start; blobs[1] = the offsets (C, 2) theta belongs to (a model trained with
other edge classes is refused at forward). CRFMarginals copies both from a trained model under
the same layer name.

Image-dependent ("gated") factors: with param_str "tables": K, theta is (C, K, L, L) and the
layer takes one more bottom, the last: weights (N, K, H, W), each edge's table mixed by the mean
of its two ends' weights (sampler/gating.py). A model trained with another K has another
theta shape and is refused by name (nets/weights.py).

CRFLoss: bottoms scores (N,L,H,W) and label (N,1,H,W) ids as floats (a subclass may add more).
A subclass supplies objective(); the top is minus its value per pixel of the batch, and backward
writes its gradient (times the loss weight) into the scores' diff (where propagate_down) and
accumulates it into theta's diff.

"potts": true keeps theta of the form w_c * I (sampler/learning/potts.py says why this works):
backward projects theta's gradient onto that set, and forward re-projects theta's data to undo
the solver's rounding-level drift, after refusing a theta that is not Potts beyond rounding
(copied from an unconstrained model, say) rather than silently projecting it.
"""
import caffe
import numpy as np

import sampler

from . import params
from .blobs import (BlobError, add_model_blobs, check_offsets, finite_values, integer_ids, scores_shape, warn_beyond,
                    weights_shape)
from .errors import reports_errors


@reports_errors
class CRFLayer(caffe.Layer):
    NAME = SCHEMA = None  # set by each subclass
    BOTTOMS = ("scores",)
    TOPS = ("marginals",)

    def setup(self, bottom, top):
        self.p = params.parse(self.param_str, self.SCHEMA, self.NAME)
        self.bottoms = self.BOTTOMS + (() if self.p.tables is None else ("weights",))
        if len(bottom) != len(self.bottoms) or len(top) != len(self.TOPS):
            raise BlobError(f"{self.NAME}: needs bottoms ({', '.join(self.bottoms)}) and top(s) "
                            f"({', '.join(self.TOPS)}), got {len(bottom)} bottoms and {len(top)} tops"
                            + ("" if self.p.tables is None else f" (param_str 'tables' = {self.p.tables}: the "
                                                                f"last bottom is the weights)"))
        _, _, self.height, self.width = scores_shape(self.NAME, bottom[0], self.p.num_labels)
        warn_beyond(self.NAME, self.p.offsets, self.height, self.width)
        add_model_blobs(self, self.p.offsets, self.p.num_labels, self.p.tables)

    def reshape(self, bottom, top):
        scores_shape(self.NAME, bottom[0], self.p.num_labels)
        if self.p.tables is not None:
            weights_shape(self.NAME, self.role("weights"), bottom[-1], bottom[0], self.p.tables)

    def role(self, name):
        """'bottom[i] (name)' for error messages."""
        return f"bottom[{self.bottoms.index(name)}] ({name})"

    def model_inputs(self, bottom):
        """(scores, theta, weights or None) after checking the offsets the weights were trained
        with, the values of scores and weights and, for "potts", theta's form."""
        check_offsets(self.NAME, self.blobs[1], self.p.offsets)
        theta = self.blobs[0].data
        if getattr(self.p, "potts", False):
            keep_potts(self.NAME, theta)
        weights = None if self.p.tables is None else finite_values(self.NAME, self.role("weights"), bottom[-1])
        return finite_values(self.NAME, self.role("scores"), bottom[0]), theta, weights


@reports_errors
class CRFLoss(CRFLayer):
    BOTTOMS = ("scores", "label")
    TOPS = ("loss",)

    def objective(self, scores, labels, theta, weights, bottom):
        """Subclasses: (value, backprop) for float32 scores, uint8 labels (N,H,W), theta and the
        weights (None for the stationary model); value is the log-objective (per image or summed),
        backprop(scale, diffs) writes scale * d value / d scores into diffs["scores"] and scale *
        d value / d weights into diffs["weights"] (each when not None) and returns d value / d theta."""

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        n, _, h, w = bottom[0].data.shape
        if tuple(bottom[1].data.shape) != (n, 1, h, w):
            raise BlobError(f"{self.NAME}: bottom[1] (label) has shape {tuple(bottom[1].data.shape)}, "
                            f"expected {(n, 1, h, w)} to match the scores")
        top[0].reshape()  # a scalar, like Caffe's own loss layers

    def forward(self, bottom, top):
        scores, theta, weights = self.model_inputs(bottom)
        labels = integer_ids(self.NAME, "bottom[1] (label)", bottom[1].data[:, 0], self.p.num_labels)
        value, self.backprop = self.objective(scores, labels.astype(np.uint8), theta, weights, bottom)
        self.pixels = labels.size
        top[0].data[...] = -np.sum(value) / self.pixels

    def backward(self, top, propagate_down, bottom):
        scale = -float(top[0].diff) / self.pixels
        diffs = {name: bottom[i].diff if propagate_down[i] else None for i, name in enumerate(self.bottoms)
                 if name in ("scores", "weights")}
        d_theta = self.backprop(scale, diffs)
        if self.p.potts:
            # (counts in float: the projection averages the diagonal, which integers would truncate)
            d_theta = sampler.learning.potts_project(d_theta.astype(np.float64) if d_theta.dtype.kind in "iu"
                                                     else d_theta)
        # Accumulate, as Caffe's own layers do, so that iter_size > 1 sums the batches. The other
        # parameter blobs (lr_mult 0) keep a zero diff: nothing writes one.
        self.blobs[0].diff[...] += scale * d_theta


def check_indexed_batch(layer, bottom, store):
    """A layer with a per-image store (Gibbs chains, LBP messages) fixed at setup: the scores keep
    its image size, and bottom[2] holds one image index per image of the batch."""
    n, _, h, w = bottom[0].data.shape
    if (h, w) != (layer.height, layer.width):
        raise BlobError(f"{layer.NAME}: bottom[0] (scores) is {h}x{w} (HxW) but the {store} holds "
                        f"{layer.height}x{layer.width} images; the image size cannot change")
    if bottom[2].data.size != n:
        raise BlobError(f"{layer.NAME}: bottom[2] (index) has shape {tuple(bottom[2].data.shape)}, "
                        f"expected {n} image indices")


def dense_backprop(d_theta, **gradients):
    """backprop for a learner that has its gradients as arrays: gradients {"scores": ..., "weights":
    ... (gated only)}."""
    def backprop(scale, diffs):
        for name, out in diffs.items():
            if out is not None:
                out[...] = scale * gradients[name]
        return d_theta
    return backprop


def keep_potts(layer, theta):
    """Project theta (C,L,L), in place, onto w_c * I after checking it is there up to rounding."""
    problem = sampler.learning.potts_violation(theta)
    if problem:
        raise BlobError(f"{layer}: blobs[0] (theta) is not of the form w_c * I that \"potts\": true "
                        f"keeps ({problem}); start from a zero theta or a Potts-trained one")
    theta[...] = sampler.learning.potts_project(theta)
