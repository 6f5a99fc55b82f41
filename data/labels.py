"""The body-part label set: ids, names and colours of the real dataset.

Index 0 of a torso band, leg or arm is the part nearest the body's root (top torso band,
upper leg, upper arm); "L" is the person's own left.
"""
import numpy as np

NAMES = [
    "head",
    "torso0L", "torso0R", "torso1L", "torso1R", "torso2L", "torso2R",
    "leg0L", "leg0R", "leg1L", "leg1R", "leg2L", "leg2R",
    "arm0L", "arm0R", "arm1L", "arm1R", "arm2L", "arm2R",
    "background",
]
NUM_LABELS = len(NAMES)
BACKGROUND = NAMES.index("background")

PALETTE = np.array([
    (56, 170, 0),
    (156, 60, 134), (204, 54, 118), (158, 100, 114), (205, 85, 116), (155, 129, 101), (192, 143, 110),
    (160, 153, 114), (193, 138, 73), (31, 109, 82), (228, 193, 0), (55, 171, 112), (232, 229, 0),
    (118, 63, 153), (224, 64, 98), (85, 49, 139), (223, 62, 45), (21, 71, 155), (224, 90, 0),
    (64, 64, 64),
], dtype=np.uint8)

# MIRROR[l] is the label of l's mirror image: left and right parts swap, the rest stay.
MIRROR = np.array([
    NAMES.index(n[:-1] + {"L": "R", "R": "L"}[n[-1]]) if n[-1] in "LR" else i
    for i, n in enumerate(NAMES)
], dtype=np.uint8)


def colourise(labels):
    """RGB uint8 image(s) (..., 3) of a label map (...) holding ids 0..NUM_LABELS-1."""
    return PALETTE[np.asarray(labels, dtype=np.intp)]


def nearest_label(rgb):
    """(ids, distance): the nearest palette entry of each pixel of rgb (..., 3 or 4) and
    its Euclidean distance in 0-255 units (renders blend colours at region borders)."""
    rgb = np.asarray(rgb, dtype=np.float32)[..., :3]
    dist2 = ((rgb[..., None, :] - PALETTE.astype(np.float32)) ** 2).sum(axis=-1)
    ids = dist2.argmin(axis=-1)
    return ids.astype(np.uint8), np.sqrt(np.take_along_axis(dist2, ids[..., None], axis=-1)[..., 0])
