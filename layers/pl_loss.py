"""PseudoLikelihoodLoss: CRF learning by Besag's pseudo-likelihood (sampler.learning.pseudo_likelihood).

    layer { name: "crf" type: "Python" bottom: "scores" bottom: "label" top: "loss" loss_weight: 1
            param { lr_mult: 1 decay_mult: 0 }   # theta
            param { lr_mult: 0 decay_mult: 0 }   # offsets: what theta belongs to
            python_param { module: "layers.pl_loss" layer: "PseudoLikelihoodLoss"
                           param_str: '{"num_labels": 20, "edges": "sparse:1,2,4,8"}' } }

param_str keys: layers/params.py (PSEUDO_LIKELIHOOD): the model keys and "potts".
Top: the mean negative pseudo-log-likelihood per pixel, here with its exact gradient: per
pixel, one-hot(label) minus the conditional given the neighbours' true labels, for the scores
and, through the neighbours, for theta. Separate learning: give the layer propagate_down: false
for the scores. With "tables": K (image-dependent factors) a third bottom, the weights, which get
their gradient too. The rest is layers/crf_layer.py's CRFLoss.
"""
import sampler

from . import params
from .crf_layer import CRFLoss, dense_backprop
from .errors import reports_errors


@reports_errors
class PseudoLikelihoodLoss(CRFLoss):
    NAME = "PseudoLikelihoodLoss"
    SCHEMA = params.PSEUDO_LIKELIHOOD

    def objective(self, scores, labels, theta, weights, bottom):
        value, d_scores, d_theta, *d_weights = sampler.learning.pseudo_likelihood(
            scores, labels, theta, self.p.offsets, backend=self.p.backend, weights=weights)
        return value, dense_backprop(d_theta, scores=d_scores, weights=d_weights[0] if d_weights else None)
