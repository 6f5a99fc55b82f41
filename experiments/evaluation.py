"""Evaluation of a deploy net on a test set with the paper's metric (tools/eval.py's work).

evaluate() returns numbers; printing is the caller's (report_lines()).
"""
import pathlib
import time

import numpy as np
from tqdm import tqdm

import cnncrf
import sampler.inference
from data import labels as label_set
from data import metrics
from data.hdf5 import read_split
from data.render import BACKGROUND_DEPTH
from nets.runtime import forward_batches, net_from_text
from nets.weights import load_weights

from .cli import BadInput
from .predictions import FOLDER as PREDICTIONS, write_predictions


class EvalError(BadInput):
    """Bad input to the evaluation."""


def evaluate(model, weights, data, *, inference="cnn", burn_in=None, samples=None, seed=None,
             scores_blob="scores", batch_size=16, limit=None, save_predictions=None):
    """The figures of a deploy net on a test split, through the segmentation API (cnncrf: a split of
    another image size than the model's training one is brought to that scale and back): part
    accuracy with a bootstrap interval, pixel accuracy, mean class accuracy, mean IoU, per-class
    accuracy, confusion, speed."""
    if not pathlib.Path(data).is_file():
        raise EvalError(f"data not found: {data}")
    if save_predictions:
        PREDICTIONS.own_files(save_predictions)  # a folder of someone else's files: refused before the work
    segmenter = cnncrf.load(model, weights, inference, burn_in=burn_in, samples=samples, seed=seed,
                            scores_blob=scores_blob, batch_size=batch_size)
    split = read_split(data)
    depth, truth = split["depth"][:limit], split["label"][:limit]
    if not (truth != label_set.BACKGROUND).any():
        raise EvalError(f"{data}: no body pixels in its {len(truth)} images (every label is background), "
                        "so body-part accuracy is undefined")
    started = time.perf_counter()
    preds = segmenter.labels(depth)
    report = score(truth, preds, depth)
    report.update({"images_per_second": len(preds) / (time.perf_counter() - started), "inference": inference,
                   "net_size": list(segmenter.net_size(depth.shape[1:]))})
    if save_predictions:
        write_predictions(save_predictions, preds)
    return report


def score(truth, preds, depth):
    """The figures of predictions (N, H, W) against the truth, every method's through this one place:
    body-part accuracy with a bootstrap interval over images, the same on body pixels with a depth
    reading and on body pixels the sensor dropped (they read the background depth), pixel accuracy,
    mean class accuracy, mean IoU, per-class accuracy, the confusion matrix, per-image counts."""
    conf = metrics.confusion(truth, preds, label_set.NUM_LABELS)
    correct, total = metrics.per_image_part_counts(truth, preds, label_set.BACKGROUND)
    report = metrics.summarise(conf, label_set.BACKGROUND)
    parts = truth != label_set.BACKGROUND
    swapped = parts & (preds == label_set.MIRROR[truth]) & (preds != truth)
    report["left_right_swaps"] = float(swapped.sum() / max(1, parts.sum()))  # share of body pixels
    dropped = depth >= BACKGROUND_DEPTH
    for name, where in (("valid_depth", ~dropped), ("dropped_depth", dropped)):
        part = parts & where
        report[f"part_accuracy_{name}"] = float((preds[part] == truth[part]).mean()) if part.any() else None
        report[f"part_pixels_{name}"] = int(part.sum())
    report.update({
        "part_accuracy_ci": metrics.bootstrap_ratio_ci(correct, total),
        "confusion": conf.tolist(),
        "images": len(preds),
        "per_image_part_correct": correct.tolist(),
        "per_image_part_total": total.tolist(),
    })
    return report


def paired_gain(a, b):
    """Gain in body-part accuracy of row a over row b on the same test images, with a paired
    bootstrap interval (images resampled, both rows together)."""
    correct_a = np.asarray(a["per_image_part_correct"])
    correct_b = np.asarray(b["per_image_part_correct"])
    total = np.asarray(a["per_image_part_total"])
    return {"mean": float((correct_a - correct_b).sum() / total.sum()),
            "ci": metrics.bootstrap_ratio_ci(correct_a - correct_b, total)}


def crf_inputs(weights, depth, tables=None, batch_size=16):
    """(scores (N, L, H, W), gate weights (N, K, H, W) or None) for depth (N, H, W): the CNN's
    scores of a model, and for a gated model (tables = K) its pairwise branch's weights, by its
    deploy net run up to the CRF layer."""
    import caffe

    from nets import crf
    from nets.prototxt import deploy_net

    n, h, w = depth.shape
    gated = tables is not None
    net = net_from_text(deploy_net(gated, h, w, crf.config(**({"tables": tables} if gated else {}))), caffe.TEST)
    load_weights(net, weights)
    end = "gate_weights" if gated else "scores"
    scores = np.empty((n, label_set.NUM_LABELS, h, w), dtype=np.float32)
    gate = np.empty((n, tables, h, w), dtype=np.float32) if gated else None
    for start, out in forward_batches(net, end, depth, batch_size, end, "CNN scores"):
        scores[start:start + len(out)] = net.blobs["scores"].data
        if gated:
            gate[start:start + len(out)] = out
    return scores, gate


def model_labels(model, depth, inference, *, burn_in, samples, inputs=None, iterations=sampler.inference.ITERATIONS):
    """Labels (N, H, W) of an exported model on depth (N, H, W): its CNN's argmax ("cnn") or its
    CRF's inference (crf_labels, `iterations` those of mean field, ICM or LBP) on its CNN's scores
    and, gated, its branch's weights. inputs: crf_inputs() of the model computed already (a CNN
    several rows share)."""
    from nets.weights import model_tables

    scores, weights = inputs or crf_inputs(model, depth, model_tables(model))
    if inference == "cnn":
        return scores.argmax(axis=1).astype(np.uint8)
    return crf_labels(scores, model, inference, burn_in=burn_in, samples=samples, iterations=iterations,
                      weights=weights)


def crf_labels(scores, model, method, *, burn_in, samples, seed=0, iterations=sampler.inference.ITERATIONS,
               batch_size=50, weights=None):
    """Labels (N, H, W) of the CRF of a model (its theta, with the edge classes it was trained
    with) on stored scores (and a gated model's weights), by the deploy layer's own inference
    (sampler.inference): the max-marginal labelling for "gibbs" and "meanfield", the ICM
    labelling for "icm"."""
    from nets.weights import crf_tables

    theta, offsets = crf_tables(model)
    labels = np.empty((len(scores),) + scores.shape[2:], dtype=np.uint8)
    for first in tqdm(range(0, len(scores), batch_size), desc=f"CRF {method}", unit="batch"):
        batch = slice(first, first + batch_size)
        labels[batch] = sampler.inference.crf_labels(
            scores[batch], theta, offsets, method, burn_in=burn_in, samples=samples, seed=seed, iterations=iterations,
            weights=None if weights is None else weights[batch])
    return labels


def report_lines(report):
    lo, hi = report["part_accuracy_ci"]
    lines = [f"body-part accuracy  {report['part_accuracy']:.4f}  (95% CI {lo:.4f}-{hi:.4f}, "
             f"{report['images']} images, {report['images_per_second']:.1f} images/s)"]
    lines += [f"{key:<20}{report[key]:.4f}" for key in ("pixel_accuracy", "mean_class_accuracy", "mean_iou")]
    for name, what in (("valid_depth", "with a depth reading"), ("dropped_depth", "whose depth was dropped")):
        acc = report[f"part_accuracy_{name}"]
        lines.append(f"body-part accuracy on the {report[f'part_pixels_{name}']} body pixels {what}: "
                     + ("-" if acc is None else f"{acc:.4f}"))
    lines.append(f"body pixels labelled as their mirror part (left/right swapped): {report['left_right_swaps']:.4f}")
    lines.append("per-class accuracy:")
    lines += [f"  {name:<10}{'absent' if acc is None else f'{acc:.4f}'}"
              for name, acc in zip(label_set.NAMES, report["per_class_accuracy"])]
    return lines
