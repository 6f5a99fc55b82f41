"""LoopyBPLoss: CRF learning with loopy-BP beliefs in place of marginals (Chen, Schwing, Yuille and
Urtasun 2015; sampler.learning.loopy_bp), and WarmLoopyBPLoss, the same with each training image's
messages kept between its visits.

    layer { name: "crf" type: "Python" bottom: "scores" bottom: "label" top: "loss" loss_weight: 1
            param { lr_mult: 1 decay_mult: 0 }   # theta
            param { lr_mult: 0 decay_mult: 0 }   # offsets: what theta belongs to
            python_param { module: "layers.lbp_loss" layer: "LoopyBPLoss"
                           param_str: '{"num_labels": 20, "edges": "sparse:1,2,4,8", "iterations": 5}' } }

param_str keys: layers/params.py (LOOPY_BP): the model keys, "potts", "iterations" T >= 1 and
"damping" in (0, 1]; WarmLoopyBPLoss (LOOPY_BP_WARM) also "num_images" and a third bottom, the
images' indices, as GibbsCRFLoss. No image-dependent factors ("tables"). Top: minus the Bethe
approximation of the mean log-likelihood per pixel after T damped iterations, cold (uniform)
messages for LoopyBPLoss, the image's last messages for WarmLoopyBPLoss; backward writes the
belief gradients (node beliefs minus one-hot truth for the scores, pair beliefs minus the truth's
pair counts for theta). CRFMarginals "method": "lbp" infers with the same beliefs. The rest is
layers/crf_layer.py's CRFLoss.

The warm store lives in memory only, 2C messages of L float32 per pixel per training image
(sampler.learning.memory_figures; 147 GB for the default 2000 images of 160x120), and is refused
at setup beyond half the machine's memory. It is not in the snapshot: a resumed run starts its
messages cold again, so unlike the other layers it does not resume bit for bit.
"""
import sampler

from . import params
from .blobs import integer_ids
from .crf_layer import CRFLoss, check_indexed_batch, dense_backprop
from .errors import reports_errors


@reports_errors
class LoopyBPLoss(CRFLoss):
    NAME = "LoopyBPLoss"
    SCHEMA = params.LOOPY_BP

    def objective(self, scores, labels, theta, weights, bottom):
        return self.learn(scores, labels, theta, None)

    def learn(self, scores, labels, theta, messages):
        value, d_scores, d_theta = sampler.learning.loopy_bp(scores, labels, theta, self.p.offsets,
                                                             iterations=self.p.iterations, damping=self.p.damping,
                                                             messages=messages, backend=self.p.backend)
        return value, dense_backprop(d_theta, scores=d_scores)


@reports_errors
class WarmLoopyBPLoss(LoopyBPLoss):
    NAME = "WarmLoopyBPLoss"
    SCHEMA = params.LOOPY_BP_WARM
    BOTTOMS = ("scores", "label", "index")

    def setup(self, bottom, top):
        super().setup(bottom, top)
        try:
            self.store = sampler.learning.MessageStore(self.p.num_images, len(self.p.offsets), self.p.num_labels,
                                                       self.height, self.width)
        except ValueError as e:
            raise params.ParamError(f"{self.NAME}: param_str key 'num_images' = {self.p.num_images}: "
                                    f"{str(e).removeprefix('num_images: ')}") from None

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        check_indexed_batch(self, bottom, "message store")

    def objective(self, scores, labels, theta, weights, bottom):
        index = integer_ids(self.NAME, f"bottom[2] (index, message store of num_images={self.p.num_images})",
                            bottom[2].data.reshape(-1), self.p.num_images)
        return self.store.step(index, lambda messages: self.learn(scores, labels, theta, messages))
