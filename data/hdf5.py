"""The on-disk layout Caffe's HDF5Data layer reads, its writer and its reader.

A dataset folder (data.dataset_dir) holds, per split, NAME.h5 (float32 datasets depth
(N,1,H,W) in metres, label (N,1,H,W) holding ids, index (N,) = 0..N-1), NAME.txt (the .h5's
absolute path, the layer's `source`), and meta.json. Caffe reads floating point only, hence
float labels. `index` picks each image's persistent chain, so across all the .h5 files of one
source the indices must be distinct and below the number of chains.
"""
import hashlib
import io
from pathlib import Path

import h5py
import numpy as np

from . import labels as L
from .errors import DataError

LABEL_BLOCK = 256  # images whose labels are checked at a time (check_labels): bounded memory


def write_split(path, depth, label):
    """Write one split's .h5 without timestamps, so equal arrays give equal bytes."""
    opts = {"track_times": False, "compression": "gzip", "compression_opts": 1, "shuffle": True,
            "chunks": (1, 1) + depth.shape[1:]}
    write_h5(path, {"depth": (depth[:, None].astype(np.float32, copy=False), opts),
                    "label": (label[:, None].astype(np.float32), opts),
                    "index": (np.arange(len(depth), dtype=np.float32), {"track_times": False})})


def write_h5(path, datasets):
    """Write {name: (array, h5py create_dataset options)} as the HDF5 file `path`. The file is built
    in memory and written in one plain write, so a full disk or a file-size limit is one DataError
    naming the file: h5py's own error path on a failed write prints tracebacks and can crash."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for name, (array, options) in datasets.items():
            f.create_dataset(name, data=array, **options)
    try:
        Path(path).write_bytes(buffer.getbuffer())
    except OSError as e:
        raise DataError(f"{path}: cannot be written ({e.strerror})") from None


def read_split(path):
    """{'depth': float32 (N,H,W), 'label': uint8 (N,H,W), 'index': int64 (N,)} from a split's
    .h5, or from a .txt listing .h5 files (concatenated in order, as Caffe reads them); the
    indices must be distinct, and for a .txt lie in 0..N-1."""
    files = _listed_files(path)
    parts = [_read_h5(f) for f in files]
    if image_shape(path)[0] == 0:  # also refuses listed files of different image sizes
        raise DataError(f"{path}: holds no images")
    total = sum(len(p["index"]) for p in parts)
    _check_indices(path, files, [p["index"] for p in parts], total if Path(path).suffix == ".txt" else None)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def check_chain_indices(source, num_images):
    """Read only the `index` datasets of the .h5 files a .txt source lists (or of one .h5) and
    raise DataError, naming file and index, unless all are distinct and in 0..num_images-1."""
    if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)) or num_images < 1:
        raise DataError(f"num_images: expected a positive integer, got {num_images!r}")
    files = _listed_files(source)
    indices = []
    for f in files:
        with _opened(f) as h5:
            indices.append(_index(f, _dataset(f, h5, "index")))
    _check_indices(source, files, indices, int(num_images))


def check_labels(source, num_labels=L.NUM_LABELS):
    """Read only the `label` datasets of the .h5 files a .txt source lists (or of one .h5), a block
    of images at a time, and raise DataError naming file and value unless all are ids
    0..num_labels-1: Caffe's losses index with them unchecked (out of bounds, or a crash)."""
    for f in _listed_files(source):
        with _opened(f) as h5:
            if "label" not in h5:
                raise DataError(f"{f}: has no dataset 'label'")
            label = h5["label"]
            for first in range(0, len(label), LABEL_BLOCK):
                bad = _bad_label(label[first:first + LABEL_BLOCK], num_labels)
                if bad is not None:
                    raise DataError(f"{f}: label holds {bad:g}; values that are not ids 0..{num_labels - 1} "
                                    f"are refused (listed in {source})")


def image_shape(source):
    """(images, height, width) of the `depth` datasets of the .h5 files a source lists, read from
    their shapes alone; DataError when the files' image sizes differ."""
    sizes = []
    for f in _listed_files(source):
        with _opened(f) as h5:
            if "depth" not in h5 or h5["depth"].ndim != 4:
                raise DataError(f"{f}: has no dataset 'depth' of shape (N, 1, H, W)")
            sizes.append((f, h5["depth"].shape))
    (first, shape), *rest = sizes
    for f, other in rest:
        if other[2:] != shape[2:]:
            raise DataError(f"{source}: {f} holds {other[3]}x{other[2]} (WxH) images, {first} {shape[3]}x{shape[2]}")
    return sum(s[0] for _, s in sizes), shape[2], shape[3]


def content_sha1(source):
    """{path: SHA-1 of its bytes} of every .h5 file a .txt source lists (or of one .h5): what a run
    trained and evaluated on, to tell later whether the files changed."""
    digests = {}
    for f in _listed_files(source):
        digest = hashlib.sha1()
        with open(f, "rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
        digests[str(f)] = digest.hexdigest()
    return digests


def _listed_files(path):
    """[path] for an .h5; for a .txt, the files it lists, whitespace-separated as Caffe reads them."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix != ".txt":
        return [path]
    try:
        files = [Path(s) for s in path.read_text().split()]
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: unreadable list of .h5 files ({e})") from None
    if not files:
        raise DataError(f"{path}: lists no .h5 files")
    for f in files:
        if not f.is_file():
            raise DataError(f"{f}: no such file (listed in {path})")
    return files


def _opened(path):
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"{path}: not a readable HDF5 file ({e})") from None


def _dataset(path, h5, key):
    if key not in h5:
        raise DataError(f"{path}: has no dataset '{key}'")
    return h5[key][()]


def _read_h5(path):
    with _opened(path) as f:
        arrays = {key: _dataset(path, f, key) for key in ("depth", "label", "index")}
    return _checked(path, **arrays)


def _index(path, index):
    """The chain indices as int64, or DataError unless they are whole floats (as Caffe reads them)."""
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.floating):
        raise DataError(f"{path}: index is {index.dtype} {index.shape}, expected floating point (N,)")
    whole = np.isfinite(index) & (index == np.round(index))
    if not whole.all():
        raise DataError(f"{path}: index holds {index[~whole][0]:g}, not a whole number")
    return index.astype(np.int64)


def _check_indices(source, files, indices, num_images):
    """Distinct indices across files, and (unless num_images is None) all in 0..num_images-1."""
    if num_images is not None:
        for f, index in zip(files, indices):
            outside = index[(index < 0) | (index >= num_images)]
            if outside.size:
                raise DataError(f"{source}: {f} holds index {outside[0]}, outside 0..{num_images - 1} "
                                f"({num_images} chains)")
    values = np.concatenate(indices)
    owner = np.repeat(np.arange(len(files)), [len(i) for i in indices])
    order = np.argsort(values, kind="stable")
    repeats = np.flatnonzero(values[order][1:] == values[order][:-1])
    if repeats.size:
        first, second = (files[owner[order[repeats[0] + k]]] for k in (0, 1))
        where = f"twice in {first}" if first == second else f"in both {first} and {second}"
        raise DataError(f"{source}: index {values[order[repeats[0]]]} appears {where}; "
                        "each image needs its own chain")


def _checked(path, depth, label, index):
    if depth.ndim != 4 or depth.shape[1] != 1:
        raise DataError(f"{path}: depth has shape {depth.shape}, expected (N, 1, H, W)")
    if label.shape != depth.shape:
        raise DataError(f"{path}: label has shape {label.shape}, depth has {depth.shape}")
    if index.shape != depth.shape[:1]:
        raise DataError(f"{path}: index has shape {index.shape}, expected ({len(depth)},)")
    for key, a in (("depth", depth), ("label", label)):
        if not np.issubdtype(a.dtype, np.floating):
            raise DataError(f"{path}: {key} has dtype {a.dtype}, expected floating point")
    if not np.isfinite(depth).all() or depth.min(initial=0) < 0:
        raise DataError(f"{path}: depth holds negative or non-finite values")
    bad = _bad_label(label, L.NUM_LABELS)
    if bad is not None:
        raise DataError(f"{path}: label holds {bad:g}; values that are not ids 0..{L.NUM_LABELS - 1} are refused")
    return {"depth": depth[:, 0].astype(np.float32), "label": label[:, 0].astype(np.uint8),
            "index": _index(path, index)}


def _bad_label(label, num_labels):
    """The first value of label that is not an id 0..num_labels-1 (NaN included), or None."""
    bad = ~((label >= 0) & (label < num_labels) & (label == np.round(label)))
    return label[bad].flat[0] if bad.any() else None
