"""A contact sheet of a split: depth and colour-coded labels side by side, on a grid."""
import numpy as np
from PIL import Image

from data import DataError, read_split
from data import labels as L


def depth_grey(depth, near=1.0, far=6.0):
    """Near is bright, far (and background) dark."""
    grey = np.clip((far - depth) / (far - near), 0.0, 1.0) * 255
    return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=-1)


def sheet(depth, label, columns, scale):
    """One RGB image: for each image, its depth and its labels side by side, on a grid."""
    n, h, w = depth.shape
    tiles = [np.concatenate([depth_grey(d), L.colourise(lab)], axis=1) for d, lab in zip(depth, label)]
    tiles += [np.zeros_like(tiles[0])] * (-n % columns)
    rows = [np.concatenate(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    grid = np.concatenate(rows, axis=0)
    return Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)


def write_sheet(split, out, start, count, columns, scale):
    """The sheet of images start..start+count-1 of a split's .h5 (or .txt) as the PNG `out`."""
    images = read_split(split)
    pick = slice(start, start + count)
    if not len(images["depth"][pick]):
        raise DataError(f"{split}: has {len(images['depth'])} images, none from {start}")
    # a PNG whatever the name ends in (PIL would guess the format from it, or fail)
    sheet(images["depth"][pick], images["label"][pick], columns, scale).save(out, format="PNG")
