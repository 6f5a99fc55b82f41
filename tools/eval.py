#!/usr/bin/env python
"""Evaluate a deploy net on a test set with the paper's metric.

Reports per-pixel accuracy over body-part pixels (background excluded), overall pixel
accuracy, mean per-class accuracy, mean IoU, per-class accuracy, the confusion matrix and
images per second, with a 95% bootstrap interval over test images for the part accuracy.

  .venv/bin/python tools/eval.py --model prototxt/deploy_crf.prototxt \
      --weights snapshots/joint_iter_N.caffemodel --data datasets/default/test.txt \
      --inference gibbs --json runs/x/eval.json
"""
import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

INFERENCE_METHODS = {"gibbs": "gibbs", "meanfield": "meanfield", "icm": "icm"}


class EvalError(Exception):
    """Bad input: printed as one line, exit status 2."""


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="deploy prototxt (input blob: depth)")
    p.add_argument("--weights", required=True, help="trained .caffemodel")
    p.add_argument("--data", required=True, help="test.txt or test.h5 of a dataset")
    p.add_argument("--inference", choices=["cnn", *INFERENCE_METHODS], default="cnn",
                   help="cnn: argmax of the CNN scores; otherwise the CRF layer's method")
    p.add_argument("--burn-in", type=int, default=None, help="Gibbs sweeps before averaging")
    p.add_argument("--samples", type=int, default=None, help="Gibbs sweeps averaged")
    p.add_argument("--seed", type=int, default=None, help="seed of the CRF layer's sampler")
    p.add_argument("--scores-blob", default="scores", help="blob holding the CNN's unaries")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    p.add_argument("--json", type=pathlib.Path, help="write the figures to this JSON file")
    p.add_argument("--save-predictions", type=pathlib.Path, metavar="DIR",
                   help="write predictions.npy and colour-coded PNGs here")
    return p.parse_args(argv)


def require_file(path, what):
    if not pathlib.Path(path).is_file():
        raise EvalError(f"{what} not found: {path}")


def deploy_definition(args):
    """The deploy prototxt with the CRF layer set to the requested method; (text, output blob)."""
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format

    net = caffe_pb2.NetParameter()
    try:
        text_format.Merge(pathlib.Path(args.model).read_text(), net)
    except text_format.ParseError as e:
        raise EvalError(f"{args.model}: not a valid prototxt ({e})") from None
    crf = [l for l in net.layer if l.type == "Python" and l.python_param.layer == "CRFMarginals"]
    if args.inference == "cnn":
        return text_format.MessageToString(net), args.scores_blob
    if not crf:
        raise EvalError(f"{args.model} has no CRFMarginals layer; --inference {args.inference} "
                        "needs the CNN+CRF deploy net")
    config = json.loads(crf[0].python_param.param_str or "{}")
    config["method"] = INFERENCE_METHODS[args.inference]
    for key, value in (("burn_in", args.burn_in), ("samples", args.samples), ("seed", args.seed)):
        if value is not None:
            config[key] = value
    crf[0].python_param.param_str = json.dumps(config)
    return text_format.MessageToString(net), crf[0].top[0]


def load_net(args):
    os.environ.setdefault("GLOG_minloglevel", "2")
    import caffe
    import make_prototxt

    caffe.set_mode_cpu()
    text, output = deploy_definition(args)
    net = make_prototxt.net_from_text(text, caffe.TEST)
    check_weights(net, args.weights)
    net.copy_from(args.weights)
    if output not in net.blobs:
        raise EvalError(f"{args.model} has no blob '{output}' (see --scores-blob)")
    # The last layer that writes the output blob: forward stops there (no CRF work for cnn).
    end = [name for name, layer_tops in net.top_names.items() if output in layer_tops][-1]
    return net, output, end


def check_weights(net, weights):
    """Caffe aborts the process on a mismatched .caffemodel; say what is wrong instead."""
    from caffe.proto import caffe_pb2
    from google.protobuf.message import DecodeError

    trained = caffe_pb2.NetParameter()
    try:
        trained.ParseFromString(pathlib.Path(weights).read_bytes())
    except DecodeError:
        raise EvalError(f"{weights}: not a .caffemodel") from None
    for layer in list(trained.layer) + list(trained.layers):
        if layer.name not in net.params:
            continue
        want = [tuple(b.shape) for b in net.params[layer.name]]
        have = [tuple(b.shape.dim) or (b.num, b.channels, b.height, b.width) for b in layer.blobs]
        if want != have:
            raise EvalError(f"{weights}: layer '{layer.name}' has blobs {have} but the model "
                            f"expects {want}")


def predict(net, output, end, depth, batch_size):
    """Argmax labels (N, H, W) uint8 of the output blob for depth (N, H, W), batch by batch."""
    import make_prototxt

    preds = np.empty(depth.shape, dtype=np.uint8)
    for start, out in make_prototxt.forward_batches(net, output, depth, batch_size, end, "evaluating"):
        preds[start:start + len(out)] = out.argmax(axis=1)
    return preds


def evaluate(args):
    for path, what in ((args.model, "model"), (args.weights, "weights"), (args.data, "data")):
        require_file(path, what)
    from data import labels as label_set
    from data import metrics
    from data.hdf5 import read_split

    try:
        split = read_split(args.data)
    except (OSError, ValueError, KeyError) as e:
        raise EvalError(f"{args.data}: {e}") from None
    depth, truth = split["depth"][:args.limit], split["label"][:args.limit]
    net, output, end = load_net(args)
    num_labels = net.blobs[output].channels
    if num_labels != label_set.NUM_LABELS:
        raise EvalError(f"{args.model}: blob '{output}' has {num_labels} channels but the "
                        f"dataset has {label_set.NUM_LABELS} labels")

    started = time.perf_counter()
    preds = predict(net, output, end, depth, args.batch_size)
    seconds = time.perf_counter() - started

    conf = metrics.confusion(truth, preds, num_labels)
    correct, total = metrics.per_image_part_counts(truth, preds, label_set.BACKGROUND)
    report = metrics.summarise(conf, label_set.BACKGROUND)
    report.update({
        "part_accuracy_ci": metrics.bootstrap_ratio_ci(correct, total),
        "confusion": conf.tolist(),
        "images_per_second": len(preds) / seconds,
        "images": len(preds),
        "inference": args.inference,
        "per_image_part_correct": correct.tolist(),
        "per_image_part_total": total.tolist(),
    })
    if args.save_predictions:
        save_predictions(args.save_predictions, preds, label_set)
    return report


def save_predictions(folder, preds, label_set):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "predictions.npy", preds)
    for i, p in enumerate(preds):
        Image.fromarray(label_set.colourise(p)).save(folder / f"{i:05d}.png")


def print_report(report, names):
    lo, hi = report["part_accuracy_ci"]
    print(f"body-part accuracy  {report['part_accuracy']:.4f}  (95% CI {lo:.4f}-{hi:.4f}, "
          f"{report['images']} images, {report['images_per_second']:.1f} images/s)")
    for key in ("pixel_accuracy", "mean_class_accuracy", "mean_iou"):
        print(f"{key:<20}{report[key]:.4f}")
    print("per-class accuracy:")
    for name, acc in zip(names, report["per_class_accuracy"]):
        print(f"  {name:<10}{'absent' if acc is None else f'{acc:.4f}'}")


def main(argv=None):
    args = parse_args(argv)
    try:
        report = evaluate(args)
    except EvalError as e:
        print(f"eval.py: {e}", file=sys.stderr)
        return 2
    from data.labels import NAMES

    print_report(report, NAMES)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
