"""GibbsCRFLoss: maximum-likelihood training of the pairwise CRF with persistent Gibbs chains.

    layer { name: "crf" type: "Python" bottom: "scores" bottom: "label" bottom: "index"
            top: "loss" loss_weight: 1
            param { lr_mult: 1 decay_mult: 0 }   # theta
            param { lr_mult: 0 decay_mult: 0 }   # offsets: what theta belongs to
            param { lr_mult: 0 decay_mult: 0 }   # chain store: the solver must not touch it
            python_param { module: "layers.crf_loss" layer: "GibbsCRFLoss"
                           param_str: '{"num_labels": 20, "edges": "sparse:1,2,4,8", "num_images": 2000}' } }

(nets/crf.py writes this layer for every net.) param_str keys: layers/params.py (LOSS);
"potts": true keeps theta of the form w_c * I (the repulsion ablation) as layers/theta_loss.py
does: theta's diff projected in backward, theta's data checked and re-projected in forward.

Bottoms: scores (N,L,H,W), label (N,1,H,W) ids as floats, index (N,) the images' indices in
the training set. Top: (E(sample) - E(truth)) / pixels, the energy gap between the batch's
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

Each forward runs `sweeps` Gibbs sweeps from each image's stored labelling under the current
scores and theta (randomness keyed by seed, image index and the image's sweep counter, so a
resumed run continues the same random streams) and stores the result. Backward writes
statistics(sample) - statistics(ground truth), over the batch's pixel count and times the
loss weight: the negated stochastic gradient of the mean log-likelihood per pixel. The pair
counts' difference comes from the edges at pixels where sample and truth differ (the others
cancel): a few percent of them once the model fits (sampler.stats.pair_count_difference).

Each image index must name one training image: a batch holding an index twice, or an index
coming back with another ground truth, is refused. (The whole training source's indices are
checked before training by the tools, data.check_chain_indices: the `caffe` binary's HDF5
library is not h5py's, so this layer cannot read the source's files itself.)
"""
import zlib

import caffe
import numpy as np

import sampler

from . import params
from .blobs import (BlobError, add_model_blobs, chain_blob, check_offsets, finite_scores, integer_ids, scores_shape,
                    warn_beyond)
from .errors import reports_errors
from .theta_loss import keep_potts

NAME = "GibbsCRFLoss"
CHAINS = 2  # the chain store's blob


@reports_errors
class GibbsCRFLoss(caffe.Layer):

    def setup(self, bottom, top):
        self.p = params.parse(self.param_str, params.LOSS, NAME)
        if len(bottom) != 3 or len(top) != 1:
            raise BlobError(f"{NAME}: needs bottoms (scores, label, index) and one top (loss), "
                            f"got {len(bottom)} bottoms and {len(top)} tops")
        _, num_labels, self.height, self.width = scores_shape(NAME, bottom[0], self.p.num_labels)
        warn_beyond(NAME, self.p.offsets, self.height, self.width)
        add_model_blobs(self, self.p.offsets, num_labels)
        chains = chain_blob(self.p.num_images, self.height, self.width, num_labels, self.p.seed)
        self.blobs.add_blob(*chains.shape)
        self.blobs[CHAINS].data[...] = chains
        self.known = {}  # image index -> crc32 of its ground truth

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
        check_offsets(NAME, self.blobs[1], p.offsets)
        scores = finite_scores(NAME, bottom[0])
        truth = integer_ids(NAME, "bottom[1] (label)", bottom[1].data[:, 0], p.num_labels).astype(np.uint8)
        index = self._indices(bottom[2].data.reshape(-1))
        theta = self.blobs[0].data
        if p.potts:
            keep_potts(NAME, theta)
        self._check_ground_truths(index, truth)
        labels, steps = self._load_chains(index)
        for s in range(p.sweeps):
            labels = sampler.sweep(scores, labels, theta, p.offsets, seed=p.seed, keys=index, step=steps + s,
                                   backend=p.backend, schedule=p.schedule)
        self.blobs[CHAINS].data[index] = sampler.ChainStore.encode_rows(labels, steps + p.sweeps, p.num_labels)
        # statistics(sample) - statistics(truth): only edges at pixels where they differ count
        self.counts = sampler.stats.pair_count_difference(labels, truth, p.offsets, p.num_labels)
        self.truth, self.sample, self.pixels = truth, labels, truth.size
        gap = sampler.stats.unary_gap(scores, labels, truth) + float(np.sum(theta * self.counts))
        top[0].data[...] = gap / self.pixels

    def backward(self, top, propagate_down, bottom):
        scale = float(top[0].diff) / self.pixels
        if propagate_down[0]:
            sampler.stats.onehot_difference(bottom[0].diff, self.sample, self.truth, scale)
        # (in float: the projection averages the diagonal, which integer counts would truncate)
        counts = sampler.learning.potts_project(self.counts.astype(np.float64)) if self.p.potts else self.counts
        # Accumulate, as Caffe's own layers do, so that iter_size > 1 sums the batches.
        self.blobs[0].diff[...] += scale * counts
        # blobs[1] and blobs[CHAINS] (lr_mult 0) keep a zero diff: nothing writes one, and not
        # touching the chain store's saves a pass over it every step

    def _check_ground_truths(self, index, truth):
        """An image index whose ground truth differs from its first visit's means two training
        images share one chain (a crc32 of each image's ground truth is kept)."""
        for image, labels in zip(index.tolist(), truth):
            fingerprint = zlib.crc32(labels.tobytes())
            if self.known.setdefault(image, fingerprint) != fingerprint:
                raise BlobError(f"{NAME}: image index {image} came with another ground truth than on its first "
                                f"visit: two training images share one chain (do the training source's files "
                                f"repeat indices? data.check_chain_indices finds where)")

    def _indices(self, values):
        index = integer_ids(NAME, f"bottom[2] (index, chain store of num_images={self.p.num_images})",
                            values, self.p.num_images)
        if len(np.unique(index)) != len(index):
            raise BlobError(f"{NAME}: bottom[2] (index) holds image index "
                            f"{int(np.argmax(np.bincount(index)))} twice in one batch: two images would "
                            f"share one chain (is the training source listing a file twice?)")
        return index

    def _load_chains(self, index):
        try:
            return sampler.ChainStore.decode_rows(self.blobs[CHAINS].data[index], self.height, self.width,
                                                  self.p.num_labels)
        except ValueError as e:
            raise BlobError(f"{NAME}: blobs[{CHAINS}] (the chain store) was changed by the solver: {e}. In the "
                            f"prototxt give the layer's third param {{ lr_mult: 0 decay_mult: 0 }}") from None
