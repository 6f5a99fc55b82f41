"""Learning with loopy-BP beliefs in place of marginals (Chen, Schwing, Yuille and Urtasun,
"Learning Deep Structured Models", ICML 2015): the maximum-likelihood gradient
statistics(truth) - E[statistics] with the expectations taken under the beliefs of T damped
iterations of sum-product LBP (sampler/belief_propagation.py):

    d/d theta[c] = pair_counts(truth)[c] - the pair beliefs summed over class c's edges,
    d/d u_i      = one-hot(y_i) - b_i.

value: E(truth) - log Z_Bethe, the Bethe approximation of log p(truth) with the Bethe free
energy of the beliefs reached. At a BP fixed point the gradients above are its exact gradients
(the Bethe free energy is stationary there); after T iterations from cold messages they are
what Chen et al. use, not the derivative of this value. On a tree, once converged, the value is
log p(truth) itself.

Warm start (Chen et al.'s "blending" of learning and inference): each training image's messages
kept between its visits in a MessageStore, 2C messages of L float32 per pixel, against the
Gibbs chains' one label per pixel (memory_figures).
"""
import os

import numpy as np

from .. import api, belief_propagation, checks
from ..chains import blob_columns


def loopy_bp(scores, labels, theta, offsets, *, iterations=10, damping=0.5, messages=None, backend="auto"):
    """(value (N,) float64, d_scores (N, L, H, W) float32, d_theta (C, L, L) float32): the
    surrogate above and the belief gradients, summed over the batch. messages: None (cold start)
    or the warm start, updated in place (belief_propagation.run)."""
    scores, theta, offsets = checks.model(scores, theta, offsets)
    n, num_labels, h, w = scores.shape
    labels = checks.labels(labels, (n, h, w), num_labels)
    beliefs = belief_propagation.run(scores, theta, offsets, iterations=iterations, damping=damping,
                                     messages=messages, backend=backend)
    onehot = labels[:, None] == np.arange(num_labels, dtype=np.uint8)[:, None, None]
    value = api.energy(scores, labels, theta, offsets) - beliefs.log_partition
    d_theta = api.pair_counts(labels, offsets, num_labels) - beliefs.pairs
    return value, (onehot - beliefs.nodes).astype(np.float32), d_theta.astype(np.float32)


class MessageStore:
    """The warm start: every training image's messages (belief_propagation's layout), all zero
    (cold) until the image's first visit. In memory only (np.zeros maps pages when first
    written), refused where it would take more than half the machine's memory."""

    def __init__(self, num_images, num_classes, num_labels, height, width):
        needed = belief_propagation.message_bytes(num_images, num_classes, num_labels, height, width)
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        if needed > memory // 2:
            raise ValueError(f"num_images: the messages of {num_images} images of {height}x{width} (HxW) with "
                              f"{num_classes} edge classes and {num_labels} labels take {needed / 1e9:.1f} GB, "
                              f"more than half of this machine's {memory / 1e9:.1f} GB")
        self.messages = np.zeros(belief_propagation.message_shape(num_images, num_classes, num_labels, height,
                                                                  width), dtype=np.float32)

    def step(self, index, learn):
        """learn(messages) -> result with the images' stored messages (updated in place by learn),
        stored back afterwards; index: distinct image indices."""
        messages = self.messages[index]
        result = learn(messages)
        self.messages[index] = messages
        return result


def memory_figures(num_images, num_classes, num_labels, height, width):
    """Bytes to keep per training image: {"messages": the warm start's float32 messages,
    "chains": the Gibbs chains' one uint8 label per pixel, "chain_blob": those chains packed in
    GibbsCRFLoss's parameter blob (sampler.ChainStore.to_blob)}."""
    return {"messages": belief_propagation.message_bytes(num_images, num_classes, num_labels, height, width),
            "chains": num_images * height * width,
            "chain_blob": 4 * num_images * blob_columns(height, width, num_labels)}
