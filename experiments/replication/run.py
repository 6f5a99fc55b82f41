"""The replication run: dataset, the three training stages under `caffe train`, evaluation
of every method on the test set, and a report with the paper's table.

Re-running continues from what exists: the dataset and finished stages are kept, an
interrupted stage resumes from its last snapshot, and evaluation is redone.
"""
import contextlib
import json
import sys
import time
from dataclasses import asdict

import numpy as np

from data import check_chain_indices, read_split
from data.hdf5 import check_labels, content_sha1, image_shape
from nets import crf, prototxt
from nets.export import export_model
from nets.prototxt import STAGES, deploy_net
from nets.scores import read_meta, write_scores

from .. import run_lock
from ..cli import BadInput
from ..scales import net_options
from . import figures, report
from .evaluation import evaluate_rows
from .stages import finished, run_stage


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


def check_data_unchanged(out, data_dir, record=False):
    """Refuse a run whose data files changed since it recorded them in settings.json (its models
    were trained on the old ones); with record, record them when it has not."""
    path = out / "settings.json"
    if not path.is_file():
        return
    settings, now = read_json(path), {}
    for split in ("train", "test"):
        now.update(content_sha1(data_dir / f"{split}.txt"))
    before = settings.get(DATA_SHA1)
    if before is None:
        if record:
            path.write_text(json.dumps({**settings, DATA_SHA1: now}, indent=1) + "\n")
        return
    for name in sorted(set(before) | set(now)):
        if before.get(name) != now.get(name):
            raise BadInput(f"{name}: changed since the run in {out} used it (SHA-1 {before.get(name)} then, "
                           f"{now.get(name)} now); use a new --out or remove the run folder")


def read_json(path):
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as e:
        raise BadInput(f"{path}: not JSON ({e})") from None


def generate_dataset(folder, scale, seed):
    import data

    print(f"generating the dataset into {folder}", file=sys.stderr)
    data.make_dataset(folder, train=scale.train, test=scale.test, height=scale.height,
                      width=scale.width, seed=seed, workers=2, progress=True)


def train(scale, data_dir, out, logs):
    """All three stages, each exported as a deploy model (out/models/STAGE.caffemodel) when done,
    with the stage-1 CNN's scores of the training set written in between (out/scores, stage 2's
    input); returns ({stage: model}, {stage: seconds, None if trained earlier})."""
    net_dir, snapshots, models = out / "prototxt", out / "snapshots", out / "models"
    models.mkdir(parents=True, exist_ok=True)
    final, seconds = {}, {}
    for stage, iters in zip(STAGES, scale.iters):
        started = time.perf_counter()
        reused = finished(snapshots, stage, iters)
        if stage == "separate":
            ensure_scores(final["cnn"], data_dir, out / "scores", scale)
        if stage != "cnn":  # each training image its own chain (the layer itself cannot read the files)
            check_chain_indices((out / "scores" if stage == "separate" else data_dir) / "train.txt", scale.train)
        weights = [final["cnn"], final["separate"]] if stage == "joint" else None
        final[stage] = run_stage(stage, net_dir / f"solver_{stage}.prototxt", iters, snapshots,
                                 logs / f"{stage}.log", weights=weights)
        seconds[stage] = None if reused else time.perf_counter() - started
    exported = {stage: models / f"{stage}.caffemodel" for stage in STAGES}
    for stage, parts in (("cnn", [final["cnn"]]), ("separate", [final["cnn"], final["separate"]]),
                         ("joint", [final["joint"]])):
        export_model(parts, exported[stage])
    return exported, seconds


def ensure_scores(cnn_weights, data_dir, folder, scale):
    """The frozen stage-1 CNN's scores of the training set, written unless already there."""
    meta = read_meta(folder) if folder.exists() else None
    if meta and meta.get("weights") == str(cnn_weights) and meta.get("images") == scale.train:
        return
    from data import read_split

    settings = crf.config(num_images=scale.train)
    write_scores(deploy_net(False, scale.height, scale.width, settings), cnn_weights,
                 read_split(data_dir / "train.txt"), folder)


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
                   for k in sorted((set(before) | set(settings)) - {DATA_SHA1}) if before.get(k) != settings.get(k)]
        if changed:
            raise BadInput(f"{out} holds a run with other settings ({'; '.join(changed)}); pass another --out")
        return True
    if out.exists() and any(p.name != run_lock.LOCK for p in out.iterdir()):
        raise BadInput(f"{out} is not empty and holds no run (no settings.json); pass another --out")
    return False


def replicate(scale_name, scale, out, data_dir, edges, seed):
    """The whole run into the folder `out`; returns the report (also written as report.json/md)."""
    settings = {"scale": scale_name, **asdict(scale), "edges": edges, "seed": seed, "data": str(data_dir),
                "learning": prototxt.LEARNING}
    settings = json.loads(json.dumps(settings))  # as read back from the file (tuples become lists)
    have_dataset = check_dataset(data_dir, scale)  # every input checked before the run folder is written
    if have_dataset:
        check_data_unchanged(out, data_dir)
    with run_folder(out, settings):
        return replicate_locked(scale, settings, out, data_dir, have_dataset)


def replicate_locked(scale, settings, out, data_dir, have_dataset):
    """replicate()'s work, in the locked run folder."""
    net_dir, snapshots, logs = out / "prototxt", out / "snapshots", out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if not have_dataset:
        generate_dataset(data_dir, scale, settings["seed"])
    check_data_unchanged(out, data_dir, record=True)
    prototxt.write(net_dir, data=data_dir, scores=out / "scores", edges=settings["edges"], seed=settings["seed"],
                   snapshots=snapshots, snapshot_every=scale.snapshot_every, **net_options(scale))
    weights, stage_seconds = train(scale, data_dir, out, logs)

    started = time.perf_counter()
    results = evaluate_rows(weights, read_split(data_dir / "train.txt"), read_split(data_dir / "test.txt"), scale,
                            out / "predictions")
    eval_seconds = time.perf_counter() - started

    rep = report.build(results, {**settings, "weights": {k: str(v) for k, v in weights.items()}},
                       stage_seconds, eval_seconds)
    (out / "report.json").write_text(json.dumps(rep, indent=1))
    pictures = draw_figures(out, data_dir, scale, weights, logs)
    (out / "report.md").write_text(report.markdown(rep, pictures))
    return rep


def draw_figures(out, data_dir, scale, weights, logs):
    """{title: path relative to the report} of the pictures."""
    test = read_split(data_dir / "test.txt")
    preds = {title: np.load(out / "predictions" / key / "predictions.npy")
             for key, title in (("forest", "forest"), ("cnn", "CNN alone"), ("separate", "separate"),
                                ("joint", "end-to-end"))}
    figures.comparison_sheet(test["depth"], test["label"], preds, out / "fig1.png", scale.figure_images)
    for stage in ("separate", "joint"):
        figures.theta_maps(weights[stage], out / f"theta_{stage}.png", f"learned theta, {stage} learning")
    figures.training_curves({s: logs / f"{s}.log" for s in STAGES}, out / "training_curves.png")
    return {"Fig.1-style sheet": "fig1.png", "theta, separate": "theta_separate.png",
            "theta, end-to-end": "theta_joint.png", "training curves": "training_curves.png"}
