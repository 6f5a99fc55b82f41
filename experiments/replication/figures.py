"""The report's pictures: a Fig.1-style sheet, learned theta heat maps, training and validation curves."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from data import labels  # noqa: E402
from nets.weights import crf_tables  # noqa: E402

from ..theta_plot import plot_theta  # noqa: E402
from ..caffe_log import training_curve, validation_curve  # noqa: E402


def comparison_sheet(depth, truth, predictions, out, count):
    """Depth | ground truth | one column per prediction, for the first `count` images.
    predictions: {column title: (N, H, W) labels}."""
    columns = ["depth", "ground truth", *predictions]
    fig, axes = plt.subplots(count, len(columns), figsize=(2.4 * len(columns), 2 * count),
                             squeeze=False, constrained_layout=True)
    for i in range(count):
        images = [depth[i], labels.colourise(truth[i])]
        images += [labels.colourise(p[i]) for p in predictions.values()]
        for ax, title, image in zip(axes[i], columns, images):
            ax.imshow(image, cmap="gray_r" if image.ndim == 2 else None)
            ax.set_axis_off()
            if i == 0:
                ax.set_title(title, fontsize=9)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def theta_maps(weights, out, title, classes=None):
    theta, offsets = crf_tables(weights)
    plot_theta(theta, offsets, out, title, classes)


def most_different_classes(weights, count=4):
    """The `count` edge classes of a gated model whose K tables differ most (sum over label pairs
    of the spread across tables): where the image-dependent weights change the most."""
    theta, _ = crf_tables(weights)
    spread = (theta.max(axis=1) - theta.min(axis=1)).sum(axis=(1, 2))
    return sorted(np.argsort(spread)[::-1][:count].tolist())


def gate_sheet(depth, truth, gate, preds, out):
    """Depth | ground truth | the pairwise branch's weight of each table (0..1) | the gated model's
    labels, one row per image: where the model switches tables."""
    tables = gate.shape[1]
    columns = ["depth", "ground truth"] + [f"weight of table {k}" for k in range(tables)] + ["labels"]
    fig, axes = plt.subplots(len(depth), len(columns), figsize=(2.4 * len(columns), 2 * len(depth)),
                             squeeze=False, constrained_layout=True)
    for i in range(len(depth)):
        images = [(depth[i], "gray_r"), (labels.colourise(truth[i]), None)]
        images += [(gate[i, k], "viridis") for k in range(tables)] + [(labels.colourise(preds[i]), None)]
        for ax, title, (image, cmap) in zip(axes[i], columns, images):
            ax.imshow(image, cmap=cmap, **({"vmin": 0, "vmax": 1} if cmap == "viridis" else {}))
            ax.set_axis_off()
            if i == 0:
                ax.set_title(title, fontsize=9)
    fig.colorbar(axes[0, 2].images[0], ax=axes, shrink=0.5, label="weight")
    fig.savefig(out, dpi=90)
    plt.close(fig)


def training_curves(logs, out):
    """One panel per stage: Caffe's smoothed training loss against iteration, on a log axis where
    it is positive and spans more than a decade (stage 1's falls fast, then slowly), else linear
    (the CRF stages' loss, an energy gap, crosses zero: the axis label says so); and on a right
    axis the test net's validation body-part accuracy at each test."""
    fig, axes = plt.subplots(1, len(logs), figsize=(4.5 * len(logs), 3.2), squeeze=False,
                             constrained_layout=True)
    for ax, (stage, log) in zip(axes[0], logs.items()):
        text = Path(log).read_text()
        curve = np.array(training_curve(text) or [(0, np.nan)])
        ax.plot(curve[:, 0], curve[:, 1], color="tab:blue")
        loss = curve[:, 1][np.isfinite(curve[:, 1])]
        logarithmic = len(loss) > 0 and loss.min() > 0 and loss.max() > 10 * loss.min()
        if logarithmic:
            ax.set_yscale("log")
        ax.set_title(f"stage {stage}")
        ax.set_xlabel("iteration")
        ax.set_ylabel("training loss" + (" (log axis)" if logarithmic else ""), color="tab:blue")
        validation = np.array(validation_curve(text) or [(0, np.nan)])
        right = ax.twinx()
        right.plot(validation[:, 0], validation[:, 1], "o-", color="tab:red")
        right.set_ylabel("validation body-part accuracy", color="tab:red")
    fig.savefig(out, dpi=90)
    plt.close(fig)
