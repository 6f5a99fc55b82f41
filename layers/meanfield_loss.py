"""MeanFieldLoss: CRF learning through mean field unrolled as a recurrent net (CRF-as-RNN style,
with this project's arbitrary tables per edge class, so only the learning differs).

    layer { name: "crf" type: "Python" bottom: "scores" bottom: "label" top: "loss" loss_weight: 1
            param { lr_mult: 1 decay_mult: 0 }   # theta
            param { lr_mult: 0 decay_mult: 0 }   # offsets: what theta belongs to
            python_param { module: "layers.meanfield_loss" layer: "MeanFieldLoss"
                           param_str: '{"num_labels": 20, "edges": "sparse:1,2,4,8", "iterations": 5}' } }

param_str keys: layers/params.py (MEANFIELD_LOSS): the model keys, "potts", "iterations" T >= 1
and "damping" in (0, 1]. Top: the softmax cross-entropy of the marginals after T damped
mean-field steps, per pixel; backward is its exact gradient (sampler.learning.UnrolledMeanField),
computed only when Caffe asks for it. CRFMarginals "method": "meanfield" runs the same forward
at deploy time with its own "iterations" and damping 0.5 (it has no damping key). The rest is
layers/crf_layer.py's CRFLoss. With "tables": K (image-dependent factors) a third bottom, the
weights, which get their gradient too.
"""
import sampler

from . import params
from .crf_layer import CRFLoss, dense_backprop
from .errors import reports_errors


@reports_errors
class MeanFieldLoss(CRFLoss):
    NAME = "MeanFieldLoss"
    SCHEMA = params.MEANFIELD_LOSS

    def objective(self, scores, labels, theta, weights, bottom):
        unrolled = sampler.learning.UnrolledMeanField(scores, labels, theta, self.p.offsets,
                                                      iterations=self.p.iterations, damping=self.p.damping,
                                                      backend=self.p.backend, weights=weights)

        def backprop(scale, diffs):
            d_scores, d_theta, *d_weights = unrolled.gradients()
            return dense_backprop(d_theta, scores=d_scores, weights=d_weights[0] if d_weights else None)(scale, diffs)
        return unrolled.value, backprop
