"""GibbsCRFLoss: maximum-likelihood training of the pairwise CRF with persistent Gibbs chains.

    layer { name: "crf" type: "Python" bottom: "scores" bottom: "label" bottom: "index"
            top: "loss" loss_weight: 1
            param { lr_mult: 1 decay_mult: 0 }   # theta
            param { lr_mult: 0 decay_mult: 0 }   # offsets: what theta belongs to
            param { lr_mult: 0 decay_mult: 0 }   # chain store: the solver must not touch it
            python_param { module: "layers.crf_loss" layer: "GibbsCRFLoss"
                           param_str: '{"num_labels": 20, "edges": "sparse:1,2,4,8", "num_images": 2000}' } }

(nets/crf.py writes this layer for every net.) param_str keys: layers/params.py (LOSS);
"potts": true keeps theta of the form w_c * I (the repulsion ablation), as for every CRF loss
(layers/crf_layer.py): theta's diff projected in backward, its data checked and re-projected in forward.

Bottoms: scores (N,L,H,W), label (N,1,H,W) ids as floats, index (N,) the images' indices in
the training set, and with "tables": K (image-dependent factors) the weights (N,K,H,W) of the
net's pairwise branch, into which backward writes the gradient too. Top: (E(sample) - E(truth)) / pixels, the energy gap between the batch's
sample and its ground truth per pixel. It is linear in the sufficient statistics, so its
derivative with the sample held fixed is exactly what backward writes; its expectation is zero
when the model's statistics match the data's (the maximum-likelihood optimum), so a smoothed
value near zero means the chains' statistics track the ground truth's. It costs one gather of
the unaries of two labellings.

Parameter blobs: blobs[0] = theta (C,L,L), zero at start; blobs[1] = the offsets (C,2) theta
belongs to (a model trained with other edge classes is refused); blobs[2] = every training
image's persistent labelling and sweep counter (sampler.ChainStore.to_blob layout). Keeping
the chains in a parameter blob makes snapshots, `-snapshot` resumes and `-weights` copies
carry them with no side files; the blob is the only place they live. tools/export_model.py
drops it from a model meant for deployment.

Each forward is one step of sampler.learning.gibbs_ml_step, the paper's learning step as a plain
function: `sweeps` Gibbs sweeps from each image's stored labelling under the current scores and
theta (randomness keyed by seed, image index and the image's sweep counter, so a resumed run
continues the same random streams), the result stored back in the chain store. Backward writes
statistics(sample) - statistics(ground truth), over the batch's pixel count and times the loss
weight: the negated stochastic gradient of the mean log-likelihood per pixel. This layer only
adapts blobs to that function and keeps the two checks below.

Each image index must name one training image: a batch holding an index twice, or an index
coming back with another ground truth, is refused. (The whole training source's indices are
checked before training by the tools, data.check_chain_indices: the `caffe` binary's HDF5
library is not h5py's, so this layer cannot read the source's files itself.)
"""
import zlib

import numpy as np

import sampler

from . import params
from .blobs import BlobError, chain_blob, integer_ids
from .crf_layer import CRFLoss, check_indexed_batch
from .errors import reports_errors

CHAINS = 2  # the chain store's blob


@reports_errors
class GibbsCRFLoss(CRFLoss):
    NAME = "GibbsCRFLoss"
    SCHEMA = params.LOSS
    BOTTOMS = ("scores", "label", "index")

    def setup(self, bottom, top):
        super().setup(bottom, top)
        chains = chain_blob(self.p.num_images, self.height, self.width, self.p.num_labels, self.p.seed)
        self.blobs.add_blob(*chains.shape)
        self.blobs[CHAINS].data[...] = chains
        self.known = {}  # image index -> crc32 of its ground truth

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        check_indexed_batch(self, bottom, "chain store")

    def objective(self, scores, truth, theta, weights, bottom):
        index = self._indices(bottom[2].data.reshape(-1))
        self._check_ground_truths(index, truth)
        try:
            step = sampler.learning.gibbs_ml_step(scores, truth, theta, self.p.offsets, self.blobs[CHAINS].data[index],
                                                  seed=self.p.seed, keys=index, sweeps=self.p.sweeps,
                                                  backend=self.p.backend, schedule=self.p.schedule, weights=weights)
        except sampler.ChainStoreError as e:
            raise BlobError(f"{self.NAME}: blobs[{CHAINS}] (the chain store) was changed by the solver: {e}. In "
                            f"the prototxt give the layer's third param {{ lr_mult: 0 decay_mult: 0 }}") from None
        self.blobs[CHAINS].data[index] = step.rows

        def backprop(scale, diffs):
            if diffs["scores"] is not None:
                step.d_scores(diffs["scores"], scale)
            if diffs.get("weights") is not None:
                diffs["weights"][...] = scale * step.d_weights
            return step.d_theta
        return step.value, backprop

    def _check_ground_truths(self, index, truth):
        """An image index whose ground truth differs from its first visit's means two training
        images share one chain (a crc32 of each image's ground truth is kept)."""
        for image, labels in zip(index.tolist(), truth):
            fingerprint = zlib.crc32(labels.tobytes())
            if self.known.setdefault(image, fingerprint) != fingerprint:
                raise BlobError(f"{self.NAME}: image index {image} came with another ground truth than on its "
                                f"first visit: two training images share one chain (do the training source's "
                                f"files repeat indices? data.check_chain_indices finds where)")

    def _indices(self, values):
        index = integer_ids(self.NAME, f"bottom[2] (index, chain store of num_images={self.p.num_images})",
                            values, self.p.num_images)
        if len(np.unique(index)) != len(index):
            raise BlobError(f"{self.NAME}: bottom[2] (index) holds image index "
                            f"{int(np.argmax(np.bincount(index)))} twice in one batch: two images would "
                            f"share one chain (is the training source listing a file twice?)")
        return index
