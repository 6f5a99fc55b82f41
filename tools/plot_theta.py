#!/usr/bin/env python
"""Heat maps of the learned pairwise tables theta[c, l, l'], one per edge class.

    .venv/bin/python tools/plot_theta.py --weights snapshots/separate_iter_500.caffemodel \\
        --layer crf --out theta.png

Row l, column l' of edge class c = (dy, dx) is theta[c, y_i = l, y_(i + (dy, dx)) = l']:
blue is attractive (the pair is more likely than the unaries say), red repulsive. The
edge classes and the label count are the ones saved with theta in the .caffemodel.
"""
import sys

from experiments import cli
from experiments.theta_plot import plot_theta
from nets.weights import crf_tables


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--weights", required=True, type=cli.existing_file, help="trained .caffemodel")
    p.add_argument("--layer", default="crf", help="name of the CRF layer (default crf)")
    p.add_argument("--out", type=cli.output_file, default="theta.png", help="PNG to write (default theta.png)")
    args = p.parse_args(argv)

    def work():
        theta, offsets = crf_tables(args.weights, args.layer)
        plot_theta(theta, offsets, args.out, f"{args.weights} : {args.layer}")
        print(args.out)

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
