"""Depth image files in, body-part labellings out: tools/segment.py's work.

Per input NAME.png / NAME.exr / NAME.npy (cnncrf.depth), into the output folder: NAME_labels.png
(colour, the dataset's palette: data.labels), and on request NAME_ids.png (the label ids, 8-bit),
NAME_marginals.npy ((20, H, W) float32) and NAME_figure.png (depth | labels | confidence, the max
marginal). Every input is read and checked before anything is written.

The folder is written into only when it is absent, empty, or holds nothing but the files its
manifest (segment.json) lists, which earlier runs wrote, and the manifest (data.manifest): a
user's file is never replaced, even one of the same name. Later runs
add to the folder; the manifest lists everything written into it.
"""
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data import labels as label_set
from data.errors import DataError
from data.manifest import OwnedFolder

from .depth import FORMATS, read_depth

OUTPUTS = {"labels": "_labels.png", "ids": "_ids.png", "marginals": "_marginals.npy", "figure": "_figure.png"}
FOLDER = OwnedFolder("segment.json", "segmentations", r"[^/]+", "tools/segment.py")


def segment_files(model, inputs, out, *, depth_scale, extra=()):
    """Segment the depth images of inputs (files, or folders: their depth images, sorted) with
    model (cnncrf.load) into the folder out, writing the "labels" PNG and the `extra` outputs
    (OUTPUTS' other keys). Returns {"images", "seconds" (in all), "inference_seconds"}."""
    out = Path(out)
    files = depth_files(inputs)
    names = output_names(files, ["labels", *extra])
    old = FOLDER.own_files(out)
    for path in files:  # every input readable and plausible before anything is written
        read_depth(path, depth_scale)
    out.mkdir(parents=True, exist_ok=True)
    FOLDER.write_manifest(out, sorted(set(old) | {n for ns in names.values() for n in ns.values()}))
    started, inference = time.perf_counter(), 0.0
    for path in tqdm(files, desc="segmenting", unit="image"):
        depth = read_depth(path, depth_scale)
        began = time.perf_counter()
        labels, marginals = model.segment(depth)
        inference += time.perf_counter() - began
        write_outputs(out, names[path], depth, labels, marginals, path.name)
    return {"images": len(files), "seconds": time.perf_counter() - started, "inference_seconds": inference}


def depth_files(inputs):
    """The depth image files that inputs name, in order; DataError for a missing path, a file of
    another kind or a folder without depth images."""
    files = []
    for given in map(Path, inputs):
        if given.is_dir():
            found = sorted(p for p in given.iterdir() if p.suffix in FORMATS and p.is_file())
            if not found:
                raise DataError(f"{given}: holds no depth images ({', '.join(FORMATS)})")
            files += found
        elif not given.exists():
            raise DataError(f"{given}: no such file or folder")
        elif given.suffix not in FORMATS:
            raise DataError(f"{given}: not a depth image (expected {', '.join(FORMATS)})")
        else:
            files.append(given)
    return files


def output_names(files, kinds):
    """{file: {kind: name in the output folder}}; DataError where two inputs would write one name."""
    names, owner = {}, {}
    for path in files:
        names[path] = {kind: path.stem + OUTPUTS[kind] for kind in kinds}
        for name in names[path].values():
            if name in owner:
                raise DataError(f"{path} and {owner[name]} would both be written as {name}; segment them into "
                                f"different folders")
            owner[name] = path
    return names


def write_outputs(out, names, depth, labels, marginals, title):
    from PIL import Image

    writers = {
        "labels": lambda path: Image.fromarray(label_set.colourise(labels)).save(path),
        "ids": lambda path: Image.fromarray(labels).save(path),
        "marginals": lambda path: np.save(path, marginals),
        "figure": lambda path: figure(depth, labels, marginals.max(axis=0), title, path),
    }
    for kind, name in names.items():
        writers[kind](out / name)


def figure(depth, labels, confidence, title, path):
    """Depth | labels | confidence (the max marginal) side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height, width = depth.shape
    fig, axes = plt.subplots(1, 3, figsize=(9, 3 * height / width + 0.6), constrained_layout=True)
    body = depth[depth < depth.max()]
    shown = [(depth, "depth (m)", {"cmap": "gray", "vmin": body.min() if body.size else None}),
             (label_set.colourise(labels), "body parts", {}),
             (confidence, "confidence (max marginal)", {"cmap": "viridis", "vmin": 0, "vmax": 1})]
    for ax, (image, name, style) in zip(axes, shown):
        drawn = ax.imshow(image, interpolation="nearest", **style)
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
        if image.ndim == 2:
            fig.colorbar(drawn, ax=ax, shrink=0.8)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)
