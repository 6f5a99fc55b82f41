"""The replication run: dataset, the training stages under `caffe train` (the paper's three, then
the image-dependent model's two), evaluation of every method on the test set, and a report with
the paper's table.

Re-running continues from what exists: the dataset and finished stages are kept, an
interrupted stage resumes from its last snapshot, and evaluation is redone.
"""
import json
import time
from dataclasses import asdict

import numpy as np

from data import check_chain_indices, read_split
from nets import crf, prototxt
from nets.export import export_model, training_scale
from nets.prototxt import STAGES, STORED_SCORES
from nets.scores import ensure_frozen_scores
from nets.weights import model_tables

from ..evaluation import crf_inputs
from ..run_folder import (TEST_NET_IMAGES, check_data_unchanged, check_dataset, generate_dataset, run_folder,
                          validation_folder, validation_set)
from ..scales import net_options
from ..stages import finished, run_stage, start_weights
from . import figures, report
from .evaluation import evaluate_rows

VALIDATION_SCORES = "scores-val"  # the run folder's frozen CNN scores of the validation split


def train(scale, data_dir, out, logs, tables):
    """Every stage, each exported as a deploy model (out/models/STAGE.caffemodel) when done, with
    the stage-1 CNN's scores of the training set and of the validation split written in between
    (out/scores, out/scores-val: the input of the stages on stored scores and of their test nets);
    returns ({stage: model}, {stage: seconds, None if trained earlier})."""
    net_dir, snapshots, models = out / "prototxt", out / "snapshots", out / "models"
    models.mkdir(parents=True, exist_ok=True)
    final, seconds = {}, {}
    for stage, iters in zip(STAGES, scale.iters):
        started = time.perf_counter()
        reused = finished(snapshots, stage, iters)
        if stage == "separate":
            ensure_frozen_scores(final["cnn"], data_dir / "train.txt", out / "scores")
            ensure_frozen_scores(final["cnn"], validation_folder(data_dir, TEST_NET_IMAGES) / "test.txt",
                                 out / VALIDATION_SCORES)
        if stage != "cnn":  # each training image its own chain (the layer itself cannot read the files)
            check_chain_indices((out / "scores" if stage in STORED_SCORES else data_dir) / "train.txt", scale.train)
        weights = start_weights(stage, final, snapshots, tables, reused)
        final[stage] = run_stage(stage, net_dir / f"solver_{stage}.prototxt", iters, snapshots,
                                 logs / f"{stage}.log", weights=weights)
        seconds[stage] = None if reused else time.perf_counter() - started
    exported = {stage: models / f"{stage}.caffemodel" for stage in STAGES}
    for stage in STAGES:  # a stage on stored scores holds no CNN: its model takes stage 1's
        export_model([final["cnn"], final[stage]] if stage in STORED_SCORES else [final[stage]], exported[stage],
                     training_scale(data_dir / "train.txt"))
    return exported, seconds


def replicate(scale_name, scale, out, data_dir, edges, seed):
    """The whole run into the folder `out`; returns the report (also written as report.json/md)."""
    settings = {"scale": scale_name, **asdict(scale), "edges": edges, "seed": seed, "data": str(data_dir),
                "tables": crf.GATED_TABLES, "learning": prototxt.LEARNING}
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
    val_dir, _ = validation_set(data_dir, scale.height, scale.width, TEST_NET_IMAGES)  # the test nets'; generated when missing
    check_data_unchanged(out, data_dir, record=True)
    prototxt.write(net_dir, data=data_dir, scores=out / "scores", edges=settings["edges"], seed=settings["seed"],
                   snapshots=snapshots, snapshot_every=scale.snapshot_every, tables=settings["tables"],
                   validation=val_dir, validation_scores=out / VALIDATION_SCORES, validation_images=TEST_NET_IMAGES,
                   **net_options(scale))
    weights, stage_seconds = train(scale, data_dir, out, logs, settings["tables"])

    started = time.perf_counter()
    results = evaluate_rows(weights, read_split(data_dir / "train.txt"), read_split(data_dir / "test.txt"), scale,
                            out / "predictions")
    eval_seconds = time.perf_counter() - started

    rep = report.build(results, {**settings, "weights": {k: str(v) for k, v in weights.items()}},
                       stage_seconds, eval_seconds, {s: logs / f"{s}.log" for s in STAGES})
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
    classes = figures.most_different_classes(weights["gated_joint"])
    figures.theta_maps(weights["gated_joint"], out / "theta_gated_joint.png",
                       "image-dependent tables, end to end: the edge classes whose tables differ most", classes)
    count = scale.figure_images
    _, gate = crf_inputs(weights["gated_joint"], test["depth"][:count], model_tables(weights["gated_joint"]))
    gated_preds = np.load(out / "predictions" / "gated_joint" / "predictions.npy")[:count]
    figures.gate_sheet(test["depth"][:count], test["label"][:count], gate, gated_preds, out / "gate_weights.png")
    figures.training_curves({s: logs / f"{s}.log" for s in STAGES}, out / "training_curves.png")
    return {"Fig.1-style sheet": "fig1.png", "theta, separate": "theta_separate.png",
            "theta, end-to-end": "theta_joint.png",
            "image-dependent tables, end-to-end (most different classes)": "theta_gated_joint.png",
            "the pairwise branch's weights on test images": "gate_weights.png",
            "training curves": "training_curves.png"}
