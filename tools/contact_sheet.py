"""Draw depth and colour-coded labels side by side for some images of a split (PNG).

    .venv/bin/python tools/contact_sheet.py datasets/synth/train.h5 --out sheet.png --count 12
"""
import sys

import numpy as np
from PIL import Image

from data import DataError, read_split
from data import labels as L
from data.cli import Parser, guarded


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


def main(argv=None):
    ap = Parser(__doc__)
    ap.add_argument("split", help="a split's .h5, or its .txt listing .h5 files")
    ap.add_argument("--out", required=True, help="PNG to write")
    ap.add_argument("--count", type=int, default=12, help="number of images (default 12)")
    ap.add_argument("--start", type=int, default=0, help="first image (default 0)")
    ap.add_argument("--columns", type=int, default=4, help="images per row (default 4)")
    ap.add_argument("--scale", type=int, default=2, help="pixel magnification (default 2)")
    args = ap.parse_args(argv)
    if min(args.count, args.columns, args.scale) < 1 or args.start < 0:
        ap.error("--count, --columns and --scale must be positive, --start non-negative")

    def work():
        data = read_split(args.split)
        pick = slice(args.start, args.start + args.count)
        if not len(data["depth"][pick]):
            raise DataError(f"{args.split}: has {len(data['depth'])} images, none from {args.start}")
        sheet(data["depth"][pick], data["label"][pick], args.columns, args.scale).save(args.out)
        print(args.out)

    return guarded(ap.prog, work)


if __name__ == "__main__":
    sys.exit(main())
