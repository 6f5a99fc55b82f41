"""CRFMarginals: deploy-time CRF inference, scores (N,L,H,W) -> marginals (N,L,H,W).

    layer { name: "crf" type: "Python" bottom: "scores" top: "marginals"
            python_param { module: "layers.crf_infer" layer: "CRFMarginals"
                           param_str: '{"num_labels": 20, "edges": "sparse:1,2,4,8"}' } }

Image-dependent factors ("tables": K): a second bottom, the weights (N, K, H, W) of the net's
pairwise branch, as in training (layers/crf_layer.py).

method "gibbs" (default): marginals estimated by Gibbs sampling (burn_in sweeps, then the
average of `samples` sweeps); their argmax is the max-marginal labelling. "meanfield": the
mean-field marginals with the same tables. "icm": one-hot of the ICM labelling. The inference
itself is sampler.inference.infer, which the evaluation of stored scores calls too.

Parameter blobs: theta (C, L, L) and the offsets (C, 2) it was trained with. The layer has
the training layer's name, so Caffe copies both from an exported model
(tools/export_model.py), and refuses to run when the model's offsets are not the ones its
param_str gives. Nothing depends on the image size: the same model runs on any H x W.
"""
import numpy as np

import sampler.inference
from sampler.chains import blob_columns

from . import params
from .crf_layer import CRFLayer
from .errors import reports_errors


@reports_errors
class CRFMarginals(CRFLayer):
    NAME = "CRFMarginals"
    SCHEMA = params.INFER

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        scores, theta, weights = self.model_inputs(bottom)
        p = self.p
        top[0].data[...] = sampler.inference.infer(scores, theta, p.offsets, p.method, burn_in=p.burn_in,
                                                   samples=p.samples, seed=p.seed, iterations=p.iterations,
                                                   backend=p.backend, weights=weights)

    def backward(self, top, propagate_down, bottom):
        if any(propagate_down):
            raise NotImplementedError(f"{self.NAME} is for deploy nets only; train with GibbsCRFLoss")


@reports_errors
class CRFValidation(CRFMarginals):
    """The test nets' CRF layer (nets/prototxt.py): top = the one-hot of the labelling tools/eval.py
    scores (the argmax of the marginals, ties to the lower label as NumPy breaks them), so Caffe's
    Accuracy layer counts exactly eval's correct pixels; with marginals it would credit a tie.

    Caffe shares the training layer's parameter blobs with the test net's layer of the same name
    (Net::ShareTrainedLayersWith) only when both have as many blobs of the same shapes, so this
    layer has a third blob of the chain store's shape (param_str num_images, the scores' H x W).
    Caffe's blob memory is allocated on first access and this layer never reads or writes it:
    after sharing it is the training layer's chain store, which inference must not touch."""
    NAME = "CRFValidation"
    SCHEMA = params.VALIDATION

    def setup(self, bottom, top):
        super().setup(bottom, top)
        self.blobs.add_blob(self.p.num_images, blob_columns(self.height, self.width, self.p.num_labels))

    def forward(self, bottom, top):
        super().forward(bottom, top)
        labels = top[0].data.argmax(axis=1)
        top[0].data[...] = labels[:, None] == np.arange(self.p.num_labels)[None, :, None, None]
