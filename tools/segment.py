#!/usr/bin/env python
"""Segment your own depth images into body parts with an exported model and its deploy net.

INPUT: depth image files or folders of them, of any size: NAME.png (16-bit greyscale,
millimetres: a Kinect frame), NAME.exr (OpenEXR: the Z channel times --depth-scale, metres per
unit) or NAME.npy (float metres). No reading is 0 (or +inf in an EXR's Z); it and anything beyond
6 m read as the background's 6 m, as in the dataset. An image is brought to the model's training
pixel scale first and its labels back to its own size (cnncrf.scale).

Writes into --out, per image: NAME_labels.png (colour, the dataset's palette), and with --ids
NAME_ids.png (label ids 0-19, 8-bit), --marginals NAME_marginals.npy ((20, H, W) float32),
--figure NAME_figure.png (depth | labels | confidence). A folder holding files this tool did not
write (segment.json lists what it wrote) is refused.

    .venv/bin/python tools/segment.py --model prototxt/deploy_crf.prototxt \\
        --weights runs/default/models/joint.caffemodel --out segmented --figure frames/
"""
import sys

import cnncrf
from cnncrf.files import OUTPUTS, segment_files
from data.exr import DEPTH_SCALE
from experiments import cli


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("inputs", nargs="+", type=cli.input_path, metavar="INPUT", help="depth image files or folders")
    p.add_argument("--model", required=True, type=cli.input_path, help="deploy prototxt (input blob: depth)")
    p.add_argument("--weights", required=True, type=cli.input_path, help="exported model (tools/export_model.py)")
    p.add_argument("--out", required=True, type=cli.output_folder, help="folder to write the results in")
    p.add_argument("--inference", choices=cnncrf.INFERENCE, default="gibbs",
                   help="cnn: argmax of the CNN scores; otherwise the CRF layer's method (default gibbs)")
    p.add_argument("--depth-scale", type=cli.positive_float, default=DEPTH_SCALE,
                   help="metres per unit of an EXR's Z channel (default %(default)s)")
    for kind, what in (("ids", "the label ids as an 8-bit PNG"), ("marginals", "the marginals as .npy"),
                       ("figure", "a figure: depth, labels, confidence")):
        p.add_argument(f"--{kind}", action="store_true", help=f"also write {what} (NAME{OUTPUTS[kind]})")
    p.add_argument("--hfov", type=cli.positive_float, metavar="DEGREES",
                   help="the images' horizontal field of view, where it is not the training data's")
    p.add_argument("--burn-in", type=cli.non_negative_int, help="Gibbs sweeps before averaging")
    p.add_argument("--samples", type=cli.positive_int, help="Gibbs sweeps averaged")
    p.add_argument("--seed", type=cli.non_negative_int, help="seed of the CRF layer's sampler")
    args = p.parse_args(argv)
    if args.hfov is not None and args.hfov >= 180:
        p.error(f"argument --hfov: expected less than 180 degrees, got {args.hfov:g}")

    def work():
        model = cnncrf.load(args.model, args.weights, args.inference, burn_in=args.burn_in, samples=args.samples,
                            seed=args.seed, hfov=args.hfov)
        done = segment_files(model, args.inputs, args.out, depth_scale=args.depth_scale,
                             extra=[kind for kind in ("ids", "marginals", "figure") if getattr(args, kind)])
        n = done["images"]
        print(f"{n} image{'s' * (n != 1)} segmented into {args.out} ({args.inference}): "
              f"{done['seconds'] / n:.3f} s per image, {done['inference_seconds'] / n:.3f} s of it the model's")

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
