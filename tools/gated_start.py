#!/usr/bin/env python
"""The start of the image-dependent ("gated") stage from the separate stage's training snapshot:
its tables repeated as K tables per edge class, and its chains, so that the gated model starts
as the stationary one (the pairwise branch's weights sum to 1 at every pixel) and learns from there.

    .venv/bin/python tools/gated_start.py snapshots/separate_iter_10000.caffemodel --tables 2 \\
        --out snapshots/gated_start.caffemodel
    .venv/bin/caffe train -solver prototxt/solver_gated_separate.prototxt \\
        -weights snapshots/gated_start.caffemodel

An existing --out is replaced only when it is a model this project's tools wrote.
"""
import sys

from experiments import cli


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("snapshot", type=cli.existing_file, help="the separate stage's training .caffemodel")
    p.add_argument("--tables", type=cli.positive_int, default=2, help="K: tables per edge class (default 2)")
    p.add_argument("--out", type=cli.output_file, required=True, help="the start model to write")
    args = p.parse_args(argv)

    def work():
        from nets.export import gated_start

        size = gated_start(args.snapshot, args.tables, args.out)
        print(f"{args.out} ({size / 2**20:.2f} MiB)")

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
