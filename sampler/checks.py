"""Validation at the public boundary: every error is a ValueError naming the argument.

Public functions call these once; backends and kernels trust their inputs.
"""
import numpy as np

from .offsets import parse_edges

MAX_LABELS = 255  # labels are uint8 and kernels use L as the "outside" padding label


def _array(value, name):
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name}: not an array ({e})") from None


def _float(value, name, ndim):
    a = _array(value, name)
    if a.dtype.kind != "f":
        raise ValueError(f"{name}: expected a float array, got dtype {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {a.shape}")
    with np.errstate(over="ignore"):  # overflow shows up as Inf, reported below
        a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: contains NaN or Inf (as float32, whose largest value is about 3.4e38)")
    return a


def scores(value, name="scores"):
    """(N, L, H, W) float32, finite."""
    s = _float(value, name, 4)
    if not 2 <= s.shape[1] <= MAX_LABELS:
        raise ValueError(f"{name}: number of labels (axis 1) must be in 2..{MAX_LABELS}, got shape {s.shape}")
    if 0 in s.shape:
        raise ValueError(f"{name}: empty shape {s.shape}")
    return s


def model(scores_, theta, offsets):
    """Validated (scores, theta, offsets) that agree on L and C."""
    s = scores(scores_)
    d = parse_edges(offsets)
    t = _float(theta, "theta", 3)
    num_labels = s.shape[1]
    if t.shape != (len(d), num_labels, num_labels):
        raise ValueError(f"theta: expected shape (C, L, L) = {(len(d), num_labels, num_labels)} "
                         f"for {len(d)} offsets and {num_labels} labels, got {t.shape}")
    return s, t, d


def weighted_model(scores_, theta, offsets, weights):
    """model() when weights is None, with None for the weights; else validated (scores, theta
    (C, K, L, L), offsets, weights (N, K, H, W)) that agree on N, H, W, L, C and K."""
    if weights is None:
        if np.ndim(theta) == 4:
            raise ValueError(f"theta: (C, K, L, L) tables {np.shape(theta)} need per-pixel weights (weights=)")
        return (*model(scores_, theta, offsets), None)
    s = scores(scores_)
    d = parse_edges(offsets)
    n, num_labels, h, w = s.shape
    wt = pixel_weights(weights, (n, h, w))
    t = tables(theta, len(d), num_labels)
    if t.shape[1] != wt.shape[1]:
        raise ValueError(f"theta: {t.shape[1]} tables per class, but weights has K = {wt.shape[1]} (shape {wt.shape})")
    return s, t, d, wt


def pixel_weights(value, shape, name="weights"):
    """(N, K, H, W) float32, finite, K >= 1; `shape` is (N, H, W)."""
    wt = _float(value, name, 4)
    if wt.shape[1] == 0 or (wt.shape[0], wt.shape[2], wt.shape[3]) != tuple(shape):
        raise ValueError(f"{name}: expected shape (N, K, H, W) with (N, H, W) = {tuple(shape)} and K >= 1, "
                         f"got {wt.shape}")
    return wt


def tables(theta, num_classes, num_labels=None):
    """(C, K, L, L) float32, finite, for C classes and L labels (None: any L in 2..MAX_LABELS)."""
    t = _float(theta, "theta", 4)
    if num_labels is None and 2 <= t.shape[2] <= MAX_LABELS:
        num_labels = t.shape[2]
    if t.shape[0] != num_classes or t.shape[2:] != (num_labels, num_labels) or t.shape[1] == 0:
        expected = f"(C, L) = {(num_classes, num_labels)}" if num_labels else f"C = {num_classes}, L in 2..{MAX_LABELS}"
        raise ValueError(f"theta: expected shape (C, K, L, L) with {expected} for {num_classes} offsets, got {t.shape}")
    return t


def labels(value, shape, num_labels, name="labels"):
    """A fresh (N, H, W) uint8 copy; `shape` is (N, H, W)."""
    a = _array(value, name)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected an integer array, got dtype {a.dtype}")
    if a.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {a.shape}")
    if a.size and (a.min() < 0 or a.max() >= num_labels):
        raise ValueError(f"{name}: values must be in 0..{num_labels - 1}, got {a.min()}..{a.max()}")
    return np.array(a, dtype=np.uint8, order="C")


def keys(value, n):
    """(N,) int64; None means arange(N)."""
    if value is None:
        return np.arange(n, dtype=np.int64)
    a = _array(value, "keys")
    if a.dtype.kind not in "iu" or a.shape != (n,):
        raise ValueError(f"keys: expected {n} integers (one per image), got {value!r}")
    return a.astype(np.int64)


def steps(value, n):
    """(N,) uint64 from an int or N non-negative integers."""
    a = _array(value, "step")
    if a.dtype.kind not in "iu" or a.ndim > 1 or (a.ndim == 1 and len(a) != n):
        raise ValueError(f"step: expected a non-negative integer or {n} of them, got {value!r}")
    if a.size and a.min() < 0:
        raise ValueError(f"step: must be non-negative, got {value!r}")
    return np.broadcast_to(a, (n,)).astype(np.uint64)


def seed(value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**64:
        raise ValueError(f"seed: expected an integer in 0..2**64-1, got {value!r}")
    return int(value)


def count(value, name, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def choice(value, name, options):
    if value not in options:
        raise ValueError(f"{name}: expected one of {options}, got {value!r}")
    return value
