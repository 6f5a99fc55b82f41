"""A user's depth maps in the dataset's convention: float32 metres, no reading at 6 m.

Files (data.real_format's readers): NAME.png, 16-bit greyscale in millimetres (a Kinect frame as
its SDKs save it); NAME.exr, OpenEXR, the Z channel times a depth scale (metres per unit); NAME.npy,
float metres. No reading (0 in every format, +inf in an EXR's Z) and anything beyond 6 m read as the
background's 6 m, as in the dataset, whose sensor model drops readings to 6 m; negative or NaN
depths are refused. A depth map with no reading where a body could stand (0.5-6 m) is refused too:
it is in another unit, or holds nobody.
"""
from pathlib import Path

import numpy as np

from data import exr, real_format
from data.errors import DataError

FORMATS = real_format.DEPTH_FORMATS


def read_depth(path, depth_scale=exr.DEPTH_SCALE):
    """The depth map of one file (FORMATS), prepared; depth_scale applies to EXR files only."""
    path = Path(path)
    if path.suffix not in FORMATS:
        raise DataError(f"{path}: not a depth image (expected {', '.join(FORMATS)})")
    return prepare(real_format.read_depth_image(path, depth_scale), path)


def prepare(depth, name="depth"):
    """float32 (H, W) metres in the dataset's convention from depth (H, W) metres; DataError naming
    `name` for another shape, negative or non-finite values, or no plausible body depth."""
    depth = np.asarray(depth)
    if depth.ndim != 2 or 0 in depth.shape:
        raise DataError(f"{name}: depth has shape {depth.shape}, expected one image (H, W)")
    depth = real_format.metres(name, depth)
    low, high = exr.BODY_DEPTH
    readings = depth[depth > 0]
    if not ((readings >= low) & (readings < high)).any():
        found = f"median reading {np.median(readings):.4g} m" if readings.size else "no reading at all"
        raise DataError(f"{name}: no depth between {low:g} and {high:g} m, where a body would be ({found}); a PNG "
                        f"is read as millimetres, an .npy as metres, an EXR as its Z channel times the depth scale")
    return real_format.saturated(depth)
