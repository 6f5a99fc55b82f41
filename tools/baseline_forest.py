#!/usr/bin/env python
"""The per-pixel prior art: a random forest on depth-difference features (Shotton et al. 2011),
trained on a dataset's train split and scored on its test split with the paper's metric
(body-part accuracy, background excluded) through the same scoring as every other method.

    .venv/bin/python tools/baseline_forest.py datasets/default --json forest.json
"""
import json
import sys

from experiments import cli
from experiments.evaluation import report_lines
from experiments.forest import ForestSettings, forest_report


def main(argv=None):
    default = ForestSettings()
    ap = cli.Parser(__doc__)
    ap.add_argument("dataset", type=cli.input_path, help="dataset folder holding train.h5 and test.h5")
    ap.add_argument("--train-images", type=cli.positive_int, help="training images used (default all)")
    ap.add_argument("--test-images", type=cli.positive_int, help="test images scored (default all)")
    ap.add_argument("--pixels", type=cli.positive_int, default=default.pixels, help="training pixels per image")
    ap.add_argument("--features", type=cli.positive_int, default=default.features, help="depth-difference features")
    ap.add_argument("--trees", type=cli.positive_int, default=default.trees)
    ap.add_argument("--max-depth", type=cli.positive_int, default=default.max_depth, help="tree depth limit")
    ap.add_argument("--workers", type=cli.positive_int, default=default.workers, help="parallel jobs")
    ap.add_argument("--seed", type=cli.non_negative_int, default=default.seed)
    ap.add_argument("--json", type=cli.output_file, help="write the figures to this JSON file")
    args = ap.parse_args(argv)

    def work():
        settings = ForestSettings(features=args.features, pixels=args.pixels, trees=args.trees,
                                  max_depth=args.max_depth, seed=args.seed, workers=args.workers)
        report = forest_report(args.dataset, settings, args.train_images, args.test_images)
        print("\n".join(report_lines(report)))
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))

    return cli.run(ap.prog, work)


if __name__ == "__main__":
    sys.exit(main())
