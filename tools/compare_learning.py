#!/usr/bin/env python
"""Learning methods side by side: maximum likelihood with persistent Gibbs chains (the paper)
against Potts-restricted ML, pseudo-likelihood, unrolled mean field, loopy-BP beliefs and piecewise
tables, in three regimes of unary strength (experiments.scales.COMPARISON): the finished
replication run's CNN ("default"), the same CNN design stopped early ("weak") and trained on the
first training images only ("low_data"), each regime's learners on its CNN's stored scores; every
learned model evaluated with Gibbs max-marginals, mean field, ICM and LBP (stationary models) on
the first test images, with paired gains of Gibbs ML and of each CRF over the CNN alone.

    .venv/bin/python tools/replicate.py --scale default --out runs/default     # first (`make run`)
    .venv/bin/python tools/compare_learning.py --scale default --run runs/default --out runs/compare

Prints its plan (minutes per regime from the cost model) first; writes OUT/report.md and
report.json. Re-running continues: finished stages are kept, an interrupted one resumes from its
last snapshot, and evaluation is redone.
"""
import os
import sys
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")  # Caffe's per-net set-up chatter, in this process
from experiments import cli  # noqa: E402
from experiments.compare import report  # noqa: E402
from experiments.compare.run import compare  # noqa: E402
from experiments.scales import COMPARISON  # noqa: E402


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--scale", choices=sorted(COMPARISON), default="default")
    p.add_argument("--run", type=cli.input_path, help="the finished replication run (default runs/SCALE)")
    p.add_argument("--out", type=cli.output_folder, help="comparison folder (default runs/compare, or runs/compare-SCALE "
                   "for a scale other than default)")
    args = p.parse_args(argv)
    run = (args.run or Path("runs") / args.scale).resolve()
    out = (args.out or Path("runs") / ("compare" if args.scale == "default" else f"compare-{args.scale}")).resolve()

    return cli.run_command(p.prog, lambda: compare(args.scale, run, out), report.tables, out)


if __name__ == "__main__":
    sys.exit(main())
