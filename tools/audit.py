#!/usr/bin/env python
"""Audit the paper's claims on this implementation and print a table of verdicts.

Claims 1-6a are measured here on synthetic tiny models (exact enumeration, the sampler
and the real Caffe loss layer); 6b and 7 are read from a finished replication report
(tools/replicate.py), 8 from a learning comparison's report (tools/compare_learning.py); each
is "not run" when its report is absent. Exit status 0 when every
claim that ran passed, 1 otherwise.

  .venv/bin/python tools/audit.py --quick             # under 3 minutes
  .venv/bin/python tools/audit.py --json audit.json   # the full audit, under 20 minutes
"""
import argparse
import pathlib
import sys

import numba

from experiments import cli
from experiments.audit.runner import run_audit, summary, table

REPO = pathlib.Path(__file__).resolve().parents[1]


def threads(text):
    value = cli.positive_int(text)
    if value > numba.config.NUMBA_NUM_THREADS:
        raise argparse.ArgumentTypeError(f"expected 1..{numba.config.NUMBA_NUM_THREADS}, got {text!r}")
    return value


def main(argv=None):
    p = cli.Parser(__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--quick", action="store_true", help="smaller samples and fewer models (under 3 minutes)")
    p.add_argument("--json", type=cli.output_file_mkdir, metavar="OUT",
                   help="also write the rows, with raw numbers, here")
    p.add_argument("--report", type=cli.input_path, default=REPO / "runs" / "default" / "report.json",
                   help="replication report for claims 6b and 7 (default: runs/default/report.json)")
    p.add_argument("--compare-report", type=cli.input_path, default=REPO / "runs" / "compare" / "report.json",
                   help="learning comparison report for claim 8 (default: runs/compare/report.json)")
    p.add_argument("--threads", type=threads, default=1,
                   help="Numba threads (default 1: the models are tiny, and on a busy machine "
                        "thread start-up made sweeps 50x slower; the same kernels run either way)")
    args = p.parse_args(argv)

    def work():
        rows, elapsed = run_audit(args.quick, args.report, args.compare_report, args.json, args.threads)
        print(table(rows))
        passed, ran = summary(rows)
        print(f"{passed}/{ran} claims that ran passed, {len(rows) - ran} not run; "
              f"{'quick' if args.quick else 'full'} audit in {elapsed:.0f} s")
        return 0 if passed == ran else 1

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
