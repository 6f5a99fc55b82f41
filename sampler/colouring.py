"""Colourings for the chromatic sweep: colour(y, x) = (a*y + b*x) mod K.

Valid when a*dy + b*dx != 0 (mod K) for every offset, i.e. no edge joins two pixels of
one colour, so all pixels of a colour can be updated in parallel. We take the smallest
K found by exhaustive search over (a, b); one always exists for
K = (2R+1)(R+1) + 1 with a = 1, b = 2R+1, R = the largest |dy|, |dx|.
"""
import functools

import numpy as np

from .offsets import parse_edges


def colouring(offsets):
    """(a, b, K) with K as small as possible among linear colourings."""
    return _search(tuple(map(tuple, parse_edges(offsets).tolist())))


def colour_map(offsets, height, width):
    """((H, W) int64 colour of every pixel, number of colours K)."""
    a, b, k = colouring(offsets)
    return (a * np.arange(height)[:, None] + b * np.arange(width)[None, :]) % k, k


@functools.lru_cache(maxsize=None)
def _search(offsets):
    d = np.array(offsets, dtype=np.int64)
    reach = int(np.abs(d).max())
    for k in range(2, (2 * reach + 1) * (reach + 1) + 2):
        a, b = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        ok = np.all((a[..., None] * d[:, 0] + b[..., None] * d[:, 1]) % k != 0, axis=-1)
        if ok.any():
            i, j = np.argwhere(ok)[0]
            return int(i), int(j), k
    raise AssertionError("unreachable: a = 1, b = 2R+1 always works")


@functools.lru_cache(maxsize=64)
def schedule_plan(offsets_key, height, width, schedule):
    """(order, starts): pixel indices grouped by update step; group g is order[starts[g]:starts[g+1]].

    raster: one pixel per group, in raster order. chromatic: one group per colour.
    Groups are updated one after another, pixels within a group in parallel.
    """
    if schedule == "raster":
        return np.arange(height * width, dtype=np.int64), np.arange(height * width + 1, dtype=np.int64)
    colours, k = colour_map(np.array(offsets_key, dtype=np.int64).reshape(-1, 2), height, width)
    flat = colours.ravel()
    order = np.argsort(flat, kind="stable").astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=k))]).astype(np.int64)
    return order, starts
