"""A local per-pixel baseline: a random forest on depth-difference features (Shotton et
al. 2011), trained on a dataset's train split, scored on body-part pixels of its test split
(background excluded), the metric the paper reports.

    .venv/bin/python tools/baseline_forest.py datasets/synth
"""
import sys
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from tqdm import tqdm

from data import read_split
from data import labels as L
from data.cli import Parser, guarded
from data.render import BACKGROUND_DEPTH, focal_px


def sample_offsets(rng, count, reach_m):
    """Probe pairs (u, v) in metres at the image plane scaled by depth (so features do not
    change with distance); half the features compare a probe with the pixel itself."""
    u = rng.uniform(-reach_m, reach_m, (count, 2))
    v = rng.uniform(-reach_m, reach_m, (count, 2)) * (rng.random((count, 1)) < 0.5)
    return u, v


def features(depth, rows, cols, offsets, focal):
    """(n, F) float32 features d(x + u f/d(x)) - d(x + v f/d(x)) of pixels (rows, cols) of
    one depth image; probes outside the image read the background depth."""
    h, w = depth.shape
    scale = focal / depth[rows, cols]

    def probe(off):
        r = np.rint(rows[:, None] - off[None, :, 1] * scale[:, None]).astype(int)
        c = np.rint(cols[:, None] + off[None, :, 0] * scale[:, None]).astype(int)
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        return np.where(inside, depth[r.clip(0, h - 1), c.clip(0, w - 1)], BACKGROUND_DEPTH)

    u, v = offsets
    return (probe(u) - probe(v)).astype(np.float32)


def pixels(label, rng, count):
    """Training pixels of one image: mostly body parts, a tenth background."""
    body = np.flatnonzero(label.ravel() != L.BACKGROUND)
    back = np.flatnonzero(label.ravel() == L.BACKGROUND)
    pick = np.concatenate([rng.choice(body, min(len(body), count * 9 // 10), replace=False),
                           rng.choice(back, count // 10, replace=False)])
    return np.unravel_index(pick, label.shape)


def main(argv=None):
    ap = Parser(__doc__)
    ap.add_argument("dataset", help="dataset folder holding train.h5 and test.h5")
    ap.add_argument("--train-images", type=int, default=1000, help="training images used (default 1000)")
    ap.add_argument("--test-images", type=int, default=500, help="test images scored (default 500)")
    ap.add_argument("--pixels", type=int, default=200, help="training pixels per image (default 200)")
    ap.add_argument("--features", type=int, default=200, help="depth-difference features (default 200)")
    ap.add_argument("--trees", type=int, default=20, help="trees (default 20)")
    ap.add_argument("--max-depth", type=int, default=20, help="tree depth limit (default 20)")
    ap.add_argument("--workers", type=int, default=2, help="parallel jobs (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if min(args.train_images, args.test_images, args.pixels, args.features, args.trees, args.max_depth) < 1:
        ap.error("image, pixel, feature and tree counts and --max-depth must be positive")

    def work():
        train = read_split(Path(args.dataset) / "train.h5")
        test = read_split(Path(args.dataset) / "test.h5")
        rng = np.random.default_rng(args.seed)
        focal = focal_px(train["depth"].shape[2])
        offsets = sample_offsets(rng, args.features, reach_m=0.6)
        forest = fit(train, args, offsets, focal, rng)
        truth, pred = [], []
        for depth, label in tqdm(list(zip(test["depth"], test["label"]))[: args.test_images], desc="test"):
            rows, cols = np.nonzero(label != L.BACKGROUND)
            truth.append(label[rows, cols])
            pred.append(forest.predict(features(depth, rows, cols, offsets, focal)))
        report(np.concatenate(truth), np.concatenate(pred), min(args.test_images, len(test["label"])))

    return guarded(ap.prog, work)


def fit(train, args, offsets, focal, rng):
    xs, ys = [], []
    for depth, label in tqdm(list(zip(train["depth"], train["label"]))[: args.train_images], desc="features"):
        rows, cols = pixels(label, rng, args.pixels)
        xs.append(features(depth, rows, cols, offsets, focal))
        ys.append(label[rows, cols])
    forest = RandomForestClassifier(n_estimators=args.trees, max_depth=args.max_depth, min_samples_leaf=5,
                                    n_jobs=args.workers, random_state=args.seed)
    return forest.fit(np.concatenate(xs), np.concatenate(ys))


def report(truth, pred, images):
    """The paper's metric, how much of the error is left/right confusion, and per part."""
    swapped = (pred == L.MIRROR[truth]) & (pred != truth)
    print(f"body-part accuracy {np.mean(truth == pred):.3f} over {len(truth)} pixels of {images} test images; "
          f"left/right swaps {swapped.mean():.3f}")
    for k in range(L.BACKGROUND):
        print(f"  {L.NAMES[k]:8s} {np.mean(pred[truth == k] == k):.3f}")

if __name__ == "__main__":
    sys.exit(main())
