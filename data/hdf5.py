"""The on-disk layout Caffe's HDF5Data layer reads, its writer and its reader.

A dataset folder (data.dataset_dir) holds, per split, NAME.h5 (float32 datasets depth
(N,1,H,W) in metres, label (N,1,H,W) holding ids, index (N,) = 0..N-1), NAME.txt (the .h5's
absolute path, the layer's `source`), and meta.json. Caffe reads floating point only, hence
float labels. `index` picks each image's persistent chain, so across all the .h5 files of one
source the indices must be distinct and below the number of chains.
"""
from pathlib import Path

import h5py
import numpy as np

from . import labels as L
from .errors import DataError


def write_split(path, depth, label):
    """Write one split's .h5 without timestamps, so equal arrays give equal bytes."""
    n = len(depth)
    opts = {"track_times": False, "compression": "gzip", "compression_opts": 1, "shuffle": True}
    with h5py.File(path, "w") as f:
        chunks = (1, 1) + depth.shape[1:]
        f.create_dataset("depth", data=depth[:, None].astype(np.float32), chunks=chunks, **opts)
        f.create_dataset("label", data=label[:, None].astype(np.float32), chunks=chunks, **opts)
        f.create_dataset("index", data=np.arange(n, dtype=np.float32), track_times=False)


def read_split(path):
    """{'depth': float32 (N,H,W), 'label': uint8 (N,H,W), 'index': int64 (N,)} from a split's
    .h5, or from a .txt listing .h5 files (concatenated in order, as Caffe reads them)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix == ".txt":
        sources = [Path(s) for s in path.read_text().split("\n") if s.strip()]
        if not sources:
            raise DataError(f"{path}: lists no .h5 files")
        parts = [read_split(s) for s in sources]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    try:
        with h5py.File(path, "r") as f:
            arrays = {}
            for key in ("depth", "label", "index"):
                if key not in f:
                    raise DataError(f"{path}: has no dataset '{key}'")
                arrays[key] = f[key][()]
    except OSError as e:
        raise DataError(f"{path}: not a readable HDF5 file ({e})") from None
    return _checked(path, **arrays)


def _checked(path, depth, label, index):
    if depth.ndim != 4 or depth.shape[1] != 1:
        raise DataError(f"{path}: depth has shape {depth.shape}, expected (N, 1, H, W)")
    if label.shape != depth.shape:
        raise DataError(f"{path}: label has shape {label.shape}, depth has {depth.shape}")
    if index.shape != depth.shape[:1]:
        raise DataError(f"{path}: index has shape {index.shape}, expected ({len(depth)},)")
    for key, a in (("depth", depth), ("label", label), ("index", index)):
        if not np.issubdtype(a.dtype, np.floating):
            raise DataError(f"{path}: {key} has dtype {a.dtype}, expected floating point")
    if not np.isfinite(depth).all() or depth.min(initial=0) < 0:
        raise DataError(f"{path}: depth holds negative or non-finite values")
    if (label != np.round(label)).any() or label.min(initial=0) < 0 or label.max(initial=0) >= L.NUM_LABELS:
        raise DataError(f"{path}: label holds values that are not ids 0..{L.NUM_LABELS - 1}")
    return {"depth": depth[:, 0].astype(np.float32), "label": label[:, 0].astype(np.uint8),
            "index": index.astype(np.int64)}
