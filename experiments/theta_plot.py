"""Heat maps of learned pairwise tables theta[c, l, l'], one panel per edge class.

Row l, column l' of edge class c = (dy, dx) is theta[c, y_i = l, y_(i + (dy, dx)) = l']:
blue is attractive (the pair is more likely than the unaries say), red repulsive.
"""
import json
import math
from pathlib import Path

import numpy as np

import sampler
from data import labels

from .cli import BadInput


def load_theta(weights, layer):
    """(theta (C, L, L) float32, offsets (C, 2)) of a CRF layer of a .caffemodel; the edge
    classes come from the layer's param_str saved in the file."""
    from caffe.proto import caffe_pb2
    from google.protobuf.message import DecodeError

    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(Path(weights).read_bytes())
    except DecodeError as e:
        raise BadInput(f"{weights}: not a readable .caffemodel ({e})") from None
    found = [l for l in net.layer if l.name == layer]
    if not found or not found[0].blobs:
        names = [l.name for l in net.layer if l.blobs]
        raise BadInput(f"{weights}: no layer '{layer}' with parameters (layers with parameters: {names})")
    blob = found[0].blobs[0]
    theta = np.array(blob.data, dtype=np.float32).reshape(tuple(blob.shape.dim))
    if theta.ndim != 3 or theta.shape[1] != theta.shape[2]:
        raise BadInput(f"{weights}: layer '{layer}' blob 0 has shape {theta.shape}, not theta (C, L, L)")
    config = json.loads(found[0].python_param.param_str or "{}")
    if "edges" not in config:
        raise BadInput(f"{weights}: layer '{layer}' has no 'edges' in its param_str")
    offsets = sampler.parse_edges(config["edges"])
    if len(offsets) != len(theta):
        raise BadInput(f"{weights}: edges {config['edges']!r} give {len(offsets)} classes, theta has {len(theta)}")
    return theta, offsets


def label_names(num_labels):
    return labels.NAMES if num_labels == labels.NUM_LABELS else [str(i) for i in range(num_labels)]


def plot_theta(theta, offsets, out, title):
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
    try:
        fig.savefig(out, dpi=90, format="png")  # exactly `out`: no ".png" added, whatever it ends in
    finally:
        plt.close(fig)
