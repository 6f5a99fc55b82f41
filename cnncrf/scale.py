"""The training pixel scale: an image of another size is brought to it before the net runs, and
the net's output is brought back to the image's size.

A model's CNN learned bodies of the size they have at its training resolution, and the CRF's edge
classes are offsets in training pixels; a sensor frame at 640x480 shows the same body four times
larger than a model trained at 160x120 ever saw. So the net runs at the size that gives the input
the training pixel scale (pixels per radian: the training width over the input's width for the
same field of view), and the result is resampled back: labels by nearest neighbour (they are ids),
marginals bilinearly (a probability stays a probability: every output value is a convex mix).

Depth is resampled by nearest neighbour, not bilinearly or by averaging: a pixel on a silhouette
between a body at 2 m and the background at 6 m would read 4 m, a surface that is nowhere, and the
sensor's dropped readings (6 m) would be smeared into the body. The generator renders one ray per
pixel centre, so the input pixel nearest each training pixel's centre is what a sensor at the
training resolution would have read there. A min-filter (the nearest surface in each footprint) was
not taken: it fattens the body at silhouettes and fills in the dropped readings the CNN was trained
to see.
"""
import math

import numpy as np

def net_size(shape, trained_at, hfov=None):
    """(height, width) at which the net sees an image of shape (H, W) at the training scale
    (trained_at: the model's recorded scale). hfov: the image's horizontal field of view in
    degrees, where it differs from the training data's (the model must record its own then)."""
    height, width = shape
    factor = trained_at["width"] / width
    if hfov is not None:
        factor *= math.tan(math.radians(hfov) / 2) / math.tan(math.radians(trained_at["hfov_deg"]) / 2)
    return max(1, round(height * factor)), max(1, round(width * factor))


def nearest(images, size):
    """images (..., H, W) sampled at the pixel nearest each centre of a (h, w) grid over the same
    field of view; the images themselves when the size is theirs."""
    if tuple(size) == images.shape[-2:]:
        return images
    rows, cols = (np.minimum(((np.arange(n) + 0.5) * have / n).astype(np.intp), have - 1)
                  for n, have in zip(size, images.shape[-2:]))
    return images[..., rows[:, None], cols]


def bilinear(maps, size):
    """maps (..., H, W) interpolated bilinearly at the pixel centres of a (h, w) grid over the same
    field of view (edges clamped); the maps themselves when the size is theirs."""
    if tuple(size) == maps.shape[-2:]:
        return maps
    for axis, n in ((-2, size[0]), (-1, size[1])):
        have = maps.shape[axis]
        x = np.clip((np.arange(n) + 0.5) * have / n - 0.5, 0, have - 1)
        low = np.floor(x).astype(np.intp)
        high = np.minimum(low + 1, have - 1)
        t = (x - low).astype(maps.dtype)
        shape = (n, 1) if axis == -2 else (n,)
        maps = (np.take(maps, low, axis=axis) * (1 - t).reshape(shape)
                + np.take(maps, high, axis=axis) * t.reshape(shape))
    return maps
