#!/usr/bin/env python
"""Write the project's nets and solvers (nets/prototxt.py) for a dataset and a scale.

    .venv/bin/python tools/make_prototxt.py                      # prototxt/ (committed)
    .venv/bin/python tools/make_prototxt.py --out runs/small/prototxt --data datasets/small \\
        --num-images 200 --iters 300,200,200 --snapshots runs/small/snapshots

Stages, each run from the repo root as `.venv/bin/caffe train -solver OUT/solver_X.prototxt`
(each solver's first lines give its exact commands):
  solver_cnn       the CNN alone with a softmax loss
  solver_separate  the CNN frozen: the CRF loss learns theta on the CNN's stored scores
                   (tools/frozen_scores.py writes them first)
  solver_joint     -weights <cnn snapshot>,<separate snapshot>: CNN and theta learned together
Each solver has a test net (test_X) that prints the validation split's body-part accuracy as
"Test net output #0: accuracy" a handful of times a stage (--validation '' leaves them out).
Deploy nets (input blob "depth", 1x1xHxW): deploy_cnn and deploy_crf. The defaults are the
default scale's (experiments/scales.py); with them the output is the committed prototxt/.
"""
import argparse
import sys

from experiments import cli
from experiments.scales import SCALES, committed_paths, net_options
from nets import prototxt
from nets import crf
from nets.crf import DEFAULT_EDGES


def iterations(text):
    try:
        iters = tuple(int(i) for i in text.split(","))
    except ValueError:
        iters = ()
    if len(iters) != len(prototxt.STAGES) or min(iters) < 1:
        raise argparse.ArgumentTypeError(f"expected {len(prototxt.STAGES)} positive integers, got {text!r}")
    return iters


def main(argv=None):
    default, paths = net_options(SCALES["default"]), committed_paths()
    p = cli.Parser(__doc__)
    p.add_argument("--out", type=cli.output_folder, default="prototxt", help="folder to write (default prototxt)")
    p.add_argument("--data", default=paths["data"], help="dataset folder with train.txt")
    p.add_argument("--scores", default=paths["scores"],
                   help="folder of the stage-1 CNN's scores of the training images, stage 2's input "
                        "(written by tools/frozen_scores.py)")
    p.add_argument("--validation", default=paths["validation"],
                   help="validation dataset folder with test.txt, the test nets' images (never the test set); "
                        "'' for solvers without test nets (default %(default)s)")
    p.add_argument("--validation-scores", default=paths["validation_scores"],
                   help="folder of the stage-1 CNN's scores of the validation images, the test nets' input in "
                        "stages 2 and 4 (default %(default)s)")
    p.add_argument("--validation-images", type=cli.positive_int, default=paths["validation_images"],
                   help="images in the validation split (default %(default)s)")
    p.add_argument("--num-images", type=cli.positive_int, default=default["num_images"],
                   help="training images in the dataset (default %(default)s)")
    p.add_argument("--height", type=cli.positive_int, default=default["height"])
    p.add_argument("--width", type=cli.positive_int, default=default["width"])
    p.add_argument("--batch-size", type=cli.positive_int, default=default["batch_size"])
    p.add_argument("--edges", type=cli.edges, default=DEFAULT_EDGES, help="CRF edge classes (default %(default)s)")
    p.add_argument("--seed", type=cli.non_negative_int, default=0, help="seed of the Gibbs chains")
    p.add_argument("--iters", type=iterations, default=default["iters"],
                   help=f"max_iter of the {','.join(prototxt.STAGES)} stages (default %(default)s)")
    p.add_argument("--tables", type=cli.positive_int, default=crf.GATED_TABLES,
                   help="K: tables per edge class of the gated stages (default %(default)s)")
    p.add_argument("--snapshots", default=paths["snapshots"], help="snapshot folder (default snapshots)")
    args = p.parse_args(argv)
    if args.batch_size > args.num_images:
        p.error(f"--batch-size {args.batch_size} is more than --num-images {args.num_images}: "
                "a batch would hold one image's chain twice")

    def work():
        paths = prototxt.write(args.out, data=args.data, scores=args.scores, num_images=args.num_images, height=args.height,
                               width=args.width, batch_size=args.batch_size, edges=args.edges, seed=args.seed,
                               iters=args.iters, snapshots=args.snapshots, tables=args.tables,
                               validation=args.validation or None, validation_scores=args.validation_scores,
                               validation_images=args.validation_images)
        print("\n".join(str(path) for path in paths.values()))

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
