"""Heat maps of learned pairwise tables theta[c, l, l'], one panel per edge class (a gated
model's theta[c, k, l, l']: one panel per edge class and table).

Row l, column l' of edge class c = (dy, dx) is theta[c, y_i = l, y_(i + (dy, dx)) = l']:
blue is attractive (the pair is more likely than the unaries say), red repulsive.
"""
import math

import numpy as np

from data import labels


def theta_columns(tables):
    """Panels per row: 4, or a gated model's tables of one class side by side."""
    return 4 if tables == 1 else tables


def label_names(num_labels):
    return labels.NAMES if num_labels == labels.NUM_LABELS else [str(i) for i in range(num_labels)]


def plot_theta(theta, offsets, out, title, classes=None):
    """Write the heat maps to `out` (PNG); returns the panels drawn, [(title, array)], one per
    class (and table, for a gated theta (C, K, L, L)), of the given classes (default all)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = range(len(theta)) if classes is None else classes
    gated = theta.ndim == 4
    tables = [(c, k) for c in chosen for k in (range(theta.shape[1]) if gated else [None])]
    theta = np.stack([theta[c] if k is None else theta[c, k] for c, k in tables])
    captions = [f"(dy, dx) = ({int(offsets[c][0])}, {int(offsets[c][1])})" + ("" if k is None else f", table {k}")
                for c, k in tables]
    classes, num_labels = theta.shape[:2]
    names = label_names(num_labels)
    cols = min(theta_columns(len(tables) // len(chosen)), classes)
    rows = math.ceil(classes / cols)
    limit = float(np.abs(theta).max()) or 1.0
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.2 * rows + 0.6), squeeze=False,
                             constrained_layout=True)
    ticks = np.arange(num_labels)
    for c, ax in enumerate(axes.flat):
        if c >= classes:
            ax.axis("off")
            continue
        image = ax.imshow(theta[c], cmap="RdBu", vmin=-limit, vmax=limit)
        ax.set_title(f"{captions[c]}   min {theta[c].min():.2f}", fontsize=9)
        ax.set_xticks(ticks, names if c // cols == rows - 1 or c + cols >= classes else [],
                      rotation=90, fontsize=6)
        ax.set_yticks(ticks, names if c % cols == 0 else [], fontsize=6)
    fig.colorbar(image, ax=axes, shrink=0.6, label="theta[c, l, l']  (rows l at i, columns l' at i + (dy, dx))")
    fig.suptitle(title)
    panels = [(ax.get_title(), np.asarray(ax.images[0].get_array())) for ax in axes.flat[:classes]]
    try:
        fig.savefig(out, dpi=90, format="png")  # exactly `out`: no ".png" added, whatever it ends in
    finally:
        plt.close(fig)
    return panels
