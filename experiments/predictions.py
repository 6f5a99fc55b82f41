"""Saved predictions: predictions.npy (N, H, W) and one colour-coded NNNNN.png per image, with
predictions.json listing them, the proof of which files in the folder were written here
(data.manifest: a user's folder is refused before any work). A rewrite replaces those files and
removes the ones it no longer writes (fewer images), nothing else.
"""
from pathlib import Path

import numpy as np

from data import labels as label_set
from data.manifest import OwnedFolder

FOLDER = OwnedFolder("predictions.json", "saved predictions", r"predictions\.npy|[0-9]{5,}\.png",
                     "--save-predictions")


def write_predictions(folder, preds):
    """Save labellings (N, H, W) into folder (see the module's rule)."""
    from PIL import Image

    folder = Path(folder)
    old = FOLDER.own_files(folder)
    new = ["predictions.npy"] + [f"{i:05d}.png" for i in range(len(preds))]
    folder.mkdir(parents=True, exist_ok=True)
    FOLDER.write_manifest(folder, sorted(set(old) | set(new)))
    np.save(folder / "predictions.npy", preds)
    for name, p in zip(new[1:], preds):
        Image.fromarray(label_set.colourise(p)).save(folder / name)
    for name in set(old) - set(new):
        (folder / name).unlink()
    FOLDER.write_manifest(folder, new)
