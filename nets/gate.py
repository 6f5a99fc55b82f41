"""The pairwise branch of the image-dependent ("gated") CRF: depth and the CNN's scores ->
weights (N, K, H, W), a softmax over K per pixel, which mix each edge class's K tables
(layers/crf_layer.py; an edge's weight is the mean of its two ends').

Made to be cheap beside the Gibbs sweeps (a few ms per batch of 8 at 160x120 on 2 cores): a 3x3
convolution of the normalised depth sees depth steps (a body's outline, one limb in front of
another), and a 1x1 convolution of those features with the scores (what the CNN believes, and
how sure it is) gives the K logits. Gaussian, not zero, initial weights: with equal weights at
every pixel the K tables would get equal gradients and never become different.
"""
from caffe import layers as L

from .cnn import DEPTH_SCALE, DEPTH_SHIFT

DEPTH_FEATURES = 4
INIT_STD = 0.1


def _conv(bottom, channels, kernel, lr_mult):
    return L.Convolution(bottom, num_output=channels, kernel_size=kernel, pad=kernel // 2,
                         weight_filler={"type": "gaussian", "std": INIT_STD},
                         bias_filler={"type": "constant", "value": 0},
                         param=[{"lr_mult": lr_mult, "decay_mult": 0 if lr_mult == 0 else 1},
                                {"lr_mult": 2 * lr_mult, "decay_mult": 0}])


def pairwise_branch(n, depth, scores, tables, lr_mult=1):
    """Add the branch to NetSpec n; returns its weights blob n.gate_weights (N, tables, H, W)."""
    n.gate_depth_norm = L.Power(depth, power=1, scale=DEPTH_SCALE, shift=DEPTH_SHIFT)
    n.gate_depth = _conv(n.gate_depth_norm, DEPTH_FEATURES, 3, lr_mult)
    n.gate_depth_relu = L.ReLU(n.gate_depth, in_place=True)
    n.gate_features = L.Concat(scores, n.gate_depth)
    n.gate_logits = _conv(n.gate_features, tables, 1, lr_mult)
    n.gate_weights = L.Softmax(n.gate_logits)
    return n.gate_weights
