#!/usr/bin/env python
"""The replication run: dataset, the three training stages under `caffe train`, evaluation
of every method on the test set, and a report with the paper's table.

    .venv/bin/python tools/replicate.py --scale default --out runs/default

Re-running continues from what exists: the dataset and finished stages are kept, an
interrupted stage resumes from its last snapshot, and evaluation is redone.
"""
import sys
from pathlib import Path

from experiments import cli
from experiments.replication import report
from experiments.replication.run import replicate
from experiments.scales import SCALES
from nets.crf import DEFAULT_EDGES


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--scale", choices=sorted(SCALES), default="default")
    p.add_argument("--out", type=cli.output_folder, help="run folder (default runs/SCALE)")
    p.add_argument("--data", type=cli.output_folder, help="dataset folder (default datasets/SCALE; generated "
                   "when it has no meta.json)")
    p.add_argument("--edges", type=cli.edges, default=DEFAULT_EDGES, help="CRF edge classes")
    p.add_argument("--seed", type=cli.non_negative_int, default=0, help="seed of the dataset and of the chains")
    args = p.parse_args(argv)
    out = (args.out or Path("runs") / args.scale).resolve()
    data_dir = (args.data or Path("datasets") / args.scale).resolve()

    def produce():
        return replicate(args.scale, SCALES[args.scale], out, data_dir, args.edges, args.seed)

    return cli.run_command(p.prog, produce, report.table, out)


if __name__ == "__main__":
    sys.exit(main())
