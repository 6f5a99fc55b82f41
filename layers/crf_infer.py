"""CRFMarginals: deploy-time CRF inference, scores (N,L,H,W) -> marginals (N,L,H,W).

    layer { name: "crf" type: "Python" bottom: "scores" top: "marginals"
            python_param { module: "layers.crf_infer" layer: "CRFMarginals"
                           param_str: '{"num_labels": 20, "edges": "sparse:1,2,4,8"}' } }

method "gibbs" (default): marginals estimated by Gibbs sampling (burn_in sweeps, then the
average of `samples` sweeps); their argmax is the max-marginal labelling. "meanfield": the
mean-field marginals with the same tables. "icm": one-hot of the ICM labelling.

Parameter blobs: theta (C, L, L) and the offsets (C, 2) it was trained with. The layer has
the training layer's name, so Caffe copies both from an exported model
(tools/export_model.py), and refuses to run when the model's offsets are not the ones its
param_str gives. Nothing depends on the image size: the same model runs on any H x W.
"""
import caffe
import numpy as np

import sampler

from . import params
from .blobs import BlobError, add_model_blobs, check_offsets, finite_scores, scores_shape, warn_beyond
from .errors import reports_errors

NAME = "CRFMarginals"


def infer(scores, theta, p):
    """(N, L, H, W) marginals of the settings p's method: the layer's forward, and what
    evaluation runs on stored scores."""
    if p.method == "gibbs":
        return sampler.marginals(scores, theta, p.offsets, burn_in=p.burn_in, samples=p.samples, seed=p.seed,
                                 backend=p.backend)
    if p.method == "meanfield":
        return sampler.meanfield(scores, theta, p.offsets, iterations=p.iterations, backend=p.backend)
    labels = sampler.icm(scores, theta, p.offsets, iterations=p.iterations, backend=p.backend)
    return (labels[:, None] == np.arange(p.num_labels)[None, :, None, None]).astype(np.float32)


@reports_errors
class CRFMarginals(caffe.Layer):

    def setup(self, bottom, top):
        self.p = params.parse(self.param_str, params.INFER, NAME)
        if len(bottom) != 1 or len(top) != 1:
            raise BlobError(f"{NAME}: needs one bottom (scores) and one top (marginals), "
                            f"got {len(bottom)} bottoms and {len(top)} tops")
        _, _, height, width = scores_shape(NAME, bottom[0], self.p.num_labels)
        warn_beyond(NAME, self.p.offsets, height, width)
        add_model_blobs(self, self.p.offsets, self.p.num_labels)

    def reshape(self, bottom, top):
        top[0].reshape(*scores_shape(NAME, bottom[0], self.p.num_labels))

    def forward(self, bottom, top):
        check_offsets(NAME, self.blobs[1], self.p.offsets)
        top[0].data[...] = infer(finite_scores(NAME, bottom[0]), self.blobs[0].data, self.p)

    def backward(self, top, propagate_down, bottom):
        if any(propagate_down):
            raise NotImplementedError(f"{NAME} is for deploy nets only; train with GibbsCRFLoss")
