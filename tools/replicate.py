#!/usr/bin/env python
"""The replication run: dataset, the three training stages under `caffe train`, evaluation
of every method on the test set, and a report with the paper's table.

    .venv/bin/python tools/replicate.py --scale default --out runs/default

Re-running continues from what exists: the dataset and finished stages are kept, an
interrupted stage resumes from its last snapshot, and evaluation is redone.
"""
import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # Caffe's per-net set-up chatter, in this process
from make_prototxt import DEFAULT_EDGES, STAGES, write_prototxt
from replication import figures, report
from replication.evaluation import ROWS, evaluate_row
from replication.scales import SCALES
from replication.stages import REPO, StageError, run_stage, snapshot_path


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", choices=sorted(SCALES), default="default")
    p.add_argument("--out", type=Path, help="run folder (default runs/SCALE)")
    p.add_argument("--data", type=Path, help="dataset folder (default datasets/SCALE; generated "
                   "when it has no meta.json)")
    p.add_argument("--edges", default=DEFAULT_EDGES, help="CRF edge classes")
    p.add_argument("--seed", type=int, default=0, help="seed of the dataset and of the chains")
    args = p.parse_args(argv)
    args.out = args.out or Path("runs") / args.scale
    args.data = args.data or Path("datasets") / args.scale
    return args


def ensure_dataset(folder, scale, seed):
    import data

    meta_file = folder / "meta.json"
    if meta_file.exists():
        meta = json.loads(meta_file.read_text())
        counts = (meta.get("counts", {}).get("train"), meta.get("counts", {}).get("test"))
        if counts != (scale.train, scale.test):
            sys.exit(f"replicate.py: {folder} holds {counts} train/test images, the scale wants "
                     f"{(scale.train, scale.test)}; pass another --data")
        return
    print(f"generating the dataset into {folder}", file=sys.stderr)
    data.make_dataset(folder, train=scale.train, test=scale.test, height=scale.height,
                      width=scale.width, seed=seed, workers=2, progress=True)


def train(args, scale, net_dir, snapshots, logs):
    """All three stages; returns ({stage: final weights}, {stage: seconds, None if trained earlier})."""
    weights, seconds = {}, {}
    previous = None
    for stage, iters in zip(STAGES, scale.iters):
        started = time.perf_counter()
        reused = snapshot_path(snapshots, stage, iters).exists()
        weights[stage] = run_stage(stage, net_dir / f"solver_{stage}.prototxt", iters, snapshots,
                                   logs / f"{stage}.log", weights=previous)
        seconds[stage] = None if reused else time.perf_counter() - started
        previous = weights[stage]
    return weights, seconds


def main(argv=None):
    args = parse_args(argv)
    scale = SCALES[args.scale]
    out = args.out.resolve()
    net_dir, snapshots, logs = out / "prototxt", out / "snapshots", out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ensure_dataset(args.data.resolve(), scale, args.seed)
    write_prototxt(net_dir, data=args.data.resolve(), num_images=scale.train, height=scale.height,
                   width=scale.width, batch_size=scale.batch_size, edges=args.edges, seed=args.seed,
                   iters=scale.iters, snapshots=snapshots, snapshot_every=scale.snapshot_every)
    try:
        weights, stage_seconds = train(args, scale, net_dir, snapshots, logs)
    except StageError as e:
        print(f"replicate.py: {e}", file=sys.stderr)
        return 1

    started = time.perf_counter()
    test_txt = args.data.resolve() / "test.txt"
    results = {row[0]: evaluate_row(row, net_dir, weights, test_txt, scale, out / "predictions")
               for row in ROWS}
    eval_seconds = time.perf_counter() - started

    settings = {"scale": args.scale, **asdict(scale), "edges": args.edges, "seed": args.seed,
                "data": str(args.data), "weights": {k: str(v) for k, v in weights.items()}}
    rep = report.build(results, settings, stage_seconds, eval_seconds)
    (out / "report.json").write_text(json.dumps(rep, indent=1))
    pictures = draw_figures(out, args.data.resolve(), scale, weights, logs)
    (out / "report.md").write_text(report.markdown(rep, pictures))
    print(report.table(rep))
    print(f"\nreport: {out / 'report.md'}")
    return 0


def draw_figures(out, data_dir, scale, weights, logs):
    """{title: path relative to the report} of the pictures."""
    from data import read_split

    test = read_split(data_dir / "test.txt")
    preds = {title: np.load(out / "predictions" / key / "predictions.npy")
             for key, title in (("cnn", "CNN alone"), ("separate", "separate"), ("joint", "end-to-end"))}
    figures.comparison_sheet(test["depth"], test["label"], preds, out / "fig1.png", scale.figure_images)
    for stage in ("separate", "joint"):
        figures.theta_maps(weights[stage], out / f"theta_{stage}.png", f"learned theta, {stage} learning")
    figures.training_curves({s: logs / f"{s}.log" for s in STAGES}, out / "training_curves.png")
    return {"Fig.1-style sheet": "fig1.png", "theta, separate": "theta_separate.png",
            "theta, end-to-end": "theta_joint.png", "training curves": "training_curves.png"}


if __name__ == "__main__":
    sys.exit(main())
