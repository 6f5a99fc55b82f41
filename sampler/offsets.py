"""Edge classes: offsets (dy, dx) in the canonical half-plane (dy > 0, or dy == 0 and dx > 0).

Each unordered pixel pair then belongs to exactly one edge (i, i + d).

Sizes are limited so that a mistyped spec ("window:1000000") fails at once, before anything
is built, instead of exhausting memory: at most MAX_OFFSETS classes (window:7 is the largest
window), so that the colouring search (about K^3 C / 3 steps for K colours, K about C / 2 for
a window) stays under about a second, and offsets of at most MAX_REACH pixels, the margin the
numba backend frames every image with (512 is more than the paper-scale 320x240 images span).
"""
import numpy as np

MAX_OFFSETS = 128
MAX_REACH = 512


def window(radius):
    """All offsets with max(|dy|, |dx|) <= radius, canonical half only: (C, 2) int64."""
    radius = _positive_int(radius, "radius")
    count = 2 * radius * (radius + 1)
    if count > MAX_OFFSETS:
        raise ValueError(f"radius: window:{radius} has {count} offsets, more than {MAX_OFFSETS} "
                         f"(window:7 is the largest)")
    pairs = [(0, dx) for dx in range(1, radius + 1)]
    pairs += [(dy, dx) for dy in range(1, radius + 1) for dx in range(-radius, radius + 1)]
    return np.array(pairs, dtype=np.int64)


def sparse(distances):
    """The 4 canonical directions (0,1), (1,0), (1,1), (1,-1), each times every distance d."""
    try:
        distances = np.atleast_1d(distances).tolist()
    except ValueError:  # ragged lists
        raise ValueError(f"distances: not a list of distances: {distances!r}") from None
    if not distances:
        raise ValueError("distances: none given")
    if 4 * len(distances) > MAX_OFFSETS:
        raise ValueError(f"distances: {len(distances)} distances make {4 * len(distances)} offsets, "
                         f"more than {MAX_OFFSETS}")
    distances = [_positive_int(d, "distances") for d in distances]
    if len(set(distances)) != len(distances):
        raise ValueError(f"distances: duplicate distance in {distances}")
    if max(distances) > MAX_REACH:
        raise ValueError(f"distances: {max(distances)} is longer than {MAX_REACH} pixels")
    pairs = [(dy * d, dx * d) for d in distances for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1))]
    return np.array(pairs, dtype=np.int64)


def parse_edges(spec):
    """Offsets from "window:R", "sparse:d1,d2,...", a list of [dy, dx] or a (C, 2) array."""
    if isinstance(spec, str):
        kind, _, args = spec.partition(":")
        try:
            if kind.strip() == "window":
                return window(int(args))
            if kind.strip() == "sparse":
                return sparse([int(a) for a in args.split(",")])
        except ValueError as e:
            raise ValueError(f"edges: cannot parse {spec!r} ({e})") from None
        raise ValueError(f'edges: {spec!r} is not "window:R", "sparse:d1,d2,..." or a list of [dy, dx]')
    try:
        offsets = np.asarray(spec)
    except ValueError:
        raise ValueError(f"offsets: not a list of [dy, dx] pairs: {spec!r}") from None
    if offsets.ndim != 2 or offsets.shape[1] != 2 or len(offsets) == 0:
        raise ValueError(f"offsets: expected a non-empty list of [dy, dx] pairs, got shape {offsets.shape}")
    if offsets.dtype.kind not in "iu":
        if offsets.dtype.kind != "f" or not np.all(np.isfinite(offsets)) or np.any(offsets != np.round(offsets)):
            raise ValueError(f"offsets: entries must be integers, got dtype {offsets.dtype}")
    if len(offsets) > MAX_OFFSETS:
        raise ValueError(f"offsets: {len(offsets)} offsets, more than {MAX_OFFSETS}")
    # before the cast, which would wrap huge values; not through abs(), which wraps -2**63
    far = ((offsets > MAX_REACH) | (offsets < -MAX_REACH)).any(axis=1)
    if far.any():
        raise ValueError(f"offsets: {offsets[far.argmax()].tolist()} reaches further than {MAX_REACH} pixels")
    offsets = offsets.astype(np.int64)
    for dy, dx in offsets.tolist():
        if dy == 0 and dx == 0:
            raise ValueError("offsets: (0, 0) is not an edge")
        if not (dy > 0 or (dy == 0 and dx > 0)):
            raise ValueError(f"offsets: ({dy}, {dx}) is not canonical (need dy > 0, or dy == 0 and dx > 0); "
                             f"use ({-dy}, {-dx})")
    if len({tuple(o) for o in offsets.tolist()}) != len(offsets):
        raise ValueError(f"offsets: duplicate offset in {offsets.tolist()}")
    return offsets


def beyond(offsets, height, width):
    """The offsets (K, 2) that join no pixel pair of a height x width image (|dy| >= height or
    |dx| >= width): their classes have no edge there, so their tables would never learn."""
    offsets = parse_edges(offsets)
    height, width = _positive_int(height, "height"), _positive_int(width, "width")
    return offsets[(np.abs(offsets[:, 0]) >= height) | (np.abs(offsets[:, 1]) >= width)]


def _positive_int(value, name):
    try:
        whole = not isinstance(value, bool) and int(value) == value and value >= 1
    except (TypeError, ValueError, OverflowError):  # None, a list, inf, nan, text
        whole = False
    if not whole:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)
