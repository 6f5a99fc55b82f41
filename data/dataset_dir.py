"""Dataset folders: written atomically, and replaced only when these tools provably wrote them.

A folder may be replaced when it is absent, empty, or holds exactly what write_dataset
writes: a meta.json of its schema, and per split in meta["counts"] SPLIT.h5 (datasets depth,
label, index; as many images as counted) and SPLIT.txt (naming SPLIT.h5), nothing else.
Anything else is refused: a folder that merely holds a file called meta.json may hold the
user's own files, and an input folder must never be overwritten by its own import.
"""
import json
import os
import re
import shutil
from pathlib import Path

import h5py

from . import hdf5, staging
from .errors import DataError

META_KEYS = ("generator", "height", "width", "counts", "names", "palette")
H5_KEYS = {"depth", "label", "index"}
SPLIT_NAME = re.compile(r"[A-Za-z0-9_-]+")


def dataset_files(folder):
    """Names of the files in folder that may be replaced: [] when folder is absent or empty,
    all of them when it is exactly a dataset these tools wrote; otherwise DataError saying why not."""
    folder = Path(folder)
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise DataError(f"{folder}: exists and is not a folder; not replacing it")
    names = sorted(p.name for p in folder.iterdir())
    if names:
        why = _not_a_dataset(folder, names)
        if why:
            raise DataError(f"{folder}: not a dataset folder these tools wrote ({why}); not replacing it "
                            "(move its files away or choose another output folder)")
    return names


def _not_a_dataset(folder, names):
    """Why folder's files are not exactly a written dataset, or None when they are."""
    if "meta.json" not in names:
        return "no meta.json"
    for name in names:
        if (folder / name).is_symlink() or not (folder / name).is_file():
            return f"{name} is not a plain file"
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return f"meta.json is not JSON: {e}"
    if not isinstance(meta, dict) or any(k not in meta for k in META_KEYS):
        return f"meta.json lacks the keys {', '.join(META_KEYS)}"
    counts = meta["counts"]
    if not isinstance(counts, dict) or not counts or not all(
            isinstance(s, str) and SPLIT_NAME.fullmatch(s) and type(n) is int and n > 0 for s, n in counts.items()):
        return f"meta.json's counts {counts!r} are not split names with image counts"
    expected = {"meta.json"} | {f"{s}{ext}" for s in counts for ext in (".h5", ".txt")}
    if set(names) != expected:
        odd = sorted(set(names) - expected) or sorted(expected - set(names))
        return f"{odd[0]} is {'not part' if odd[0] in names else 'missing'} of the dataset meta.json describes"
    for split, count in counts.items():
        listed = (folder / f"{split}.txt").read_text(errors="replace").split()
        if len(listed) != 1 or Path(listed[0]).name != f"{split}.h5":
            return f"{split}.txt does not name {split}.h5 alone"
        try:
            with h5py.File(folder / f"{split}.h5", "r") as f:
                if set(f) != H5_KEYS or f["index"].shape != (count,):
                    return f"{split}.h5 does not hold the {count} images meta.json counts"
        except OSError:
            return f"{split}.h5 is not an HDF5 file"
    return None


def refuse_overlap(out, inputs, what="output"):
    """DataError when `out` (a file or folder to write) is one of `inputs` (files or folders read),
    lies inside one, or contains one, symlinks followed; every tool's one check of its outputs."""
    resolved = Path(out).resolve()
    for given in inputs:
        source = Path(given).resolve()
        relation = ("is" if resolved == source or _same_file(out, given)
                    else "lies inside" if source in resolved.parents
                    else "contains" if resolved in source.parents else None)
        if relation:
            raise DataError(f"{out}: {what} {relation} the input {given}; a tool never writes into its input")


def _same_file(a, b):  # hard links
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def read_with(path):
    """What a tool reading `path` reads too, for refuse_overlap: the .h5 files a .txt lists, and
    the dataset folder (holding a meta.json) of path or of a listed file, where it lies in one."""
    try:
        files = hdf5._listed_files(path)  # the one reader of a .txt list, as Caffe reads it
    except DataError:  # not a readable list: the tool itself says so later
        files = [Path(path)]
    folders = {f.parent for f in [Path(path), *files] if (f.parent / "meta.json").is_file()}
    return [Path(path), *files, *sorted(folders)]


def check_out_dir(out_dir, inputs=()):
    """Fail early, before any work, when out_dir may not be replaced or overlaps an input path."""
    refuse_overlap(out_dir, inputs, "output folder")
    out = Path(out_dir).resolve()
    dataset_files(out)
    return out


def write_dataset(out_dir, splits, meta, inputs=()):
    """Write {split: (depth (N,H,W), label (N,H,W))} and meta as a dataset folder; returns its path.

    Everything goes to a hidden sibling first (data.staging) and is swapped into place at the end,
    so an error or an interrupt leaves no partial dataset, and the next run clears what a kill
    left. An earlier dataset in out_dir is replaced: its files (checked again just before the swap)
    are deleted by name, nothing else is."""
    _recover_stale_stages(Path(out_dir).resolve())
    out = check_out_dir(out_dir, inputs)
    stage = staging.make_partial_folder(out)
    new, old = stage / "new", stage / "old"
    try:
        new.mkdir()
        for name, (depth, label) in splits.items():
            hdf5.write_split(new / f"{name}.h5", depth, label)
            (new / f"{name}.txt").write_text(f"{out / name}.h5\n")
        (new / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        previous = dataset_files(out)
        if out.exists():
            out.rename(old)
        new.rename(out)
    except BaseException:
        if old.exists() and not out.exists():
            old.rename(out)
        if not old.exists():
            shutil.rmtree(stage, ignore_errors=True)
        raise
    _remove_previous(old, previous, out)
    (stage / staging.MARKER).unlink()
    stage.rmdir()
    return out


def _recover_stale_stages(out):
    """Finish what a killed write_dataset left beside out: a previous dataset moved aside goes back
    when out is missing (killed between the two renames), or is removed as _remove_previous would;
    then the stage goes. A stage whose previous folder gained foreign files is left alone."""
    for stage in staging.stale_partials(out):
        old = stage / "old"
        if old.is_dir() and not out.exists():
            old.rename(out)
        elif old.is_dir():
            try:
                _remove_previous(old, dataset_files(old), out)
            except DataError:
                continue
        staging.remove_partial(stage)


def _remove_previous(old, names, out):
    if not old.exists():
        return
    for name in names:
        (old / name).unlink()
    try:
        old.rmdir()
    except OSError:  # a file appeared between the check and the swap: keep it
        raise DataError(f"{out}: written, but files appeared in the previous folder while writing; "
                        f"they are kept in {old}") from None
