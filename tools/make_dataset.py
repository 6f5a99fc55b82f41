"""Generate the synthetic Kinect-like body-part dataset as HDF5 files Caffe reads.

    .venv/bin/python tools/make_dataset.py --out datasets/synth --train 2000 --test 500 \\
        --height 120 --width 160 --seed 0

Writes OUT/train.h5, OUT/test.h5 (depth, label, index), OUT/train.txt, OUT/test.txt (the
HDF5Data sources) and OUT/meta.json; the same seed gives byte-identical files.
"""
import sys

from data import make_dataset
from data.cli import Parser, guarded


def main(argv=None):
    ap = Parser(__doc__)
    ap.add_argument("--out", required=True, help="dataset folder to write (replaced only if it holds exactly a dataset these tools wrote)")
    ap.add_argument("--train", type=int, default=2000, help="training images (default 2000)")
    ap.add_argument("--test", type=int, default=500, help="test images (default 500)")
    ap.add_argument("--height", type=int, default=120, help="image height in pixels (default 120; 240 paper-scale)")
    ap.add_argument("--width", type=int, default=160, help="image width in pixels (default 160; 320 paper-scale)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    args = ap.parse_args(argv)

    def work():
        meta = make_dataset(args.out, train=args.train, test=args.test, height=args.height, width=args.width,
                            seed=args.seed, workers=args.workers, progress=True)
        print(meta["files"]["train"]["txt"], meta["files"]["test"]["txt"], sep="\n")

    return guarded(ap.prog, work)


if __name__ == "__main__":
    sys.exit(main())
