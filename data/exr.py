"""Depth from OpenEXR files (the real set's renders), read with the OpenEXR bindings.

The Z channel holds depth in the renderer's unit, so it is multiplied by an explicit scale
(DEPTH_SCALE = 1.0 by default: the file holds metres), and an image whose body lies
implausibly near or far under that scale is refused with a suggested scale. The bindings report a damaged file partly by printing (Python's stdout and the C library's
stderr) before raising; that text is collected into the DataError instead, so a tool still
fails with one line.
"""
import contextlib
import io
import os
import sys
import tempfile

import numpy as np

from . import labels as L
from .errors import DataError

DEPTH_SCALE = 1.0  # metres per unit of the Z channel
BODY_DEPTH = (0.5, 6.0)  # metres: where a body's median depth may lie (Kinect range, background at 6)


def check_body_depth(path, depth, label, scale):
    """DataError, suggesting a scale, unless the median depth of the body (pixels labelled
    other than background, with a reading) lies in BODY_DEPTH; an image without body passes."""
    body = depth[(label != L.BACKGROUND) & (depth > 0)]
    if body.size:
        median = float(np.median(body))
        low, high = BODY_DEPTH
        if not low <= median <= high:
            suggested = scale * 10.0 ** np.round(np.log10(np.sqrt(low * high) / median))
            raise DataError(f"{path}: depth scale {scale:g} puts the body at a median depth of {median:.4g} m, "
                            f"outside {low:g}-{high:g} m; try a depth scale of {suggested:g}")


def read_depth(path, scale=DEPTH_SCALE):
    """The Z channel times scale, float64 (H, W) metres; +inf (no surface hit) becomes 0 (no reading)."""
    try:  # imported here, so that only EXR reading needs the package (pinned in requirements.txt)
        import OpenEXR
    except ImportError:
        raise DataError(f"{path}: reading OpenEXR needs the openexr package; run `make setup`") from None

    messages = []
    try:
        with _collected(messages), OpenEXR.File(str(path), separate_channels=True) as f:
            channels = f.channels()
            z = np.array(channels["Z"].pixels, dtype=np.float64) if "Z" in channels else None
            names = sorted(channels)
    except (RuntimeError, ValueError, OSError) as e:
        printed = f"; {messages[0]}" if messages and messages[0] else ""
        raise DataError(f"{path}: unreadable OpenEXR file ({e}{printed})") from None
    if z is None:
        raise DataError(f"{path}: has no Z channel (channels: {', '.join(names)})")
    if z.ndim != 2:
        raise DataError(f"{path}: Z channel has shape {z.shape}, expected (H, W)")
    return np.where(z == np.inf, 0.0, z * scale)


@contextlib.contextmanager
def _collected(messages):
    """Append to messages, as one line, what is printed meanwhile to Python's stdout and to
    file descriptors 1 and 2 (where the C library writes), instead of showing it."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile() as sink, contextlib.redirect_stdout(io.StringIO()) as python_out:
        for fd in saved:
            os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            messages.append(" ".join((python_out.getvalue() + sink.read().decode(errors="replace")).split()))
