"""Kinect-like pinhole camera and a vectorised ray caster for affine capsules.

Camera frame: x right, y along the optical axis, z up. Rays are (u, 1, v), so the ray
parameter of a hit is its depth along the optical axis, which is what a Kinect reports.
"""
import numpy as np

from . import labels as L

HFOV_DEG = 57.0  # the vertical field of view follows from the 4:3 pixel grid (about 44 degrees)
BACKGROUND_DEPTH = 6.0


def focal_px(width):
    return (width / 2) / np.tan(np.radians(HFOV_DEG) / 2)


def ray_grid(height, width):
    """(3, H*W) unnormalised ray directions, row-major from the top-left pixel. Symmetric
    about the image centre, so mirrored scenes give exactly mirrored images."""
    f = focal_px(width)
    u = (np.arange(width) + 0.5 - width / 2) / f
    v = -(np.arange(height) + 0.5 - height / 2) / f
    uu, vv = np.meshgrid(u, v)
    return np.stack([uu.ravel(), np.ones(uu.size), vv.ravel()])


def _first_hit(o, d, h):
    """Ray parameter of the first hit of rays o + t d (o (3,), d (3, n)) with the unit-radius
    capsule along z from 0 to h, inf where missed. The capsule is the union of a finite
    cylinder and two balls, so its first hit is the earliest of theirs."""
    with np.errstate(invalid="ignore", divide="ignore"):
        a = d[0] ** 2 + d[1] ** 2
        b = o[0] * d[0] + o[1] * d[1]
        t = (-b - np.sqrt(b * b - a * (o[0] ** 2 + o[1] ** 2 - 1))) / a
        z = o[2] + t * d[2]
        best = np.where((z >= 0) & (z <= h), t, np.inf)
        dd = (d * d).sum(axis=0)
        for end in (0.0, h):
            oc = o - np.array([0, 0, end])
            b = oc @ d
            t = (-b - np.sqrt(b * b - dd * (oc @ oc - 1))) / dd
            best = np.fmin(best, t)
    return np.where(best > 0, best, np.inf)


def cast(prims, rays):
    """Depth (n,) along the optical axis (inf where nothing is hit) and label (n,) uint8 of
    primitives given in camera coordinates."""
    depth = np.full(rays.shape[1], np.inf)
    label = np.full(rays.shape[1], L.BACKGROUND, dtype=np.uint8)
    for c, a, h, lab, split in zip(prims["c"], prims["A"], prims["h"], prims["label"], prims["split"]):
        inv = np.linalg.inv(a)
        o, d = inv @ -c, inv @ rays
        t = _first_hit(o, d, h)
        near = t < depth
        depth[near] = t[near]
        if split:
            q = o[:, None] + t[near] * d[:, near]
            band = 2 - np.clip((3 * q[2] / h).astype(int), 0, 2)  # band 0 is the top
            label[near] = lab + 2 * band + (q[0] > 0)
        else:
            label[near] = lab
    return depth, label


def to_camera(prims, position, pitch):
    """Primitives in the frame of a camera at position (world: x right, y ahead, z up)
    pitched up by pitch radians."""
    c, s = np.cos(-pitch), np.sin(-pitch)
    rot = np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])
    return {**prims, "c": (prims["c"] - position) @ rot.T, "A": rot @ prims["A"]}
