"""The unary CNN: depth (N, 1, H, W) in metres -> label scores (N, L, H, W)."""
from caffe import layers as L

# (name, channels, dilation) of the 3x3 convolutions; receptive field 1 + 2 * sum(dilations).
LAYERS = (("conv1", 16, 1), ("conv2", 16, 2), ("conv3", 32, 4), ("conv4", 32, 8))
RECEPTIVE_FIELD = 1 + 2 * sum(d for _, _, d in LAYERS)
# The depth is in metres: people stand 1.5-4.5 m away, the background is at 6 m; this maps
# people to [-0.75, 0.75] and the background to 1.5.
DEPTH_SCALE, DEPTH_SHIFT = 0.5, -1.5


def conv(bottom, channels, kernel, dilation, lr_mult):
    """A convolution keeping the size; lr_mult 0 freezes it (no weight decay then either)."""
    frozen = lr_mult == 0
    return L.Convolution(bottom, num_output=channels, kernel_size=kernel, dilation=dilation,
                         pad=dilation * (kernel // 2), weight_filler={"type": "msra"},
                         bias_filler={"type": "constant", "value": 0},
                         param=[{"lr_mult": lr_mult, "decay_mult": 0 if frozen else 1},
                                {"lr_mult": 2 * lr_mult, "decay_mult": 0}])


def unary_cnn(n, depth, lr_mult, num_labels):
    """Add the CNN on the depth blob to NetSpec n; returns its scores blob n.scores."""
    n.depth_norm = L.Power(depth, power=1, scale=DEPTH_SCALE, shift=DEPTH_SHIFT)
    x = n.depth_norm
    for name, channels, dilation in LAYERS:
        setattr(n, name, conv(x, channels, 3, dilation, lr_mult))
        x = getattr(n, name)
        setattr(n, name + "_relu", L.ReLU(x, in_place=True))
    n.scores = conv(x, num_labels, 1, 1, lr_mult)
    return n.scores
