#!/usr/bin/env python
"""Draw depth and colour-coded labels side by side for some images of a split (PNG).

    .venv/bin/python tools/contact_sheet.py datasets/synth/train.h5 --out sheet.png --count 12
"""
import sys

from experiments import cli
from experiments.contact_sheet import write_sheet


def main(argv=None):
    ap = cli.Parser(__doc__)
    ap.add_argument("split", type=cli.input_path, help="a split's .h5, or its .txt listing .h5 files")
    ap.add_argument("--out", required=True, type=cli.output_file, help="PNG to write")
    ap.add_argument("--count", type=cli.positive_int, default=12, help="number of images (default 12)")
    ap.add_argument("--start", type=cli.non_negative_int, default=0, help="first image (default 0)")
    ap.add_argument("--columns", type=cli.positive_int, default=4, help="images per row (default 4)")
    ap.add_argument("--scale", type=cli.positive_int, default=2, help="pixel magnification (default 2)")
    args = ap.parse_args(argv)

    def work():
        write_sheet(args.split, args.out, args.start, args.count, args.columns, args.scale)
        print(args.out)

    return cli.run(ap.prog, work)


if __name__ == "__main__":
    sys.exit(main())
