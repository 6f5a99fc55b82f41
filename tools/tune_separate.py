#!/usr/bin/env python
"""Choose the separate stage's (stage 2's) learning rate on held-out data, quickly.

Stage 2 keeps the CNN frozen, so its scores are computed once here; then the real
GibbsCRFLoss layer learns theta under Caffe's Adam solver exactly as in solver_separate
(same batch size, chains, seed), only without re-running the frozen CNN every iteration.
Each learning rate is scored by the Gibbs max-marginal body-part accuracy on a validation
set generated with another seed (never the test set).

  .venv/bin/python tools/tune_separate.py --cnn-weights runs/default/snapshots/cnn_iter_2000.caffemodel \\
      --lr 2e-3 --lr 5e-3 --lr 2e-2 --iters 3000 --eval-every 750 --json tune.json
"""
import argparse
import json
import os
import pathlib
import sys

import numpy as np
from tqdm import tqdm

os.environ.setdefault("GLOG_minloglevel", "2")
import caffe  # noqa: E402
from caffe import layers as L  # noqa: E402
from caffe.proto import caffe_pb2  # noqa: E402
from google.protobuf import text_format  # noqa: E402

import data  # noqa: E402
import make_prototxt  # noqa: E402
import sampler  # noqa: E402
from data import labels as label_set  # noqa: E402
from data import metrics  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--cnn-weights", type=pathlib.Path, required=True, help="stage 1 .caffemodel")
    p.add_argument("--data", type=pathlib.Path, default=pathlib.Path("datasets/default"),
                   help="dataset folder whose train.txt stage 2 learns from (default datasets/default)")
    p.add_argument("--val", type=pathlib.Path, default=None,
                   help="validation dataset folder (its test split is used); generated if missing "
                        "(default: DATA-val)")
    p.add_argument("--val-images", type=int, default=200)
    p.add_argument("--val-seed", type=int, default=7, help="generator seed of the validation set")
    p.add_argument("--lr", type=float, action="append", help="base_lr to try (repeatable; default 2e-3)")
    p.add_argument("--iters", type=int, default=make_prototxt.DEFAULT_ITERS[1])
    p.add_argument("--eval-every", type=int, default=None, help="iterations between validations (default: at the end)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--edges", default=make_prototxt.DEFAULT_EDGES)
    p.add_argument("--burn-in", type=int, default=20)
    p.add_argument("--samples", type=int, default=50)
    p.add_argument("--json", type=pathlib.Path, help="write {lr: [[iteration, accuracy], ...]} here")
    args = p.parse_args(argv)
    args.lr = args.lr or [2e-3]
    args.val = args.val or args.data.with_name(args.data.name + "-val")
    if not args.cnn_weights.is_file():
        p.error(f"--cnn-weights: no such file: {args.cnn_weights}")
    if not (args.data / "train.txt").is_file():
        p.error(f"--data: {args.data / 'train.txt'} not found")
    return args


def frozen_scores(weights, depth, config):
    """(N, L, H, W) float32 scores of the stage-1 CNN (deploy_cnn) for depth (N, H, W)."""
    n, h, w = depth.shape
    net = make_prototxt.net_from_text(make_prototxt.deploy_net(False, h, w, config), caffe.TEST)
    net.copy_from(str(weights))
    out = np.empty((n, config["num_labels"], h, w), dtype=np.float32)
    for start, scores in make_prototxt.forward_batches(net, "scores", depth, 16, "scores", "frozen CNN scores"):
        out[start:start + len(scores)] = scores
    return out


def stage2_solver(lr, config, batch_size, shape, iters):
    """Caffe's Adam solver over Input(scores, label, index) -> GibbsCRFLoss, solver_separate's
    settings with base_lr = lr."""
    num_labels, h, w = shape
    n = caffe.NetSpec()
    n.scores, n.label, n.index = L.Input(shape=[{"dim": [batch_size, num_labels, h, w]},
                                                {"dim": [batch_size, 1, h, w]}, {"dim": [batch_size]}], ntop=3)
    n.loss = make_prototxt.crf_loss(n.scores, n.label, n.index, 1, to_scores=False, config=config)
    solver = caffe_pb2.SolverParameter()
    with make_prototxt.temp_prototxt(str(n.to_proto())) as net_path:
        text_format.Merge(make_prototxt.solver("separate", net_path, iters, "unused", None), solver)
        solver.base_lr = lr
        solver.snapshot = 0  # nothing to keep: the accuracies are the result
        with make_prototxt.temp_prototxt(text_format.MessageToString(solver)) as path:
            return caffe.get_solver(path)


def validation_accuracy(scores, truth, theta, offsets, burn_in, samples):
    """Body-part accuracy of the Gibbs max-marginal labelling of the validation scores."""
    preds = np.concatenate([
        sampler.marginals(scores[s:s + 50], theta, offsets, burn_in=burn_in, samples=samples).argmax(axis=1)
        for s in range(0, len(scores), 50)])
    correct, total = metrics.per_image_part_counts(truth, preds, label_set.BACKGROUND)
    return float(correct.sum() / total.sum())


def tune(args):
    train = data.read_split(args.data / "train.txt")
    if not (args.val / "test.txt").is_file():
        _, h, w = train["depth"].shape
        data.make_dataset(args.val, train=1, test=args.val_images, height=h, width=w,
                          seed=args.val_seed, workers=os.cpu_count(), progress=True)
    val = data.read_split(args.val / "test.txt")
    num_images = len(train["depth"])
    config = make_prototxt.crf_config(args.edges, num_images, make_prototxt.NUM_LABELS, seed=0)
    offsets = sampler.parse_edges(args.edges)
    train_scores = frozen_scores(args.cnn_weights, train["depth"], config)
    val_scores = frozen_scores(args.cnn_weights, val["depth"], config)
    cnn = metrics.per_image_part_counts(val["label"], val_scores.argmax(axis=1), label_set.BACKGROUND)
    results = {"cnn": float(cnn[0].sum() / cnn[1].sum())}
    print(f"validation body-part accuracy, CNN alone: {results['cnn']:.4f}")
    every = args.eval_every or args.iters
    order = np.random.default_rng(0)
    for lr in args.lr:
        solver = stage2_solver(lr, config, args.batch_size, train_scores.shape[1:], args.iters)
        blobs, curve = solver.net.blobs, []
        picks = np.concatenate([order.permutation(num_images)
                                for _ in range(args.iters * args.batch_size // num_images + 1)])
        for it in tqdm(range(args.iters), desc=f"lr {lr:g}", unit="it"):
            idx = picks[it * args.batch_size:(it + 1) * args.batch_size]
            blobs["scores"].data[...] = train_scores[idx]
            blobs["label"].data[...] = train["label"][idx, None]
            blobs["index"].data[...] = idx
            solver.step(1)
            if (it + 1) % every == 0 or it + 1 == args.iters:
                theta = solver.net.params["crf"][0].data.copy()
                curve.append([it + 1, validation_accuracy(val_scores, val["label"], theta, offsets,
                                                          args.burn_in, args.samples)])
                tqdm.write(f"lr {lr:g} iteration {it + 1}: Gibbs {curve[-1][1]:.4f}, "
                           f"max |theta| {np.abs(theta).max():.2f}")
        results[f"{lr:g}"] = curve
    return results


def main(argv=None):
    args = parse_args(argv)
    results = tune(args)
    best = max((k for k in results if k != "cnn"), key=lambda k: results[k][-1][1])
    print(f"best base_lr {best}: {results[best][-1][1]:.4f} (CNN alone {results['cnn']:.4f})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
