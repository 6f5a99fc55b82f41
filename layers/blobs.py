"""Shape and value checks at the layers' boundary, and the chain-store parameter blob.

Caffe aborts (or trains on garbage) when a Python layer gets wrong input, so every check
raises a BlobError that names the layer and the blob by its role.
"""
import numpy as np

import sampler


class BlobError(ValueError):
    """Bad input blob: wrong shape, non-finite or out-of-range values."""


def scores_shape(layer, blob, num_labels):
    """(N, L, H, W) of the scores bottom, which must have num_labels channels."""
    shape = tuple(blob.data.shape)
    if len(shape) != 4 or shape[1] != num_labels:
        raise BlobError(f"{layer}: bottom[0] (scores) has shape {shape}, expected (N, {num_labels}, H, W) "
                        f"with num_labels = {num_labels} channels")
    return shape


def finite_scores(layer, blob):
    scores = blob.data
    if not np.isfinite(scores).all():
        raise BlobError(f"{layer}: bottom[0] (scores) holds NaN or infinite values "
                        f"(the CNN diverged? lower the learning rate)")
    return scores


def integer_ids(layer, role, values, high):
    """values as int64 after checking that they are exact integers in 0..high-1."""
    ids = values.astype(np.int64)
    if values.size and ((ids != values).any() or ids.min() < 0 or ids.max() >= high):
        bad = values[(ids != values) | (ids < 0) | (ids >= high)].ravel()[0]
        raise BlobError(f"{layer}: {role} holds {bad:g}, expected integer ids 0..{high - 1}")
    return ids


def chain_blob(num_images, height, width, num_labels, seed):
    """The initial chain-store blob: random labellings, zero steps (see sampler.ChainStore)."""
    return sampler.ChainStore(num_images, height, width, num_labels, seed=seed).to_blob()


def chain_blob_shape(num_images, height, width, num_labels):
    """chain_blob's shape, without making num_images random labellings."""
    return (num_images,) + chain_blob(1, height, width, num_labels, 0).shape[1:]


def onehot_difference(out, minus, plus, scale):
    """out[n, l, h, w] = scale * ([plus == l] - [minus == l]) for label maps (N, H, W)."""
    out[...] = 0
    n, h, w = np.indices(minus.shape, sparse=True)
    out[n, minus, h, w] -= scale
    out[n, plus, h, w] += scale
