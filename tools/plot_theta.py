#!/usr/bin/env python
"""Heat maps of the learned pairwise tables theta[c, l, l'], one per edge class.

    .venv/bin/python tools/plot_theta.py --weights snapshots/separate_iter_500.caffemodel \\
        --layer crf --out theta.png

Row l, column l' of edge class c = (dy, dx) is theta[c, y_i = l, y_(i + (dy, dx)) = l']:
blue is attractive (the pair is more likely than the unaries say), red repulsive. The
edge classes and the label count come from the layer's param_str saved in the .caffemodel.
"""
import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np


class PlotError(Exception):
    """Bad input: one line, exit status 2."""


def load_theta(weights, layer):
    """(theta (C, L, L) float32, param_str dict) of a GibbsCRFLoss/CRFMarginals layer."""
    from caffe.proto import caffe_pb2
    from google.protobuf.message import DecodeError

    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(Path(weights).read_bytes())
    except (OSError, DecodeError) as e:
        raise PlotError(f"{weights}: not a readable .caffemodel ({e})") from None
    found = [l for l in net.layer if l.name == layer]
    if not found or not found[0].blobs:
        names = [l.name for l in net.layer if l.blobs]
        raise PlotError(f"{weights}: no layer '{layer}' with parameters (layers with parameters: {names})")
    blob = found[0].blobs[0]
    theta = np.array(blob.data, dtype=np.float32).reshape(tuple(blob.shape.dim))
    if theta.ndim != 3 or theta.shape[1] != theta.shape[2]:
        raise PlotError(f"{weights}: layer '{layer}' blob 0 has shape {theta.shape}, not theta (C, L, L)")
    config = json.loads(found[0].python_param.param_str or "{}")
    return theta, config


def label_names(num_labels):
    from data import labels

    return labels.NAMES if num_labels == labels.NUM_LABELS else [str(i) for i in range(num_labels)]


def plot(theta, offsets, names, out, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes, num_labels = theta.shape[:2]
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
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="trained .caffemodel")
    ap.add_argument("--layer", default="crf", help="name of the CRF layer (default crf)")
    ap.add_argument("--out", default="theta.png", help="PNG to write (default theta.png)")
    args = ap.parse_args(argv)
    try:
        import sampler

        theta, config = load_theta(args.weights, args.layer)
        if "edges" not in config:
            raise PlotError(f"{args.weights}: layer '{args.layer}' has no 'edges' in its param_str")
        offsets = sampler.parse_edges(config["edges"])
        if len(offsets) != len(theta):
            raise PlotError(f"{args.weights}: edges {config['edges']!r} give {len(offsets)} classes, "
                            f"theta has {len(theta)}")
        plot(theta, offsets, label_names(theta.shape[1]), args.out, f"{args.weights} : {args.layer}")
    except PlotError as e:
        print(f"plot_theta.py: {e}", file=sys.stderr)
        return 2
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
