"""A run folder and its data, shared by the replication run, the learning comparison and tuning:
the dataset a scale needs (checked, or generated), the fingerprint of the data a run trained on,
and the folder's settings.json under its lock (a rerun continues a run; nothing of another
run's or someone else's is overwritten).
"""
import contextlib
import json
import os
import sys

from data.hdf5 import check_labels, content_sha1, image_shape

from . import run_lock
from .cli import BadInput


def check_dataset(folder, scale):
    """True when folder holds the scale's dataset (its image counts and size, as the .h5 files
    hold them, and labels Caffe can take); False when it may be generated there; otherwise
    BadInput (or DataError) naming the folder, before anything is written."""
    from data.dataset_dir import check_out_dir

    meta_file = folder / "meta.json"
    if not meta_file.exists():
        check_out_dir(folder)  # a folder of someone else's files is refused now
        return False
    if not isinstance(read_json(meta_file), dict):
        raise BadInput(f"{meta_file}: not a dataset's meta.json (a JSON object); pass another --data")
    (train, height, width), (test, *test_size) = (image_shape(folder / f"{s}.txt") for s in ("train", "test"))
    if (train, test) != (scale.train, scale.test):
        raise BadInput(f"{folder} holds {(train, test)} train/test images, the scale wants "
                       f"{(scale.train, scale.test)}; pass another --data")
    for size in ((height, width), tuple(test_size)):
        if size != (scale.height, scale.width):
            raise BadInput(f"{folder} holds {size[1]}x{size[0]} (WxH) images, the scale wants "
                           f"{scale.width}x{scale.height}; pass another --data")
    for split in ("train", "test"):
        check_labels(folder / f"{split}.txt")
    return True


DATA_SHA1 = "data_sha1"  # settings.json's record of the data files the run trained on
VALIDATION_SHA1 = "validation_sha1"  # and of its validation split (the test nets'), recorded apart so
                                     # that runs made before it had one continue


def check_data_unchanged(out, data_dir, record=False):
    """Refuse a run whose data files (and validation split, once it exists) changed since it
    recorded them in settings.json (its models were trained and validated on the old ones); with
    record, record them when it has not."""
    path = out / "settings.json"
    if not path.is_file():
        return
    val = validation_folder(data_dir, TEST_NET_IMAGES) / "test.txt"  # the test nets' (tuning records its own)
    for key, sources in ((DATA_SHA1, [data_dir / "train.txt", data_dir / "test.txt"]),
                         (VALIDATION_SHA1, [val] if val.is_file() else [])):
        if not sources:  # generated again (the same bytes: a seeded generator) and checked then
            continue
        settings, now = read_json(path), {}
        for source in sources:
            now.update(content_sha1(source))
        before = settings.get(key)
        if before is None:
            if record:
                path.write_text(json.dumps({**settings, key: now}, indent=1) + "\n")
            continue
        for name in sorted(set(before) | set(now)):
            if before.get(name) != now.get(name):
                raise BadInput(f"{name}: changed since the run in {out} used it (SHA-1 {before.get(name)} then, "
                               f"{now.get(name)} now); use a new --out or remove the run folder")


def read_json(path):
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as e:
        raise BadInput(f"{path}: not JSON ({e})") from None


VAL_IMAGES, VAL_SEED = 200, 7  # the validation split of tuning (never the test set)
# The test nets' validation split: the first 50 of the same (each image is drawn from its own seed,
# so DATA-val50 holds DATA-val's first 50); 200 would cost 15-25% of an end-to-end stage's time.
TEST_NET_IMAGES = 50


def validation_folder(data_dir, images=VAL_IMAGES):
    """DATA-val (tuning's), or DATA-valN for a split of N images, beside the dataset DATA."""
    return data_dir.with_name(data_dir.name + "-val" + ("" if images == VAL_IMAGES else str(images)))


def validation_set(data_dir, height, width, images=VAL_IMAGES, seed=VAL_SEED):
    """(folder, split) of a validation split: the test split of validation_folder(), drawn with
    another seed, generated when missing; BadInput naming the file when it holds another image
    count or size."""
    import data

    folder = validation_folder(data_dir, images)
    if not (folder / "test.txt").is_file():
        data.make_dataset(folder, train=1, test=images, height=height, width=width, seed=seed,
                          workers=os.cpu_count(), progress=True)
    found = image_shape(folder / "test.txt")
    if found != (images, height, width):
        raise BadInput(f"{folder / 'test.txt'}: holds {found[0]} images of {found[2]}x{found[1]} (WxH), the "
                       f"validation split is {images} of {width}x{height}; remove {folder} to generate it again")
    return folder, data.read_split(folder / "test.txt")


def generate_dataset(folder, scale, seed):
    import data

    print(f"generating the dataset into {folder}", file=sys.stderr)
    data.make_dataset(folder, train=scale.train, test=scale.test, height=scale.height,
                      width=scale.width, seed=seed, workers=2, progress=True)


@contextlib.contextmanager
def run_folder(out, settings):
    """The with-block runs holding out's lock (experiments.run_lock), with the run's settings in
    out/settings.json; refused (before anything is written) when another process holds the
    folder, or it holds another run's settings (a rerun continues a run; it never reports one
    setting's models under another's name) or anything that is not a run folder (nothing of
    someone else's is overwritten)."""
    started = check_settings(out, settings)
    with run_lock.hold(out):
        if not (started or check_settings(out, settings)):  # again: another run may have begun it meanwhile
            (out / "settings.json").write_text(json.dumps(settings, indent=1) + "\n")
        yield


def check_settings(out, settings):
    """True when out holds a run of these settings, False when out is absent or empty (but for
    its lock file), BadInput otherwise."""
    path = out / "settings.json"
    if path.exists():
        before = read_json(path)
        if not isinstance(before, dict):
            raise BadInput(f"{path}: not a run's settings (a JSON object); pass another --out")
        changed = [f"{k}: {before.get(k)!r} there, {settings.get(k)!r} now"
                   for k in sorted((set(before) | set(settings)) - {DATA_SHA1, VALIDATION_SHA1}) if before.get(k) != settings.get(k)]
        if changed:
            raise BadInput(f"{out} holds a run with other settings ({'; '.join(changed)}); pass another --out")
        return True
    if out.exists() and any(p.name != run_lock.LOCK for p in out.iterdir()):
        raise BadInput(f"{out} is not empty and holds no run (no settings.json); pass another --out")
    return False
