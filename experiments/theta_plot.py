"""Heat maps of learned pairwise tables theta[c, l, l'], one panel per edge class.

Row l, column l' of edge class c = (dy, dx) is theta[c, y_i = l, y_(i + (dy, dx)) = l']:
blue is attractive (the pair is more likely than the unaries say), red repulsive.
"""
import math

import numpy as np

from data import labels


def label_names(num_labels):
    return labels.NAMES if num_labels == labels.NUM_LABELS else [str(i) for i in range(num_labels)]


def plot_theta(theta, offsets, out, title):
    """Write the heat maps to `out` (PNG); returns the panels drawn, [(title, array)], one per class."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes, num_labels = theta.shape[:2]
    names = label_names(num_labels)
    cols = min(4, classes)
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
        dy, dx = (int(v) for v in offsets[c])
        ax.set_title(f"(dy, dx) = ({dy}, {dx})   min {theta[c].min():.2f}", fontsize=9)
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
