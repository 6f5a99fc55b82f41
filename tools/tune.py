#!/usr/bin/env python
"""Choose a training stage's learning rate on a validation set, never the test set.

Each candidate trains the stage as the replication run does (same nets, `caffe train`, the run's
earlier stages as its start) and is scored on a validation set generated with another seed,
through the same evaluation as tools/eval.py. The record (JSON) is what nets/prototxt.py cites.

    .venv/bin/python tools/tune.py --stage cnn --lr 5e-4 --lr 1e-3 --lr 2e-3 --run runs/default
    .venv/bin/python tools/tune.py --stage separate --lr 1e-3 --lr 3e-3 --run runs/default
    .venv/bin/python tools/tune.py --stage joint --lr 2e-6 --lr 5e-6 --run runs/default
    .venv/bin/python tools/tune.py --stage separate --method meanfield --iterations 150 \\
        --lr 1e-2 --lr 3e-2 --run runs/default     # a method of tools/compare_learning.py

--run is a replication run whose earlier stages have finished: it gives the scale, the data, the
edge classes and the earlier stages' snapshots (stage 1 needs none: without a run folder it
takes --scale's defaults).
A record of the same experiment already at --record gains the new candidates, and the best
of all of them is chosen.
"""
import argparse
import os
import pathlib
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
from experiments import cli  # noqa: E402
from experiments.methods import GIBBS, SEPARATE  # noqa: E402
from experiments.scales import STAGES  # noqa: E402

# the compared methods with gradient steps (experiments/methods.py), Gibbs ML as "gibbs"
METHODS = ("gibbs",) + tuple(m.key for m in SEPARATE if m.layer is not None and m.key != GIBBS)


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--stage", choices=STAGES, required=True)
    p.add_argument("--lr", type=cli.positive_float, action="append", required=True,
                   help="a base_lr to try (repeatable)")
    p.add_argument("--run", type=pathlib.Path, default=pathlib.Path("runs/default"),
                   help="replication run folder (default runs/default); --stage cnn needs none")
    p.add_argument("--scale", choices=("tiny", "default", "paper"), default="default",
                   help="the scale when --stage cnn runs without a run folder (default: default)")
    p.add_argument("--method", choices=METHODS, default="gibbs",
                   help="the learning method (default gibbs: the main stages); the others are "
                        "tools/compare_learning.py's, for the separate stage, with --iterations")
    p.add_argument("--iterations", type=cli.positive_int,
                   help="the stage's iterations: a compared method's budget (experiments/scales.py COMPARISON), "
                        "or for gibbs another count than the scale's")
    p.add_argument("--tables", type=cli.positive_int,
                   help="K of a gated stage: tables per edge class (default: the run's)")
    p.add_argument("--work", type=cli.output_folder, help="folder for the candidates' training (default RUN-tune)")
    p.add_argument("--record", type=cli.output_file_mkdir,
                   help="JSON record to write (default nets/tuning/STAGE.json, or STAGE-METHOD.json)")
    args = p.parse_args(argv)
    if args.method != "gibbs" and (args.stage != "separate" or args.iterations is None):
        p.error("--method other than gibbs: needs --stage separate and --iterations")
    if args.work is None:  # RUN-tune beside the run folder, named after it ("--run ." too)
        run = args.run.resolve()
        if not run.name:
            p.error(f"--run {args.run}: has no folder name to derive the work folder from; pass --work")
        try:
            args.work = cli.output_folder(str(run.with_name(run.name + "-tune")))
        except argparse.ArgumentTypeError as e:
            p.error(f"--work (default RUN-tune): {e}")

    def work():
        from experiments.tuning import tune_and_record

        record, path = tune_and_record(args.stage, args.lr, args.run, args.work, args.scale, args.method,
                                       args.iterations, args.record, args.tables)
        best = record["candidates"][record["chosen"]]
        print(f"chosen base_lr {record['chosen']}: validation body-part accuracy {best['part_accuracy']:.4f}; "
              f"record {path}")

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
