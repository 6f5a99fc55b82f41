#!/usr/bin/env python
"""Export a training snapshot as a model to deploy: the CNN, theta and the edge classes theta
belongs to, without the training chains, and the scale it was trained at (--trained-at WxH, or
--data: the training split's image size and, for generated data, its field of view). It runs
at any image size: tools/segment.py and tools/eval.py bring an image of another size to the
training scale first. A separate-stage model is the stage-1 CNN's snapshot plus stage 2's
(which holds only the CRF layer).

    .venv/bin/python tools/export_model.py runs/default/snapshots/joint_iter_1000.caffemodel \\
        --out joint.caffemodel --data datasets/default/train.txt
    .venv/bin/python tools/export_model.py snapshots/cnn_iter_2000.caffemodel \\
        snapshots/separate_iter_3000.caffemodel --out separate.caffemodel --trained-at 160x120
    .venv/bin/python tools/eval.py --model prototxt/deploy_crf.prototxt --weights joint.caffemodel \\
        --data datasets/other-size/test.txt --inference gibbs

An existing --out is replaced only when it is a model this tool exported.
"""
import sys

from experiments import cli
from nets.export import export_model, training_scale


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("snapshot", type=cli.existing_file, nargs="+",
                   help="a training .caffemodel (a stage's snapshot), or several holding different layers")
    p.add_argument("--out", type=cli.output_file, required=True, help="the model file to write")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--trained-at", type=cli.image_size, metavar="WxH",
                       help="the training images' size, e.g. 160x120")
    scale.add_argument("--data", type=cli.input_path, metavar="TRAIN",
                       help="the training split (train.txt or .h5) whose image size (and field of view) to record")
    args = p.parse_args(argv)

    def work():
        trained_at = (training_scale(args.data) if args.data else
                      args.trained_at and {"width": args.trained_at[0], "height": args.trained_at[1]})
        size = export_model(args.snapshot, args.out, trained_at, scale_required=True)
        snapshots = sum(s.stat().st_size for s in args.snapshot)
        print(f"{args.out} ({size / 2**20:.2f} MiB; snapshots {snapshots / 2**20:.2f} MiB)")

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
