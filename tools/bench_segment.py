#!/usr/bin/env python
"""Time per image of tools/segment.py's work (cnncrf's Model.segment: the image brought to the
model's training scale, the net, the labels and marginals brought back) for each inference
method, on generated scenes of each size: the median over --images scenes, after one untimed.

    .venv/bin/python tools/bench_segment.py --model prototxt/deploy_crf.prototxt \\
        --weights runs/default/models/joint.caffemodel --sizes 160x120 320x240
"""
import sys

from cnncrf import INFERENCE
from experiments import cli
from experiments.bench.segment import run, table


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--model", required=True, type=cli.input_path, help="deploy prototxt with the CRF layer")
    p.add_argument("--weights", required=True, type=cli.input_path, help="exported model (tools/export_model.py)")
    p.add_argument("--sizes", nargs="+", type=cli.image_size, default=[(160, 120), (320, 240)], metavar="WxH",
                   help="image sizes (default 160x120 320x240)")
    p.add_argument("--inference", nargs="+", choices=INFERENCE, default=list(INFERENCE), help="methods (default all)")
    p.add_argument("--images", type=cli.positive_int, default=5, help="timed images per size (default 5)")
    p.add_argument("--burn-in", type=cli.non_negative_int, help="Gibbs sweeps before averaging (default: the net's)")
    p.add_argument("--samples", type=cli.positive_int, help="Gibbs sweeps averaged (default: the net's)")
    args = p.parse_args(argv)

    def work():
        seconds, trained_at = run(args.model, args.weights, args.sizes, args.images, args.inference,
                                  args.burn_in, args.samples)
        print(f"seconds per image (median of {args.images}); the model was trained at "
              f"{trained_at['width']}x{trained_at['height']}, where the net runs for every size")
        print(table(seconds, args.sizes))

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
