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
loss weight: the negated stochastic gradient of the mean log-likelihood per pixel. The ground
truth's pair counts are computed on an image's first visit and kept.

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
        self.known = {}  # image index -> (crc32 of its ground truth, the ground truth's pair counts)
        # the smallest dtype that holds any pair count of one image, to keep one table per image
        self.count_dtype = np.uint16 if self.height * self.width < 2 ** 16 else np.uint32

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
        labels, steps = self._load_chains(index)
        labels, counts = sampler.train_step(scores, labels, theta, p.offsets, sweeps=p.sweeps, seed=p.seed, keys=index,
                                            step=steps, backend=p.backend, schedule=p.schedule)
        self.blobs[CHAINS].data[index] = sampler.ChainStore.encode_rows(labels, steps + p.sweeps, p.num_labels)
        self.counts = counts - sum(self._truth_counts(i, t).astype(np.int64) for i, t in zip(index, truth))
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

    def _truth_counts(self, image, truth):
        """The ground truth's pair counts of an image, computed on its first visit; a later visit
        whose ground truth differs means two training images share one chain index."""
        fingerprint = zlib.crc32(truth.tobytes())
        if image not in self.known:
            counts = sampler.pair_counts(truth[None], self.p.offsets, self.p.num_labels, backend=self.p.backend)
            self.known[image] = fingerprint, counts.astype(self.count_dtype)
        elif self.known[image][0] != fingerprint:
            raise BlobError(f"{NAME}: image index {image} came with another ground truth than on its first visit: "
                            f"two training images share one chain (do the training source's files repeat "
                            f"indices? data.check_chain_indices finds where)")
        return self.known[image][1]

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
