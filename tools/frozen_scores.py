#!/usr/bin/env python
"""Compute the stage-1 CNN's scores of every training image once, as the HDF5 shards stage 2
(separate learning, solver_separate) reads in place of re-running the frozen CNN.

    .venv/bin/python tools/frozen_scores.py --weights snapshots/cnn_iter_2000.caffemodel \\
        --data datasets/default/train.txt --out scores/default

An existing --out is replaced only when it is such a scores folder.
"""
import sys

from experiments import cli


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--weights", type=cli.existing_file, required=True, help="the stage-1 CNN's .caffemodel")
    p.add_argument("--data", type=cli.existing_file, required=True, help="the training split (train.txt or .h5)")
    p.add_argument("--out", type=cli.output_folder, required=True, help="the scores folder to write")
    p.add_argument("--batch-size", type=cli.positive_int, default=16)
    args = p.parse_args(argv)

    def work():
        from nets.scores import frozen_scores

        print(frozen_scores(args.weights, args.data, args.out, args.batch_size))

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
