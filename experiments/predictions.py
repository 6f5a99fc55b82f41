"""Saved predictions: predictions.npy (N, H, W) and one colour-coded NNNNN.png per image, with
MANIFEST listing them, the proof of which files in the folder were written here.

A folder is written into only when it is absent, empty, or holds nothing but the files its
MANIFEST lists (plain files) and the MANIFEST: a user's folder, even one holding files of the same
names, is refused before any work. A rewrite replaces those files and removes the ones it no
longer writes (fewer images), nothing else.
"""
import json
import re
from pathlib import Path

import numpy as np

from data import labels as label_set

from .cli import BadInput

MANIFEST = "predictions.json"
KIND = "saved predictions"
NAME = re.compile(r"predictions\.npy|[0-9]{5,}\.png")


def own_files(folder):
    """Names in folder that an earlier write_predictions wrote ([] for an absent or empty folder);
    BadInput naming the first entry that it cannot prove it wrote."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"{folder}: is a file, not a folder to save predictions in")
    names = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    if not names:
        return []
    listed = _listed(folder)
    for name in names:
        path = folder / name
        if name != MANIFEST and name not in listed or path.is_symlink() or not path.is_file():
            raise BadInput(f"{path}: not a file saved with predictions ({MANIFEST} does not list it); "
                           f"not saving predictions into {folder}")
    return [n for n in names if n != MANIFEST]


def _listed(folder):
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return set()
    files = manifest.get("files") if isinstance(manifest, dict) and manifest.get("kind") == KIND else None
    return {n for n in files if isinstance(n, str) and NAME.fullmatch(n)} if isinstance(files, list) else set()


def write_predictions(folder, preds):
    """Save labellings (N, H, W) into folder (see the module's rule)."""
    from PIL import Image

    folder = Path(folder)
    old = own_files(folder)
    new = ["predictions.npy"] + [f"{i:05d}.png" for i in range(len(preds))]
    folder.mkdir(parents=True, exist_ok=True)
    _write_manifest(folder, sorted(set(old) | set(new)))  # an interrupted write stays provably ours
    np.save(folder / "predictions.npy", preds)
    for name, p in zip(new[1:], preds):
        Image.fromarray(label_set.colourise(p)).save(folder / name)
    for name in set(old) - set(new):
        (folder / name).unlink()
    _write_manifest(folder, new)


def _write_manifest(folder, names):
    (folder / MANIFEST).write_text(json.dumps({"kind": KIND, "files": names}, indent=1) + "\n")
