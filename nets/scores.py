"""The frozen CNN's scores of a training set, computed once, as HDF5 shards Caffe reads.

Stage 2 (separate learning) keeps the CNN fixed, so its net is the CRF loss on these stored
scores instead of the CNN re-run at every iteration. A scores folder holds part-NNNNN.h5 files
(datasets scores (n, L, H, W), label (n, 1, H, W), index (n,) and depth (n, 1, H, W), float32,
SHARD images each, so HDF5Data keeps one shard in memory at a time; the gated stage's pairwise
branch reads the depth), train.txt listing them (HDF5Data's source) and
meta.json saying what made them. It is written beside its final place and renamed into it, and
an existing folder is replaced only when each of its entries is a plain file such a folder holds.
"""
import json
import re
import shutil
from pathlib import Path

import numpy as np

from data import staging
from data.hdf5 import write_h5

from .runtime import forward_batches, net_from_text
from .weights import load_weights

SHARD = 100  # images per file: at L = 20 and 120x160, 150 MB of scores in memory at a time
KIND = "frozen CNN scores"
PART = re.compile(r"part-\d{5}\.h5")
DATASETS = ("scores", "label", "index", "depth")  # what each part holds (meta.json says, for reuse)


class ScoresError(ValueError):
    """An output folder that must not be replaced."""


def scores_files(folder):
    """Names in folder that write_scores may replace: [] for an absent or empty folder, all of them
    when each is a plain file it wrote (meta.json of its kind, train.txt, the parts train.txt
    lists); otherwise ScoresError naming what is not."""
    folder = Path(folder)
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise ScoresError(f"{folder}: exists and is not a folder of frozen CNN scores; not replacing it")
    names = sorted(p.name for p in folder.iterdir())
    why = _not_written(folder, names) if names else None
    if why:
        raise ScoresError(f"{folder}: exists and is not a folder of frozen CNN scores ({why}); not replacing it")
    return names


def _not_written(folder, names):
    """Why folder's files are not all write_scores' own, or None when they are."""
    for name in ("meta.json", "train.txt"):
        if name not in names:
            return f"no {name}"
    for name in names:
        if (folder / name).is_symlink() or not (folder / name).is_file():
            return f"{name} is not a plain file"
    try:
        meta = json.loads((folder / "meta.json").read_text())
        parts = {Path(line).name for line in (folder / "train.txt").read_text().split()}
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return f"unreadable meta.json or train.txt: {e}"
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        return f"meta.json is not of kind {KIND!r}"
    odd = [n for n in names if n not in ("meta.json", "train.txt") and not (n in parts and PART.fullmatch(n))]
    return f"{odd[0]} is not a part train.txt lists" if odd else None


def is_scores_folder(folder):
    try:
        return bool(scores_files(folder))
    except ScoresError:
        return False


def read_meta(folder):
    """meta.json of a scores folder, or None when there is none."""
    return json.loads((Path(folder) / "meta.json").read_text()) if is_scores_folder(folder) else None


def write_scores(deploy_text, weights, split, out, batch_size=16):
    """Run the deploy CNN (prototxt text, output blob "scores") with `weights` over a training
    split ({"depth", "label", "index"} arrays) and write the scores folder `out`."""
    import caffe

    out = Path(out).resolve()
    scores_files(out)
    net = net_from_text(deploy_text, caffe.TEST)
    load_weights(net, weights)
    staging.remove_stale_partials(out)
    partial = staging.make_partial_folder(out)
    try:
        parts = []
        depth = split["depth"]
        for first in range(0, len(depth), SHARD):
            last = min(len(depth), first + SHARD)
            scores = np.concatenate([s.copy() for _, s in forward_batches(
                net, "scores", depth[first:last], batch_size, "scores", f"frozen scores {first}-{last - 1}")])
            parts.append(out / f"part-{first // SHARD:05d}.h5")
            write_h5(partial / parts[-1].name, {
                "scores": (scores.astype(np.float32, copy=False), {}),
                "label": (split["label"][first:last, None].astype(np.float32), {}),
                "index": (split["index"][first:last].astype(np.float32), {}),
                "depth": (depth[first:last, None].astype(np.float32), {})})
        (partial / "train.txt").write_text("".join(f"{p}\n" for p in parts))
        (partial / "meta.json").write_text(json.dumps({"kind": KIND, "weights": str(weights), "images": len(depth),
                                                       "datasets": list(DATASETS)}, indent=1) + "\n")
        _remove(out, scores_files(out))  # checked again: files may have appeared meanwhile
        (partial / staging.MARKER).unlink()
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out / "train.txt"


def _remove(folder, names):
    """Delete the files of an earlier scores folder by name, then the folder."""
    for name in names:
        (folder / name).unlink()
    if folder.exists():
        folder.rmdir()


def ensure_frozen_scores(weights, data, out, batch_size=16):
    """frozen_scores(), unless `out` already holds the scores of these weights over as many images
    as `data` lists, with every dataset (a rerun of a run or a comparison keeps them); returns its
    train.txt."""
    from data.hdf5 import image_shape

    meta = read_meta(out)
    if meta and meta.get("weights") == str(weights) and meta.get("images") == image_shape(data)[0] \
            and meta.get("datasets") == list(DATASETS):
        return Path(out) / "train.txt"
    return frozen_scores(weights, data, out, batch_size)


def frozen_scores(weights, data, out, batch_size=16):
    """The stage-1 CNN (weights) run over a training split (train.txt or .h5), written as the
    scores folder `out` (tools/frozen_scores.py); returns its train.txt."""
    from data import read_split

    from . import crf
    from .prototxt import deploy_net

    split = read_split(data)
    _, height, width = split["depth"].shape
    deploy = deploy_net(False, height, width, crf.config(num_images=len(split["depth"])))
    return write_scores(deploy, weights, split, out, batch_size)
