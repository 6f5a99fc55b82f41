"""Edge classes: offsets (dy, dx) in the canonical half-plane (dy > 0, or dy == 0 and dx > 0).

Each unordered pixel pair then belongs to exactly one edge (i, i + d).
"""
import numpy as np


def window(radius):
    """All offsets with max(|dy|, |dx|) <= radius, canonical half only: (C, 2) int64."""
    radius = _positive_int(radius, "radius")
    pairs = [(0, dx) for dx in range(1, radius + 1)]
    pairs += [(dy, dx) for dy in range(1, radius + 1) for dx in range(-radius, radius + 1)]
    return np.array(pairs, dtype=np.int64)


def sparse(distances):
    """The 4 canonical directions (0,1), (1,0), (1,1), (1,-1), each times every distance d."""
    distances = [_positive_int(d, "distances") for d in np.atleast_1d(distances).tolist()]
    if len(set(distances)) != len(distances):
        raise ValueError(f"distances: duplicate distance in {distances}")
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


def _positive_int(value, name):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)
