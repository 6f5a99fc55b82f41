"""The per-pixel prior art of Kinect body-part labelling: a random forest on depth-difference
features (Shotton et al. 2011), trained on a training split and predicting every pixel.

Feature f of pixel x is d(x + u_f / d(x)) - d(x + v_f / d(x)), probes u_f, v_f given in metres
at the image plane (times the focal length), so features do not change with distance; half
the features compare a probe with the pixel itself (v_f = 0). Probes outside the image read
the background depth.
"""
from dataclasses import dataclass

import numba
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from tqdm import tqdm

from data import labels as L
from data.render import BACKGROUND_DEPTH, focal_px


@dataclass(frozen=True)
class ForestSettings:
    features: int = 200      # depth-difference features
    pixels: int = 200        # training pixels per image, nine tenths of them on the body
    trees: int = 20
    max_depth: int = 20
    reach_m: float = 0.6     # largest probe offset, metres at the image plane
    seed: int = 0
    workers: int = 2


@dataclass
class Forest:
    classifier: RandomForestClassifier
    probes: tuple            # (u (F, 2), v (F, 2)) in metres
    focal: float


def sample_probes(rng, count, reach_m):
    u = rng.uniform(-reach_m, reach_m, (count, 2))
    v = rng.uniform(-reach_m, reach_m, (count, 2)) * (rng.random((count, 1)) < 0.5)
    return u, v


def features(depth, rows, cols, probes, focal):
    """(n, F) float32 features of pixels (rows, cols) of one depth image (H, W)."""
    u, v = (np.ascontiguousarray(p, dtype=np.float64) for p in probes)
    return _features(np.ascontiguousarray(depth, dtype=np.float32), np.asarray(rows, np.int64),
                     np.asarray(cols, np.int64), u, v, float(focal))


@numba.njit(cache=True, parallel=True)
def _features(depth, rows, cols, u, v, focal):
    h, w = depth.shape
    out = np.empty((len(rows), len(u)), dtype=np.float32)
    for k in numba.prange(len(rows)):
        scale = focal / depth[rows[k], cols[k]]
        for f in range(len(u)):
            out[k, f] = (_probe(depth, rows[k] - u[f, 1] * scale, cols[k] + u[f, 0] * scale, h, w)
                         - _probe(depth, rows[k] - v[f, 1] * scale, cols[k] + v[f, 0] * scale, h, w))
    return out


@numba.njit(cache=True)
def _probe(depth, row, col, h, w):
    """The depth at the nearest pixel of (row, col), or the background's outside the image."""
    r, c = np.rint(row), np.rint(col)
    if 0 <= r < h and 0 <= c < w:
        return np.float64(depth[int(r), int(c)])
    return BACKGROUND_DEPTH


def training_pixels(label, rng, count):
    """(rows, cols) of one image's training pixels: mostly body parts, a tenth background."""
    body = np.flatnonzero(label.ravel() != L.BACKGROUND)
    back = np.flatnonzero(label.ravel() == L.BACKGROUND)
    pick = np.concatenate([rng.choice(body, min(len(body), count * 9 // 10), replace=False),
                           rng.choice(back, min(len(back), count // 10), replace=False)])
    return np.unravel_index(pick, label.shape)


def train_forest(depth, label, settings=ForestSettings()):
    """A Forest fitted on training images depth (N, H, W), label (N, H, W)."""
    rng = np.random.default_rng(settings.seed)
    focal = focal_px(depth.shape[2])
    probes = sample_probes(rng, settings.features, settings.reach_m)
    xs, ys = [], []
    for d, lab in tqdm(list(zip(depth, label)), desc="forest features", unit="img"):
        rows, cols = training_pixels(lab, rng, settings.pixels)
        xs.append(features(d, rows, cols, probes, focal))
        ys.append(lab[rows, cols])
    classifier = RandomForestClassifier(n_estimators=settings.trees, max_depth=settings.max_depth,
                                        min_samples_leaf=5, n_jobs=settings.workers, random_state=settings.seed)
    return Forest(classifier.fit(np.concatenate(xs), np.concatenate(ys)), probes, focal)


def predict_forest(forest, depth):
    """Labels (N, H, W) uint8 of every pixel of depth (N, H, W)."""
    n, h, w = depth.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    preds = np.empty(depth.shape, dtype=np.uint8)
    for i in tqdm(range(n), desc="forest", unit="img"):
        x = features(depth[i], rows, cols, forest.probes, forest.focal)
        preds[i] = forest.classifier.predict(x).reshape(h, w)
    return preds


def forest_report(dataset, settings=ForestSettings(), train_images=None, test_images=None):
    """score() of a forest trained on a dataset folder's train split (its first train_images)
    and run on its test split (the first test_images), with the prediction speed."""
    import time

    from data import read_split

    from .evaluation import score

    train, test = read_split(dataset / "train.h5"), read_split(dataset / "test.h5")
    forest = train_forest(train["depth"][:train_images], train["label"][:train_images], settings)
    depth, truth = test["depth"][:test_images], test["label"][:test_images]
    started = time.perf_counter()
    report = score(truth, predict_forest(forest, depth), depth)
    report["images_per_second"] = len(depth) / (time.perf_counter() - started)
    return report
