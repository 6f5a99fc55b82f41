"""Neighbour tables on an H x W grid, shared by the NumPy code paths (reference, statistics, exact)."""
import functools

import numpy as np


def key(offsets):
    """A hashable form of validated (C, 2) offsets, for the caches below."""
    return tuple(np.asarray(offsets).ravel().tolist())


@functools.lru_cache(maxsize=64)
def neighbours(offsets_key, height, width):
    """(forward, backward), each (C, H*W) int64: flat index of i + d_c (resp. i - d_c), or H*W outside.

    H*W points at a padding slot, so callers gather without masks.
    """
    d = np.array(offsets_key, dtype=np.int64).reshape(-1, 2)
    y, x = np.divmod(np.arange(height * width), width)
    tables = []
    for sign in (1, -1):
        ny, nx = y[None] + sign * d[:, :1], x[None] + sign * d[:, 1:]
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        tables.append(np.where(inside, ny * width + nx, height * width))
    return tables[0], tables[1]


def edges(offsets_key, height, width, c):
    """(i, j) flat index arrays of the edges of class c inside the image."""
    forward, _ = neighbours(offsets_key, height, width)
    i = np.flatnonzero(forward[c] < height * width)
    return i, forward[c, i]


def overlap(offset, height, width):
    """(at_i, at_j): index tuples (rows, columns) of the pixels i whose neighbour j = i + d lies
    inside the image, and of those neighbours j, for a canonical offset d = (dy >= 0, dx)."""
    dy, dx = int(offset[0]), int(offset[1])
    rows_i, rows_j = slice(0, max(0, height - dy)), slice(min(dy, height), height)
    if dx >= 0:
        cols_i, cols_j = slice(0, max(0, width - dx)), slice(min(dx, width), width)
    else:
        cols_i, cols_j = slice(min(-dx, width), width), slice(0, max(0, width + dx))
    return (rows_i, cols_i), (rows_j, cols_j)
