"""Shape and value checks at the layers' boundary, and the CRF layers' parameter blobs:
theta (C, L, L), offsets (C, 2) (the edge classes the model was trained with) and, in the
training layer only, the chain store.

Caffe aborts (or trains on garbage) when a Python layer gets wrong input, so every check
raises a BlobError that names the layer and the blob by its role.
"""
import sys

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


def finite_values(layer, role, blob):
    values = blob.data
    if not np.isfinite(values).all():
        raise BlobError(f"{layer}: {role} holds NaN or infinite values (the net diverged? lower the learning rate)")
    return values


def weights_shape(layer, role, blob, scores_blob, tables):
    """Check the weights bottom is (N, K, H, W) for the scores' N, H, W and K = tables."""
    n, _, h, w = scores_blob.data.shape
    if tuple(blob.data.shape) != (n, tables, h, w):
        raise BlobError(f"{layer}: {role} has shape {tuple(blob.data.shape)}, expected {(n, tables, h, w)}: "
                        f"param_str 'tables' = {tables} weights per pixel for the scores' {n} images of {h}x{w}")


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


def theta_shape(offsets, num_labels, tables=None):
    """(C, L, L), or (C, K, L, L) for K = tables image-dependent tables per class."""
    return (len(offsets),) + (() if tables is None else (tables,)) + (num_labels, num_labels)


def add_model_blobs(layer, offsets, num_labels, tables=None):
    """blobs[0] = theta (theta_shape), zero; blobs[1] = the offsets (C, 2) they belong to."""
    layer.blobs.add_blob(*theta_shape(offsets, num_labels, tables))
    layer.blobs[0].data[...] = 0
    layer.blobs.add_blob(len(offsets), 2)
    layer.blobs[1].data[...] = offsets


def warn_beyond(layer, offsets, height, width):
    """One line on stderr for edge classes with no edge inside an H x W image: their tables
    get no statistics and stay as they are."""
    far = sampler.offsets.beyond(offsets, height, width)
    if len(far):
        print(f"{layer}: warning: edge classes {far.tolist()} reach past the {height}x{width} images: they have "
              f"no edges and their tables learn nothing", file=sys.stderr, flush=True)


def check_offsets(layer, blob, offsets):
    """The offsets blob (copied from trained weights) must be the layer's own edge classes: theta[c]
    belongs to offset c, so other offsets, or the same ones in another order, would swap the tables."""
    trained = blob.data
    if trained.shape != offsets.shape or not np.array_equal(trained, offsets):
        raise BlobError(f"{layer}: the weights were trained with edge classes {trained.astype(int).tolist()} "
                        f"but this layer's param_str 'edges' gives {offsets.tolist()}; use the settings the "
                        f"model was trained with")
