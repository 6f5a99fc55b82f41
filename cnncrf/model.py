"""A trained model that segments depth maps: the one path from a depth map to labels, which
tools/segment.py, tools/eval.py and Python code all take.

Every image goes to the model's training pixel scale first and its result comes back to the
image's size (cnncrf.scale); a model that does not record its training scale is refused.
"""
from pathlib import Path

import numpy as np

from data import labels as label_set
from nets.export import recorded_scale
from nets.runtime import forward_batches
from nets.weights import ModelError

from . import scale
from .depth import prepare
from .net import INFERENCE, load_net


def load(deploy, weights, inference="gibbs", *, burn_in=None, samples=None, seed=None, scores_blob="scores",
         batch_size=16, hfov=None):
    """The Model of a deploy net (deploy_cnn, deploy_crf or deploy_gated .prototxt) with the weights
    of an exported model (tools/export_model.py). inference: "cnn" (the argmax of the CNN's scores,
    marginals their softmax) or the CRF layer's method, "gibbs" (max marginals of Gibbs sampling),
    "meanfield" or "icm" (one-hot marginals); burn_in, samples, seed: the CRF layer's settings (None:
    the prototxt's); batch_size: images per forward pass; hfov: the images' horizontal field of view
    in degrees, where it is not the training data's (the model must record its own then)."""
    for path, what in ((deploy, "model"), (weights, "weights")):
        if not Path(path).is_file():
            raise ModelError(f"{what} not found: {path}")
    if inference not in INFERENCE:
        raise ValueError(f"inference: expected one of {', '.join(INFERENCE)}, got {inference!r}")
    net, output, end = load_net(deploy, weights, inference, {"burn_in": burn_in, "samples": samples, "seed": seed},
                                scores_blob)
    if net.blobs[output].channels != label_set.NUM_LABELS:
        raise ModelError(f"{deploy}: blob '{output}' has {net.blobs[output].channels} channels but the body-part "
                         f"label set has {label_set.NUM_LABELS} labels")
    trained_at = recorded_scale(weights)
    if trained_at is None:
        raise ModelError(f"{weights}: records no training image size, so images cannot be brought to its scale; "
                         f"export it again: tools/export_model.py SNAPSHOT... --out MODEL --trained-at WxH "
                         f"(or --data TRAIN.txt)")
    if hfov is not None and "hfov_deg" not in trained_at:
        raise ModelError(f"{weights}: records no field of view to compare the images' {hfov:g} degrees with; "
                         f"leave the field of view out to take the training data's")
    return Model(net, output, end, trained_at, inference, batch_size, hfov)


class Model:
    """Segments depth maps of any size; build it with load()."""

    def __init__(self, net, output, end, trained_at, inference, batch_size, hfov):
        self.net, self.output, self.end = net, output, end
        self.trained_at, self.inference, self.batch_size, self.hfov = trained_at, inference, batch_size, hfov

    def segment(self, depth):
        """(labels (H, W) uint8, marginals (L, H, W) float32) of one depth map (H, W) in metres of
        any size (cnncrf.depth.prepare's convention: no reading is 0 or beyond 6 m)."""
        depth = prepare(depth)
        labels, marginals = self._run(depth[None], marginals=True, progress=False)
        return labels[0], marginals[0]

    def labels(self, depths, progress=True):
        """Labels (N, H, W) uint8 of depth maps (N, H, W) in the dataset's convention already (a
        test split), batch by batch."""
        return self._run(depths, marginals=False, progress=progress)[0]

    def net_size(self, shape):
        """(height, width) the net runs at for an image of shape (H, W): its training pixel scale."""
        return scale.net_size(shape, self.trained_at, self.hfov)

    def _run(self, depths, marginals, progress):
        shape = depths.shape[1:]
        at_scale = scale.nearest(depths, self.net_size(shape))
        labels = np.empty(depths.shape, np.uint8)
        probs = np.empty((len(depths), label_set.NUM_LABELS) + shape, np.float32) if marginals else None
        for first, out in forward_batches(self.net, self.output, at_scale, self.batch_size, self.end, "segmenting",
                                          progress):
            batch = slice(first, first + len(out))
            labels[batch] = scale.nearest(out.argmax(axis=1).astype(np.uint8), shape)
            if marginals:
                probs[batch] = scale.bilinear(softmax(out) if self.inference == "cnn" else out, shape)
        return labels, probs


def softmax(scores):
    """Softmax over axis 1 of (N, L, H, W) scores."""
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
