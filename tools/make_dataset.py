"""Generate the synthetic Kinect-like body-part dataset as HDF5 files Caffe reads.

    .venv/bin/python tools/make_dataset.py --out datasets/synth --train 2000 --test 500 \\
        --height 120 --width 160 --seed 0

Writes OUT/train.h5, OUT/test.h5 (depth, label, index), OUT/train.txt, OUT/test.txt (the
HDF5Data sources) and OUT/meta.json; the same seed gives byte-identical files.
"""
import sys

from data import make_dataset
from data.generate import MAX_SIDE
from experiments import cli
from experiments.scales import SCALES


def main(argv=None):
    default = SCALES["default"]
    ap = cli.Parser(__doc__)
    ap.add_argument("--out", required=True, help="dataset folder to write (replaced only if it holds exactly a dataset these tools wrote)")
    ap.add_argument("--train", type=cli.positive_int, default=default.train, help="training images (default %(default)s)")
    ap.add_argument("--test", type=cli.positive_int, default=default.test, help="test images (default %(default)s)")
    ap.add_argument("--height", type=cli.positive_int, default=default.height,
                    help=f"image height in pixels, 8..{MAX_SIDE} (default %(default)s; 240 paper-scale)")
    ap.add_argument("--width", type=cli.positive_int, default=default.width,
                    help=f"image width in pixels, 8..{MAX_SIDE} (default %(default)s; 320 paper-scale); the images "
                         "must fit in memory (refused before any work otherwise)")
    ap.add_argument("--seed", type=cli.non_negative_int, default=0, help="random seed (default 0)")
    ap.add_argument("--workers", type=cli.positive_int, default=2, help="worker processes (default 2)")
    args = ap.parse_args(argv)

    def work():
        meta = make_dataset(args.out, train=args.train, test=args.test, height=args.height, width=args.width,
                            seed=args.seed, workers=args.workers, progress=True)
        print(meta["files"]["train"]["txt"], meta["files"]["test"]["txt"], sep="\n")

    return cli.run(ap.prog, work)


if __name__ == "__main__":
    sys.exit(main())
