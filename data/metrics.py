"""Segmentation metrics of the paper's task: per-pixel accuracy over body-part pixels
(background excluded), plus the usual companions, and bootstrap intervals over images."""
import numpy as np


def confusion(truth, pred, num_labels):
    """(L, L) int64 counts, rows = ground truth, columns = prediction, over all pixels."""
    truth = np.asarray(truth, dtype=np.int64).ravel()
    pred = np.asarray(pred, dtype=np.int64).ravel()
    if truth.shape != pred.shape:
        raise ValueError(f"truth has {truth.size} pixels but pred has {pred.size}")
    for name, a in (("truth", truth), ("pred", pred)):
        if a.size and (a.min() < 0 or a.max() >= num_labels):
            raise ValueError(f"{name} holds label ids outside 0..{num_labels - 1}")
    return np.bincount(truth * num_labels + pred, minlength=num_labels ** 2).reshape(num_labels, num_labels)


def per_image_part_counts(truth, pred, background):
    """Per image: (correct body-part pixels, body-part pixels); images along axis 0."""
    truth = np.asarray(truth).reshape(len(truth), -1)
    pred = np.asarray(pred).reshape(len(pred), -1)
    parts = truth != background
    return (parts & (truth == pred)).sum(axis=1), parts.sum(axis=1)


def summarise(conf, background):
    """The paper's metric and its companions from one confusion matrix."""
    conf = np.asarray(conf, dtype=np.float64)
    tp = np.diag(conf)
    truth_total = conf.sum(axis=1)
    pred_total = conf.sum(axis=0)
    parts = np.arange(len(conf)) != background
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / truth_total
        iou = tp / (truth_total + pred_total - tp)
    present = truth_total > 0
    return {
        "part_accuracy": float(tp[parts].sum() / truth_total[parts].sum()),
        "pixel_accuracy": float(tp.sum() / conf.sum()),
        "mean_class_accuracy": float(recall[present].mean()),
        "mean_iou": float(iou[(truth_total + pred_total) > 0].mean()),
        "per_class_accuracy": [None if not p else float(r) for r, p in zip(recall, present)],
    }


def bootstrap_ratio_ci(numerators, denominators, *, level=0.95, resamples=2000, seed=0):
    """Percentile interval of sum(num)/sum(den) when images are resampled with replacement.

    Passing paired differences as numerators (method A correct - method B correct, same
    images) gives the interval of a gain in accuracy.
    """
    num = np.asarray(numerators, dtype=np.float64)
    den = np.asarray(denominators, dtype=np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(num), size=(resamples, len(num)))
    ratios = num[picks].sum(axis=1) / den[picks].sum(axis=1)
    tail = (1 - level) / 2
    return [float(np.quantile(ratios, tail)), float(np.quantile(ratios, 1 - tail))]
