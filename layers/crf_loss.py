"""GibbsCRFLoss: maximum-likelihood training of the pairwise CRF with persistent Gibbs chains.

    layer { name: "crf" type: "Python" bottom: "scores" bottom: "label" bottom: "index"
            top: "loss" loss_weight: 1
            param { lr_mult: 1 decay_mult: 0 }   # theta
            param { lr_mult: 0 decay_mult: 0 }   # chain store: the solver must not touch it
            python_param { module: "layers.crf_loss" layer: "GibbsCRFLoss"
                           param_str: '{"num_labels": 20, "edges": "sparse:1,2,4,8", "num_images": 2000}' } }

param_str keys: layers/params.py (LOSS).

Bottoms: scores (N,L,H,W), label (N,1,H,W) ids as floats, index (N,) the images' indices in
the training set. Top: the mean negative pseudo-log-likelihood per pixel of the labels
(the softmax cross-entropy when theta = 0), a number to watch; the gradient is not its.

Parameter blobs: blobs[0] = theta (C,L,L), zero at start. blobs[1] = every training
image's persistent labelling and sweep counter (sampler.ChainStore.to_blob layout). Keeping
the chains in a parameter blob makes snapshots, `-snapshot` resumes and `-weights` copies
carry them with no side files; the blob is the only place they live.

Each forward runs `sweeps` Gibbs sweeps from each image's stored labelling under the current
scores and theta (randomness keyed by seed, image index and the image's sweep counter, so a
resumed run continues the same random streams) and stores the result. Backward writes
statistics(sample) - statistics(ground truth), over the batch's pixel count and times the
loss weight: the negated stochastic gradient of the mean log-likelihood per pixel.
"""
import caffe
import numpy as np

import sampler

from . import params
from .blobs import BlobError, chain_blob, finite_scores, integer_ids, onehot_difference, scores_shape
from .errors import reports_errors

NAME = "GibbsCRFLoss"


@reports_errors
class GibbsCRFLoss(caffe.Layer):

    def setup(self, bottom, top):
        self.p = params.parse(self.param_str, params.LOSS, NAME)
        if len(bottom) != 3 or len(top) != 1:
            raise BlobError(f"{NAME}: needs bottoms (scores, label, index) and one top (loss), "
                            f"got {len(bottom)} bottoms and {len(top)} tops")
        _, num_labels, self.height, self.width = scores_shape(NAME, bottom[0], self.p.num_labels)
        num_classes = len(self.p.offsets)
        self.blobs.add_blob(num_classes, num_labels, num_labels)
        self.blobs[0].data[...] = 0
        chains = chain_blob(self.p.num_images, self.height, self.width, num_labels, self.p.seed)
        self.blobs.add_blob(*chains.shape)
        self.blobs[1].data[...] = chains

    def reshape(self, bottom, top):
        n, _, h, w = scores_shape(NAME, bottom[0], self.p.num_labels)
        if (h, w) != (self.height, self.width):
            raise BlobError(f"{NAME}: bottom[0] (scores) is {h}x{w} (HxW) but the chain store holds "
                            f"{self.height}x{self.width} labellings; the image size cannot change")
        if tuple(bottom[1].data.shape) != (n, 1, h, w):
            raise BlobError(f"{NAME}: bottom[1] (label) has shape {tuple(bottom[1].data.shape)}, "
                            f"expected {(n, 1, h, w)} to match the scores")
        if bottom[2].data.size != n:
            raise BlobError(f"{NAME}: bottom[2] (index) has shape {tuple(bottom[2].data.shape)}, "
                            f"expected {n} image indices")
        top[0].reshape()  # a scalar, like Caffe's own loss layers

    def forward(self, bottom, top):
        p = self.p
        scores = finite_scores(NAME, bottom[0])
        truth = integer_ids(NAME, "bottom[1] (label)", bottom[1].data[:, 0], p.num_labels).astype(np.uint8)
        index = integer_ids(NAME, f"bottom[2] (index, chain store of num_images={p.num_images})",
                            bottom[2].data.reshape(-1), p.num_images)
        theta = self.blobs[0].data
        labels, steps = self._load_chains(index)
        for s in range(p.sweeps):
            labels = sampler.sweep(scores, labels, theta, p.offsets, seed=p.seed, keys=index,
                                   step=steps + s, backend=p.backend, schedule=p.schedule)
        self.blobs[1].data[index] = sampler.ChainStore.encode_rows(labels, steps + p.sweeps)
        self.truth, self.sample = truth, labels
        pll = sampler.pseudo_log_likelihood(scores, truth, theta, p.offsets, backend=p.backend)
        top[0].data[...] = -pll.sum() / truth.size

    def backward(self, top, propagate_down, bottom):
        scale = float(top[0].diff) / self.truth.size
        if propagate_down[0]:
            onehot_difference(bottom[0].diff, self.truth, self.sample, scale)
        counts = (sampler.pair_counts(self.sample, self.p.offsets, self.p.num_labels)
                  - sampler.pair_counts(self.truth, self.p.offsets, self.p.num_labels))
        # Accumulate, as Caffe's own layers do, so that iter_size > 1 sums the batches.
        self.blobs[0].diff[...] += scale * counts
        self.blobs[1].diff[...] = 0

    def _load_chains(self, index):
        try:
            return sampler.ChainStore.decode_rows(self.blobs[1].data[index], self.height, self.width,
                                                  self.p.num_labels)
        except ValueError as e:
            raise BlobError(f"{NAME}: blobs[1] (the chain store) was changed by the solver: {e}. In the "
                            f"prototxt give the layer's second param {{ lr_mult: 0 decay_mult: 0 }}") from None
