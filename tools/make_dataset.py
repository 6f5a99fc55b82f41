"""Generate the synthetic Kinect-like body-part dataset as HDF5 files Caffe reads.

    .venv/bin/python tools/make_dataset.py --out datasets/synth --train 2000 --test 500 \\
        --height 120 --width 160 --seed 0

Writes OUT/train.h5, OUT/test.h5 (depth, label, index), OUT/train.txt, OUT/test.txt (the
HDF5Data sources) and OUT/meta.json; the same seed gives byte-identical files.
"""
import argparse
import sys

from data import DataError, make_dataset


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="dataset folder to write (replaced if it holds a dataset)")
    ap.add_argument("--train", type=int, default=2000, help="training images (default 2000)")
    ap.add_argument("--test", type=int, default=500, help="test images (default 500)")
    ap.add_argument("--height", type=int, default=120, help="image height in pixels (default 120; 240 paper-scale)")
    ap.add_argument("--width", type=int, default=160, help="image width in pixels (default 160; 320 paper-scale)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    args = ap.parse_args(argv)
    try:
        meta = make_dataset(args.out, train=args.train, test=args.test, height=args.height, width=args.width,
                            seed=args.seed, workers=args.workers, progress=True)
    except (DataError, OSError) as e:
        print(f"make_dataset.py: {e}", file=sys.stderr)
        return 2
    print(meta["files"]["train"]["txt"])
    print(meta["files"]["test"]["txt"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
