"""The synthetic Kinect-like body-part dataset: scenes, images and whole datasets.

Each image has its own generator seeded by (seed, split, index), so an image does not
depend on which worker made it or in what order, and the same seed gives the same bytes.
"""
import os
from contextlib import nullcontext
from functools import partial
from multiprocessing import Pool

import numpy as np
from tqdm import tqdm

from . import dataset_dir, poses, render, sensor, skeleton
from . import labels as L
from .errors import DataError

VERSION = "synthetic-1"
SPLIT_IDS = {"train": 0, "test": 1}
HALF_TAN = np.tan(np.radians(render.HFOV_DEG) / 2)
MAX_SIDE = 4096  # pixels a side: 13-17 times the paper's 320x240 images
# Memory per pixel: every image's depth (float32) and label (uint8) stay in memory until written,
# and writing a split adds its labels as float32 and its compressed file (at most about 8 bytes).
HELD_BYTES, WRITE_BYTES = 5, 12


def sample_scene(rng):
    """A person (sizes, pose) placed in front of a camera: 1.5-4.5 m away (80% of them
    1.8-3.2 m, so that the body is large in the frame), near the image centre, and the
    camera 0.7-1.8 m high, aimed at about the body's middle."""
    body = skeleton.sample_body(rng)
    kind, pose = poses.sample_pose(rng)
    distance = 1.5 + 3.0 * rng.beta(1.8, 4.0)
    return {
        "body": body, "pose": pose, "kind": kind, "distance": distance,
        "offset": distance * HALF_TAN * rng.uniform(-0.15, 0.15),
        "camera_height": rng.uniform(0.7, 1.8), "aim": rng.normal(0.0, 0.03),
    }


def mirror_scene(scene):
    """The scene reflected in the camera's vertical centre plane."""
    return {**scene, "pose": poses.mirror(scene["pose"]), "offset": -scene["offset"]}


def render_scene(scene, height, width):
    """Exact depth (H, W) float64 in metres, background at BACKGROUND_DEPTH, and labels."""
    prims = skeleton.pose_body(scene["body"], scene["pose"])
    low, high = skeleton.z_range(prims)
    # Stand the lowest point on the floor, so no limb goes through it.
    place = np.array([scene["offset"], scene["distance"], -low])
    prims = {**prims, "c": prims["c"] + place}
    camera = np.array([0.0, 0.0, scene["camera_height"]])
    pitch = np.arctan2((high - low) / 2 - scene["camera_height"], scene["distance"]) + scene["aim"]
    depth, label = render.cast(render.to_camera(prims, camera, pitch), render.ray_grid(height, width))
    depth = np.where(label == L.BACKGROUND, render.BACKGROUND_DEPTH, np.minimum(depth, render.BACKGROUND_DEPTH))
    return depth.reshape(height, width), label.reshape(height, width)


def make_image(seed, split, index, height, width):
    """(noisy depth float32 (H, W), exact labels uint8 (H, W)) of one image."""
    rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
    depth, label = render_scene(sample_scene(rng), height, width)
    return sensor.apply(depth, render.focal_px(width), rng), label


def make_split(split, count, height, width, seed, workers=1, progress=False):
    """Arrays (depth (N,H,W) float32, label (N,H,W) uint8) of a split."""
    depth = np.empty((count, height, width), np.float32)
    label = np.empty((count, height, width), np.uint8)
    job = partial(_image_job, seed, split, height, width)
    with Pool(workers) if workers > 1 else nullcontext() as pool:
        images = pool.imap(job, range(count), chunksize=8) if pool else map(job, range(count))
        shown = None if progress else True  # None: on a terminal only, not in a log or a pipe
        for i, (d, lab) in enumerate(tqdm(images, total=count, desc=split, unit="img", disable=shown)):
            depth[i], label[i] = d, lab
    return depth, label


def _check_memory(train, test, height, width):
    """DataError, before any work, when the images cannot be held in this machine's memory."""
    needed = height * width * ((train + test) * HELD_BYTES + max(train, test) * WRITE_BYTES)
    have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if needed > have:
        raise DataError(f"{train} + {test} images of {width}x{height} need about {needed / 2**30:.1f} GiB of memory, "
                        f"more than this machine's {have / 2**30:.1f} GiB; make fewer or smaller images")


def _image_job(seed, split, height, width, index):
    return make_image(seed, split, index, height, width)


def make_dataset(out_dir, train=2000, test=500, height=120, width=160, seed=0, workers=1, progress=False):
    """Generate the dataset into out_dir (see data.hdf5 for the layout); returns the meta
    dict, whose 'files' maps each split to its .h5 and .txt paths. An existing out_dir is
    replaced only when it holds a dataset these tools wrote (data.dataset_dir)."""
    for name, value in (("train", train), ("test", test), ("height", height), ("width", width), ("workers", workers)):
        if int(value) != value or value < 1:
            raise DataError(f"{name} must be a positive integer, got {value!r}")
    if height < 8 or width < 8:
        raise DataError(f"resolution {width}x{height} is too small (at least 8x8)")
    if max(height, width) > MAX_SIDE:
        raise DataError(f"resolution {width}x{height} is too large (at most {MAX_SIDE} pixels a side)")
    _check_memory(train, test, height, width)
    dataset_dir.check_out_dir(out_dir)
    splits = {name: make_split(name, n, height, width, seed, workers, progress)
              for name, n in (("train", train), ("test", test))}
    meta = {
        "generator": VERSION, "seed": seed, "height": height, "width": width,
        "counts": {"train": train, "test": test}, "names": L.NAMES, "palette": L.PALETTE.tolist(),
        "background": L.BACKGROUND, "background_depth": render.BACKGROUND_DEPTH,
        "focal_px": render.focal_px(width),
    }
    out = dataset_dir.write_dataset(out_dir, splits, meta)
    return {**meta, "files": {n: {"h5": str(out / f"{n}.h5"), "txt": str(out / f"{n}.txt")} for n in splits}}
