"""The frozen CNN's scores of a training set, computed once, as HDF5 shards Caffe reads.

Stage 2 (separate learning) keeps the CNN fixed, so its net is the CRF loss on these stored
scores instead of the CNN re-run at every iteration. A scores folder holds part-NNNNN.h5 files
(datasets scores (n, L, H, W), label (n, 1, H, W), index (n,), float32, SHARD images each, so
HDF5Data keeps one shard in memory at a time), train.txt listing them (HDF5Data's source) and
meta.json saying what made them. It is written beside its final place and renamed into it, and
an existing folder is replaced only when it is such a scores folder.
"""
import json
import os
import re
import shutil
from pathlib import Path

import h5py
import numpy as np

from .runtime import forward_batches, net_from_text
from .weights import load_weights

SHARD = 100  # images per file: at L = 20 and 120x160, 150 MB of scores in memory at a time
KIND = "frozen CNN scores"
PART = re.compile(r"part-\d{5}\.h5")


class ScoresError(ValueError):
    """An output folder that must not be replaced."""


def is_scores_folder(folder):
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    names = {p.name for p in folder.iterdir()}
    return (isinstance(meta, dict) and meta.get("kind") == KIND
            and all(n in ("meta.json", "train.txt") or PART.fullmatch(n) for n in names))


def read_meta(folder):
    """meta.json of a scores folder, or None when there is none."""
    return json.loads((Path(folder) / "meta.json").read_text()) if is_scores_folder(folder) else None


def write_scores(deploy_text, weights, split, out, batch_size=16):
    """Run the deploy CNN (prototxt text, output blob "scores") with `weights` over a training
    split ({"depth", "label", "index"} arrays) and write the scores folder `out`."""
    import caffe

    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()) and not is_scores_folder(out):
        raise ScoresError(f"{out}: exists and is not a folder of frozen CNN scores; not replacing it")
    net = net_from_text(deploy_text, caffe.TEST)
    load_weights(net, weights)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        parts = []
        depth = split["depth"]
        for first in range(0, len(depth), SHARD):
            last = min(len(depth), first + SHARD)
            scores = np.concatenate([s.copy() for _, s in forward_batches(
                net, "scores", depth[first:last], batch_size, "scores", f"frozen scores {first}-{last - 1}")])
            parts.append(out / f"part-{first // SHARD:05d}.h5")
            with h5py.File(partial / parts[-1].name, "w") as f:
                f.create_dataset("scores", data=scores.astype(np.float32))
                f.create_dataset("label", data=split["label"][first:last, None].astype(np.float32))
                f.create_dataset("index", data=split["index"][first:last].astype(np.float32))
        (partial / "train.txt").write_text("".join(f"{p}\n" for p in parts))
        (partial / "meta.json").write_text(json.dumps({"kind": KIND, "weights": str(weights),
                                                       "images": len(depth)}, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)  # a scores folder (checked above)
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out / "train.txt"
