#!/usr/bin/env python
"""Evaluate a deploy net on a test set with the paper's metric, through the segmentation API
(cnncrf, as tools/segment.py): a test set of another image size than the model's training one is
brought to the training scale and the labels back to the set's size.

Reports per-pixel accuracy over body-part pixels (background excluded), overall pixel
accuracy, mean per-class accuracy, mean IoU, per-class accuracy, the confusion matrix and
images per second, with a 95% bootstrap interval over test images for the part accuracy.

  .venv/bin/python tools/eval.py --model prototxt/deploy_crf.prototxt \\
      --weights snapshots/joint_iter_N.caffemodel --data datasets/default/test.txt \\
      --inference gibbs --json runs/x/eval.json
"""
import json
import sys

from cnncrf import INFERENCE
from experiments import cli
from experiments.evaluation import evaluate, report_lines


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--model", required=True, type=cli.input_path, help="deploy prototxt (input blob: depth)")
    p.add_argument("--weights", required=True, type=cli.input_path, help="trained .caffemodel")
    p.add_argument("--data", required=True, type=cli.input_path, help="test.txt or test.h5 of a dataset")
    p.add_argument("--inference", choices=INFERENCE, default="cnn",
                   help="cnn: argmax of the CNN scores; otherwise the CRF layer's method")
    p.add_argument("--burn-in", type=cli.non_negative_int, help="Gibbs sweeps before averaging")
    p.add_argument("--samples", type=cli.positive_int, help="Gibbs sweeps averaged")
    p.add_argument("--seed", type=cli.non_negative_int, help="seed of the CRF layer's sampler")
    p.add_argument("--scores-blob", default="scores", help="blob holding the CNN's unaries")
    p.add_argument("--batch-size", type=cli.positive_int, default=16)
    p.add_argument("--limit", type=cli.positive_int, help="evaluate only the first N images")
    p.add_argument("--json", type=cli.output_file_mkdir, help="write the figures to this JSON file")
    p.add_argument("--save-predictions", type=cli.output_folder, metavar="DIR",
                   help="write predictions.npy and colour-coded PNGs here (a folder of earlier predictions "
                        "is rewritten, any other non-empty one refused)")
    args = p.parse_args(argv)

    def work():
        report = evaluate(args.model, args.weights, args.data, inference=args.inference, burn_in=args.burn_in,
                          samples=args.samples, seed=args.seed, scores_blob=args.scores_blob,
                          batch_size=args.batch_size, limit=args.limit, save_predictions=args.save_predictions)
        print("\n".join(report_lines(report)))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=1))

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
