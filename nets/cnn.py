"""The unary CNN: depth (N, 1, H, W) in metres -> label scores (N, L, H, W), at any H x W.

An encoder-decoder sized for a 2-core CPU (chosen among designs on the validation set; the
comparison is in the README): three 3x3 convolutions each followed by 2x2 max pooling take the
depth to 1/8 resolution, where four dilated 3x3 convolutions (dilations 1, 2, 4, 8) see a
whole person; scores made there are upsampled twice (bilinear, fixed) and added to linear
scores of the 1/4- and full-resolution features, so part borders stay sharp. Pooling windows
are centred at 4k + 1.5 (1/4) and 8k + 3.5 (1/8) full-resolution pixels, which is where the
bilinear upsampling (kernel 2f, stride f, pad f/2) puts them; Crop trims the upsampled maps to
the finer map's size, so odd image sizes work too.
"""
from caffe import layers as L
from caffe import params as P

ENCODER = (("conv1", 16), ("conv2", 32), ("conv3", 64))  # each followed by 2x2 max pooling
CONTEXT = 96, (1, 2, 4, 8)  # channels and dilations of the 3x3 convolutions at 1/8 resolution
# The depth is in metres: people stand 1.5-4.5 m away, the background is at 6 m; this maps
# people to [-0.75, 0.75] and the background to 1.5.
DEPTH_SCALE, DEPTH_SHIFT = 0.5, -1.5


def receptive_field():
    """The most full-resolution scores one depth pixel can change (the receptive field, seen from
    the input), for the worst alignment with the pooling grid: follow the run of units it
    reaches through each layer. A 3x3 convolution of dilation d widens a run by 2d; 2x2 pooling
    of a run of n units reaches at most n // 2 + 1; a bilinear upsampling by f (kernel 2f) turns
    n units into f * n + f."""
    units = 1
    for _ in ENCODER:
        units = (units + 2) // 2 + 1
    units += 2 * sum(CONTEXT[1])
    for factor in (2, 4):
        units = factor * units + factor
    return units


RECEPTIVE_FIELD = receptive_field()


def conv(bottom, channels, kernel, lr_mult, dilation=1):
    """A convolution keeping the size; lr_mult 0 freezes it (no weight decay then either)."""
    frozen = lr_mult == 0
    return L.Convolution(bottom, num_output=channels, kernel_size=kernel, dilation=dilation,
                         pad=dilation * (kernel // 2), weight_filler={"type": "msra"},
                         bias_filler={"type": "constant", "value": 0},
                         param=[{"lr_mult": lr_mult, "decay_mult": 0 if frozen else 1},
                                {"lr_mult": 2 * lr_mult, "decay_mult": 0}])


def upsample(bottom, factor, channels):
    """Fixed bilinear upsampling by `factor` (Caffe's FCN recipe), one filter per channel."""
    return L.Deconvolution(bottom, param=[{"lr_mult": 0, "decay_mult": 0}], convolution_param={
        "num_output": channels, "group": channels, "kernel_size": 2 * factor, "stride": factor,
        "pad": factor // 2, "bias_term": False, "weight_filler": {"type": "bilinear"}})


def unary_cnn(n, depth, lr_mult, num_labels):
    """Add the CNN on the depth blob to NetSpec n; returns its scores blob n.scores."""
    n.depth_norm = L.Power(depth, power=1, scale=DEPTH_SCALE, shift=DEPTH_SHIFT)
    x, features = n.depth_norm, []
    for name, channels in ENCODER:
        setattr(n, name, conv(x, channels, 3, lr_mult))
        features.append(getattr(n, name))
        setattr(n, name + "_relu", L.ReLU(features[-1], in_place=True))
        setattr(n, name + "_pool", L.Pooling(features[-1], pool=P.Pooling.MAX, kernel_size=2, stride=2))
        x = getattr(n, name + "_pool")
    channels, dilations = CONTEXT
    for d in dilations:
        setattr(n, f"context{d}", conv(x, channels, 3, lr_mult, dilation=d))
        x = getattr(n, f"context{d}")
        setattr(n, f"context{d}_relu", L.ReLU(x, in_place=True))
    full, quarter = features[0], features[2]
    n.scores_eighth = conv(x, num_labels, 1, lr_mult)
    n.up_quarter = upsample(n.scores_eighth, 2, num_labels)
    n.up_quarter_crop = L.Crop(n.up_quarter, quarter, axis=2, offset=0)
    n.skip_quarter = conv(quarter, num_labels, 1, lr_mult)
    n.scores_quarter = L.Eltwise(n.up_quarter_crop, n.skip_quarter)
    n.up_full = upsample(n.scores_quarter, 4, num_labels)
    n.up_full_crop = L.Crop(n.up_full, full, axis=2, offset=0)
    n.skip_full = conv(full, num_labels, 1, lr_mult)
    n.scores = L.Eltwise(n.up_full_crop, n.skip_full)
    return n.scores
