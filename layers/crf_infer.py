"""CRFMarginals: deploy-time CRF inference, scores (N,L,H,W) -> marginals (N,L,H,W).

    layer { name: "crf" type: "Python" bottom: "scores" top: "marginals"
            python_param { module: "layers.crf_infer" layer: "CRFMarginals"
                           param_str: '{"num_labels": 20, "edges": "sparse:1,2,4,8", "num_images": 2000}' } }

method "gibbs" (default): marginals estimated by Gibbs sampling (burn_in sweeps, then the
average of `samples` sweeps); their argmax is the max-marginal labelling. "meanfield": the
mean-field marginals with the same tables. "icm": one-hot of the ICM labelling.

The layer must have the SAME name as the training GibbsCRFLoss layer so that Caffe copies
theta from the trained .caffemodel. Caffe copies a layer only when its blob count and
shapes match exactly, so this layer also declares the training layer's chain-store blob
(shape from num_images and the scores' H, W at setup) and never reads it; num_images and
the deploy input size must therefore equal the training ones.
"""
import caffe
import numpy as np

import sampler

from . import params
from .blobs import BlobError, chain_blob_shape, finite_scores, scores_shape
from .errors import reports_errors

NAME = "CRFMarginals"


@reports_errors
class CRFMarginals(caffe.Layer):

    def setup(self, bottom, top):
        self.p = params.parse(self.param_str, params.INFER, NAME)
        if len(bottom) != 1 or len(top) != 1:
            raise BlobError(f"{NAME}: needs one bottom (scores) and one top (marginals), "
                            f"got {len(bottom)} bottoms and {len(top)} tops")
        _, num_labels, height, width = scores_shape(NAME, bottom[0], self.p.num_labels)
        self.blobs.add_blob(len(self.p.offsets), num_labels, num_labels)
        self.blobs[0].data[...] = 0
        self.blobs.add_blob(*chain_blob_shape(self.p.num_images, height, width, num_labels))

    def reshape(self, bottom, top):
        top[0].reshape(*scores_shape(NAME, bottom[0], self.p.num_labels))

    def forward(self, bottom, top):
        p = self.p
        scores, theta = finite_scores(NAME, bottom[0]), self.blobs[0].data
        if p.method == "gibbs":
            top[0].data[...] = sampler.marginals(scores, theta, p.offsets, burn_in=p.burn_in,
                                                 samples=p.samples, seed=p.seed, backend=p.backend)
        elif p.method == "meanfield":
            top[0].data[...] = sampler.meanfield(scores, theta, p.offsets, iterations=p.iterations,
                                                 backend=p.backend)
        else:
            labels = sampler.icm(scores, theta, p.offsets, iterations=p.iterations, backend=p.backend)
            top[0].data[...] = labels[:, None] == np.arange(p.num_labels)[None, :, None, None]

    def backward(self, top, propagate_down, bottom):
        if any(propagate_down):
            raise NotImplementedError(f"{NAME} is for deploy nets only; train with GibbsCRFLoss")
