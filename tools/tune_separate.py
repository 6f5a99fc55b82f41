#!/usr/bin/env python
"""Choose the separate stage's (stage 2's) learning rate on held-out data, quickly, for Gibbs ML
or another learning method of the comparison (--method; experiments/compare/methods.py).

Stage 2 keeps the CNN frozen, so its scores are computed once here; then the real training
CRF layer learns theta under Caffe's Adam solver exactly as in solver_separate (same batch
size, chains, seed), only without re-running the frozen CNN every iteration. Each learning
rate is scored by the Gibbs max-marginal body-part accuracy on a validation set generated
with another seed (never the test set).

  .venv/bin/python tools/tune_separate.py --cnn-weights runs/default/snapshots/cnn_iter_2000.caffemodel \\
      --lr 2e-3 --lr 5e-3 --lr 2e-2 --iters 3000 --eval-every 750 --json tune.json
  .venv/bin/python tools/tune_separate.py --cnn-weights runs/default/models/cnn.caffemodel \\
      --method meanfield --lr 0.03 --lr 0.1 --iters 60 --eval-every 20
"""
import json
import os
import pathlib
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
from experiments import cli  # noqa: E402
from experiments.compare.methods import SEPARATE  # noqa: E402
from experiments.scales import SCALES  # noqa: E402
from experiments.tuning import tune  # noqa: E402
from nets.crf import DEFAULT_EDGES  # noqa: E402


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--cnn-weights", type=cli.existing_file, required=True, help="stage 1 .caffemodel")
    p.add_argument("--data", type=pathlib.Path, default=pathlib.Path("datasets/default"),
                   help="dataset folder whose train.txt stage 2 learns from (default datasets/default)")
    p.add_argument("--val", type=pathlib.Path, default=None,
                   help="validation dataset folder (its test split is used); generated if missing "
                        "(default: DATA-val)")
    p.add_argument("--val-images", type=cli.positive_int, default=200)
    p.add_argument("--val-seed", type=cli.non_negative_int, default=7, help="generator seed of the validation set")
    learned = {m.key: m for m in SEPARATE if m.layer is not None}
    p.add_argument("--method", choices=list(learned), default="gibbs_ml",
                   help="how theta is learned (default gibbs_ml, the paper's)")
    p.add_argument("--lr", type=cli.positive_float, action="append", help="base_lr to try (repeatable; default 2e-3)")
    p.add_argument("--iters", type=cli.positive_int, default=SCALES["default"].iters[1])
    p.add_argument("--eval-every", type=cli.positive_int, help="iterations between validations (default: at the end)")
    p.add_argument("--batch-size", type=cli.positive_int, default=SCALES["default"].batch_size)
    p.add_argument("--edges", type=cli.edges, default=DEFAULT_EDGES)
    p.add_argument("--burn-in", type=cli.non_negative_int, default=SCALES["default"].burn_in)
    p.add_argument("--samples", type=cli.positive_int, default=SCALES["default"].samples)
    p.add_argument("--json", type=pathlib.Path, help="write {lr: [[iteration, accuracy], ...]} here")
    args = p.parse_args(argv)
    if not (args.data / "train.txt").is_file():
        p.error(f"--data: {args.data / 'train.txt'} not found")

    def work():
        results = tune(args.cnn_weights, args.data, args.val or args.data.with_name(args.data.name + "-val"),
                       args.lr or [2e-3], iters=args.iters, eval_every=args.eval_every, batch_size=args.batch_size,
                       edges=args.edges, burn_in=args.burn_in, samples=args.samples, val_images=args.val_images,
                       val_seed=args.val_seed, layer=learned[args.method].layer,
                       extra=dict(learned[args.method].extra))
        best = max((k for k in results if k != "cnn"), key=lambda k: results[k][-1][1])
        print(f"best base_lr {best}: {results[best][-1][1]:.4f} (CNN alone {results['cnn']:.4f})")
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
