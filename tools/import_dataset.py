"""Convert the real body-part dataset into the layout tools/make_dataset.py writes.

    .venv/bin/python tools/import_dataset.py --train real/train.npy --test real/test.npy --out datasets/real

Each source is a bundle file (successive np.save arrays: depths, labels, pixel_indices,
pixel_labels[, joints, joint_offsets]) or a folder of NAME_depth.png (16-bit millimetres),
NAME_depth.npy (metres) or NAME_depth.exr (OpenEXR, depth in the Z channel, as the real
set was released) with colour-coded NAME_label.png; see data/real_format.py.
"""
import sys

from data.exr import DEPTH_SCALE
from data.real_format import MAX_COLOUR_DISTANCE, import_dataset
from experiments import cli


def main(argv=None):
    ap = cli.Parser(__doc__)
    ap.add_argument("--train", required=True, help="bundle file or image folder of the training split")
    ap.add_argument("--test", required=True, help="bundle file or image folder of the test split")
    ap.add_argument("--out", required=True,
                    help="dataset folder to write (replaced only if it holds exactly a dataset these tools wrote)")
    ap.add_argument("--max-colour-distance", type=float, default=MAX_COLOUR_DISTANCE,
                    help=f"furthest a label pixel may be from its palette colour (default {MAX_COLOUR_DISTANCE:g})")
    ap.add_argument("--depth-scale", type=float, default=DEPTH_SCALE,
                    help=f"metres per unit of a NAME_depth.exr's Z channel (default {DEPTH_SCALE:g}: the files hold "
                         "metres). The published loaders of the real set scale Z and clip it to [0, 6] m; here 0, "
                         "+inf and beyond 6 m become background, and an image whose body's median depth falls "
                         "outside 0.5-6 m is refused with a suggested scale")
    args = ap.parse_args(argv)
    return cli.run(ap.prog, lambda: print(import_dataset(
        args.out, {"train": args.train, "test": args.test}, args.max_colour_distance, args.depth_scale)))


if __name__ == "__main__":
    sys.exit(main())
