"""ThetaLoss: base of the CRF loss layers whose only learned state is theta and whose objective
has an exact gradient (PseudoLikelihoodLoss, MeanFieldLoss). A subclass names its schema and
supplies objective().

Bottoms: scores (N,L,H,W), label (N,1,H,W) ids as floats. Top: minus the objective per pixel
of the batch; backward writes its gradient (times the loss weight) into the scores' diff
(where propagate_down) and accumulates it into theta's diff.

Parameter blobs are a deploy model's (CRFMarginals copies them under the same layer name):
blobs[0] = theta (C,L,L), zero at start; blobs[1] = the offsets (C,2) theta belongs to
(nets/crf.py gives it { lr_mult: 0 decay_mult: 0 }). These layers keep no chains.

"potts": true keeps theta of the form w_c * I (sampler/learning/potts.py says why this works):
backward projects theta's gradient onto that set, and forward re-projects theta's data to undo
the solver's rounding-level drift, after refusing a theta that is not Potts beyond rounding
(copied from an unconstrained model, say) rather than silently projecting it.
"""
import caffe
import numpy as np

import sampler

from . import params
from .blobs import BlobError, add_model_blobs, check_offsets, finite_scores, integer_ids, scores_shape
from .errors import reports_errors


@reports_errors
class ThetaLoss(caffe.Layer):
    NAME = SCHEMA = None  # set by each subclass

    def objective(self, scores, labels, theta):
        """Subclasses: (value (N,), gradients) for float32 scores, uint8 labels (N,H,W) and theta;
        value is the log-objective per image, gradients() returns its (d_scores, d_theta)."""

    def setup(self, bottom, top):
        self.p = params.parse(self.param_str, self.SCHEMA, self.NAME)
        if len(bottom) != 2 or len(top) != 1:
            raise BlobError(f"{self.NAME}: needs bottoms (scores, label) and one top (loss), "
                            f"got {len(bottom)} bottoms and {len(top)} tops")
        scores_shape(self.NAME, bottom[0], self.p.num_labels)
        add_model_blobs(self, self.p.offsets, self.p.num_labels)

    def reshape(self, bottom, top):
        n, _, h, w = scores_shape(self.NAME, bottom[0], self.p.num_labels)
        if tuple(bottom[1].data.shape) != (n, 1, h, w):
            raise BlobError(f"{self.NAME}: bottom[1] (label) has shape {tuple(bottom[1].data.shape)}, "
                            f"expected {(n, 1, h, w)} to match the scores")
        top[0].reshape()

    def forward(self, bottom, top):
        check_offsets(self.NAME, self.blobs[1], self.p.offsets)
        scores = finite_scores(self.NAME, bottom[0])
        labels = integer_ids(self.NAME, "bottom[1] (label)", bottom[1].data[:, 0], self.p.num_labels)
        theta = self.blobs[0].data
        if self.p.potts:
            keep_potts(self.NAME, theta)
        value, self.gradients = self.objective(scores, labels.astype(np.uint8), theta)
        self.pixels = labels.size
        top[0].data[...] = -value.sum() / self.pixels

    def backward(self, top, propagate_down, bottom):
        scale = -float(top[0].diff) / self.pixels
        d_scores, d_theta = self.gradients()
        if propagate_down[0]:
            bottom[0].diff[...] = scale * d_scores
        if self.p.potts:
            d_theta = sampler.learning.potts_project(d_theta)
        # Accumulate, as Caffe's own layers do, so that iter_size > 1 sums the batches.
        self.blobs[0].diff[...] += scale * d_theta
        self.blobs[1].diff[...] = 0


def keep_potts(layer, theta):
    """Project theta (C,L,L), in place, onto w_c * I after checking it is there up to rounding."""
    problem = sampler.learning.potts_violation(theta)
    if problem:
        raise BlobError(f"{layer}: blobs[0] (theta) is not of the form w_c * I that \"potts\": true "
                        f"keeps ({problem}); start from a zero theta or a Potts-trained one")
    theta[...] = sampler.learning.potts_project(theta)
