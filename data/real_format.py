"""Readers of the real dataset's formats, returning (depth float32 (N,H,W) metres,
label uint8 (N,H,W)) like the generator; every problem raises DataError naming the file.

- Bundle: successive np.save arrays in one file: depths float (N,H,W), labels int (N,H,W),
  pixel_indices int (K,3) as (image, row, column), pixel_labels int (K,), optionally
  joints and joint_offsets (not used here).
- Folder: per pose NAME_depth.png (16-bit, millimetres), NAME_depth.npy (float, metres) or
  NAME_depth.exr (OpenEXR, depth in the Z channel times a depth scale, see data.exr) with
  NAME_label.png colour-coded in the palette of data.labels (renders blend colours at region
  borders: each pixel takes the nearest palette colour, within max_colour_distance).

No reading (0) and anything beyond BACKGROUND_DEPTH become BACKGROUND_DEPTH, as in the
synthetic set.
"""
import numbers
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from . import exr
from . import labels as L
from .dataset_dir import check_out_dir, write_dataset
from .errors import DataError
from .render import BACKGROUND_DEPTH

BUNDLE_NAMES = ("depths", "labels", "pixel_indices", "pixel_labels", "joints", "joint_offsets")
MAX_COLOUR_DISTANCE = 60.0
DEPTH_FORMATS = (".png", ".npy", ".exr")
COLOUR_BLOCK = 1 << 16  # pixels matched to the palette at a time: about 25 MB of temporaries


def read_source(path, max_colour_distance=MAX_COLOUR_DISTANCE, depth_scale=exr.DEPTH_SCALE):
    """A bundle file or a folder of images, whichever path is."""
    path = Path(path)
    return read_folder(path, max_colour_distance, depth_scale) if path.is_dir() else read_bundle(path)


def _check_setting(name, value, positive):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < float("inf")
            or (positive and value == 0)):
        raise DataError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")


def metres(path, depth):
    """depth as float32, or DataError unless it holds non-negative finite numbers."""
    if not np.issubdtype(depth.dtype, np.floating) and not np.issubdtype(depth.dtype, np.integer):
        raise DataError(f"{path}: depth has dtype {depth.dtype}, expected numbers")
    _check_depth(path, depth, "m")
    return depth.astype(np.float32)


def _check_depth(path, depth, unit):
    """DataError naming the first negative or non-finite depth and where it is."""
    bad = ~(np.isfinite(depth) & (depth >= 0))
    if bad.any():
        where = np.unravel_index(bad.argmax(), depth.shape)
        place = ", ".join(f"{axis} {i}" for axis, i in zip(("image", "row", "column")[-depth.ndim:], where))
        raise DataError(f"{path}: depth holds negative or non-finite values: {depth[where]} {unit} at {place}")


def saturated(depth):
    """float32 depth with no reading (0) and anything beyond BACKGROUND_DEPTH at BACKGROUND_DEPTH."""
    return np.where((depth == 0) | (depth > BACKGROUND_DEPTH), BACKGROUND_DEPTH, depth).astype(np.float32)


def _check_ids(path, what, ids):
    if not np.issubdtype(ids.dtype, np.integer):
        raise DataError(f"{path}: {what} has dtype {ids.dtype}, expected integers")
    if ids.size and (ids.min() < 0 or ids.max() >= L.NUM_LABELS):
        raise DataError(f"{path}: {what} holds ids outside 0..{L.NUM_LABELS - 1} (found {ids.min()}..{ids.max()})")


def read_bundle(path):
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    arrays = []
    with open(path, "rb") as f:
        while f.peek(1):  # more bytes: another array follows
            if len(arrays) == len(BUNDLE_NAMES):
                raise DataError(f"{path}: holds more than the {len(BUNDLE_NAMES)} arrays {', '.join(BUNDLE_NAMES)}")
            try:
                arrays.append(np.lib.format.read_array(f, allow_pickle=False))
            except (ValueError, OSError, EOFError) as e:
                name = BUNDLE_NAMES[len(arrays)]
                raise DataError(f"{path}: array {len(arrays) + 1} ({name}) unreadable: {e}") from None
    if len(arrays) < 4:
        raise DataError(f"{path}: holds {len(arrays)} arrays, expected at least 4 ({', '.join(BUNDLE_NAMES[:4])})")
    depths, labels, indices, pixel_labels = arrays[:4]
    if depths.ndim != 3 or not np.issubdtype(depths.dtype, np.floating):
        raise DataError(f"{path}: depths is {depths.dtype} {depths.shape}, expected float (N, H, W)")
    if 0 in depths.shape:
        raise DataError(f"{path}: depths has shape {depths.shape}, expected at least one image of at least one pixel")
    if labels.shape != depths.shape:
        raise DataError(f"{path}: labels has shape {labels.shape}, depths has {depths.shape}")
    _check_ids(path, "labels", labels)
    if indices.ndim != 2 or indices.shape[1:] != (3,) or not np.issubdtype(indices.dtype, np.integer):
        raise DataError(f"{path}: pixel_indices is {indices.dtype} {indices.shape}, expected int (K, 3)")
    if pixel_labels.shape != indices.shape[:1]:
        raise DataError(f"{path}: pixel_labels has shape {pixel_labels.shape}, expected ({len(indices)},)")
    _check_ids(path, "pixel_labels", pixel_labels)
    if len(indices) and ((indices < 0).any() or (indices >= np.array(depths.shape)).any()):
        raise DataError(f"{path}: pixel_indices point outside the {depths.shape} images")
    return saturated(metres(path, depths)), labels.astype(np.uint8)


def read_depth_image(path, depth_scale):
    """Depth in metres, not yet saturated (an EXR's body depth is checked first)."""
    if path.suffix == ".exr":
        return metres(path, exr.read_depth(path, depth_scale))
    if path.suffix == ".npy":
        try:
            depth = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise DataError(f"{path}: unreadable .npy ({e})") from None
        if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
            raise DataError(f"{path}: depth is {depth.dtype} {depth.shape}, expected float metres (H, W)")
        return metres(path, depth)
    depth = np.asarray(_open_png(path))
    if depth.ndim != 2 or depth.dtype not in (np.uint16, np.int32):
        raise DataError(f"{path}: depth PNG is {depth.dtype} {depth.shape}, expected 16-bit greyscale millimetres")
    _check_depth(path, depth, "mm")  # a 32-bit PNG can hold negative values
    return depth.astype(np.float32) / 1000


def _open_png(path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # refused, not a stray line
            with Image.open(path) as im:
                im.load()
                return im
    except (OSError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"{path}: unreadable image ({e})") from None


def _read_label_image(path, max_colour_distance):
    rgb = np.asarray(_open_png(path).convert("RGB"))
    ids, dist = np.empty(rgb.shape[:2], np.uint8), np.empty(rgb.shape[:2], np.float32)
    rows = max(1, COLOUR_BLOCK // max(1, rgb.shape[1]))  # blocks of rows: bounded temporaries at any size
    for first in range(0, len(rgb), rows):
        ids[first:first + rows], dist[first:first + rows] = L.nearest_label(rgb[first:first + rows])
    if dist.max() > max_colour_distance:
        r, c = np.unravel_index(dist.argmax(), dist.shape)
        raise DataError(f"{path}: colour {tuple(int(v) for v in rgb[r, c])} at row {r}, column {c} is "
                        f"{dist[r, c]:.0f} from every palette colour (limit {max_colour_distance:g})")
    return ids


def _check_settings(max_colour_distance, depth_scale):
    _check_setting("max colour distance", max_colour_distance, positive=False)
    _check_setting("depth scale", depth_scale, positive=True)


def read_folder(folder, max_colour_distance=MAX_COLOUR_DISTANCE, depth_scale=exr.DEPTH_SCALE):
    _check_settings(max_colour_distance, depth_scale)
    folder = Path(folder)
    depth_files = {}
    for p in sorted(folder.glob("*_depth.*")):
        if p.suffix in DEPTH_FORMATS:
            name = p.name[: -len("_depth" + p.suffix)]
            if name in depth_files:
                raise DataError(f"{folder}: {name} has two depth images, {depth_files[name].name} and {p.name}")
            depth_files[name] = p
    label_files = {p.name[: -len("_label.png")]: p for p in sorted(folder.glob("*_label.png"))}
    if not depth_files:
        raise DataError(f"{folder}: no NAME_depth{'/'.join(DEPTH_FORMATS)} files")
    unpaired = sorted(set(depth_files) ^ set(label_files))
    if unpaired:
        raise DataError(f"{folder}: {unpaired[0]} has a depth image but no label image or the reverse "
                        f"({len(unpaired)} unpaired)")
    depths, labels = [], []
    for name in sorted(depth_files):
        depth = read_depth_image(depth_files[name], depth_scale)
        labels.append(_read_label_image(label_files[name], max_colour_distance))
        if labels[-1].shape != depth.shape or depth.shape != labels[0].shape:
            raise DataError(f"{label_files[name]}: size {labels[-1].shape} differs from its depth image "
                            f"{depth.shape} or the first image {labels[0].shape}")
        if depth_files[name].suffix == ".exr":
            exr.check_body_depth(depth_files[name], depth, labels[-1], depth_scale)
        depths.append(saturated(depth))
    return np.stack(depths), np.stack(labels)


def import_dataset(out_dir, sources, max_colour_distance=MAX_COLOUR_DISTANCE, depth_scale=exr.DEPTH_SCALE):
    """Read {split: source} and write them as a dataset folder; returns its path. out_dir may
    neither overlap a source nor hold anything but a dataset these tools wrote."""
    _check_settings(max_colour_distance, depth_scale)
    check_out_dir(out_dir, sources.values())
    splits = {name: read_source(src, max_colour_distance, depth_scale) for name, src in sources.items()}
    shapes = {depth.shape[1:] for depth, _ in splits.values()}
    if len(shapes) != 1:
        raise DataError(f"splits have different image sizes: {sorted(shapes)}")
    (height, width), = shapes
    meta = {
        "generator": "imported", "sources": {k: str(v) for k, v in sources.items()}, "height": height,
        "width": width, "counts": {k: len(d) for k, (d, _) in splits.items()}, "names": L.NAMES,
        "palette": L.PALETTE.tolist(), "background": L.BACKGROUND, "background_depth": BACKGROUND_DEPTH,
    }
    return write_dataset(out_dir, splits, meta, sources.values())
