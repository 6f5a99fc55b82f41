"""Kinect-like sensor model applied to an exact depth map.

Axial noise grows quadratically with depth (Nguyen, Izadi and Lovell 2012), depth comes
from a disparity quantised to 1/8 pixel of the native 640-wide sensor, and pixels are
dropped at silhouette edges and where the surface is seen at a grazing angle. Dropped
pixels read as the background's saturated depth, like pixels with no return.
"""
import numpy as np

from .render import BACKGROUND_DEPTH

BASELINE_M = 0.075
NATIVE_FOCAL_PX = 580.0
SUBPIXEL = 8


def noise_sigma(z, scale=1.0):
    """Axial noise standard deviation (m) at depth z (m)."""
    return scale * (0.0012 + 0.0019 * (z - 0.4) ** 2)


def quantise(z):
    """Depth after rounding the disparity b f / z to 1/SUBPIXEL pixel."""
    disparity = np.round(BASELINE_M * NATIVE_FOCAL_PX * SUBPIXEL / z)
    return BASELINE_M * NATIVE_FOCAL_PX * SUBPIXEL / np.maximum(disparity, 1.0)


def grazing_cos(depth, focal):
    """Cosine between the surface normal (from depth differences, in metres per metre of
    image-plane footprint) and the viewing direction, per pixel; 0 at depth jumps."""
    pad = np.pad(depth, 1, mode="edge")
    gx = (pad[1:-1, 2:] - pad[1:-1, :-2]) / 2
    gy = (pad[2:, 1:-1] - pad[:-2, 1:-1]) / 2
    footprint = depth / focal
    return 1.0 / np.sqrt(1.0 + (gx ** 2 + gy ** 2) / footprint ** 2)


def apply(depth, focal, rng, noise_scale=1.0, edge_drop=0.35, graze_cos=0.3):
    """Noisy float32 depth from an exact one (background at BACKGROUND_DEPTH).

    A body pixel is dropped with probability edge_drop where the surface turns away
    faster than graze_cos (silhouette edges have cosine near 0), ramping linearly to 0
    at twice graze_cos.
    """
    body = depth < BACKGROUND_DEPTH
    cos = grazing_cos(depth, focal)
    p_drop = edge_drop * np.clip((2 * graze_cos - cos) / graze_cos, 0.0, 1.0)
    dropped = body & (rng.random(depth.shape) < p_drop)
    noisy = quantise(depth + rng.normal(0.0, 1.0, depth.shape) * noise_sigma(depth, noise_scale))
    out = np.where(body & ~dropped, np.minimum(noisy, BACKGROUND_DEPTH), BACKGROUND_DEPTH)
    return out.astype(np.float32)
