"""The comparison into a folder OUT: each method's stages (OUT/prototxt, OUT/snapshots,
OUT/logs), models (OUT/models), evaluation, report.json / report.md and heat maps.

Re-running continues: finished stages are kept, an interrupted one resumes from its last
snapshot, models are re-exported and the evaluation redone. OUT records its settings (those of
the run it builds on included) and a rerun with others is refused.
"""
import json
import time
from dataclasses import asdict

from data import read_split
from nets import crf
from nets.weights import crf_tables

from ..run_folder import run_folder
from ..scales import COMPARISON
from ..theta_plot import plot_theta
from . import report
from .evaluate import evaluate
from ..methods import MEANFIELD_STEPS, chosen
from ..run_source import read_run
from ..method_training import train


def compare(scale, run_dir, out):
    """The whole comparison; returns the report (also written as OUT/report.json and report.md)."""
    run = read_run(run_dir, scale)
    budget = COMPARISON[scale]
    methods = chosen(budget)
    settings = json.loads(json.dumps({
        "scale": scale, "run": str(run.folder), "run_settings": run.settings,
        "methods": [m.key for m in methods], "meanfield_steps": MEANFIELD_STEPS,
        "budget": {stage: {name: asdict(b) for name, b in per.items()} for stage, per in budget.items()}}))
    with run_folder(out, settings):  # locked: one comparison at a time in OUT
        return _compare(run, methods, budget, settings, out)


def _compare(run, methods, budget, settings, out):
    for folder in ("prototxt", "logs", "models"):
        (out / folder).mkdir(exist_ok=True)
    rs = run.settings
    crf_settings = crf.config(rs["edges"], rs["train"], seed=rs["seed"])

    models, training = {}, {}
    for method in methods:
        models[method.key], training[method.key] = train(method, run, out, crf_settings, budget)
        training[method.key]["model"] = str(models[method.key])

    started = time.perf_counter()
    results, cnn = evaluate(methods, models, run.model("cnn"), read_split(run.data_dir / "test.txt"),
                            rs["burn_in"], rs["samples"])
    tables = {key: crf_tables(model) for key, model in models.items()}  # (theta, offsets)
    rep = report.build(methods, results, cnn, training, {k: t[0] for k, t in tables.items()}, settings,
                       time.perf_counter() - started)
    (out / "report.json").write_text(json.dumps(rep, indent=1))
    pictures = {m.key: f"theta_{m.key}.png" for m in methods}
    for method in methods:
        plot_theta(*tables[method.key], out / pictures[method.key], f"learned theta: {method.label} ({method.stage})")
    (out / "report.md").write_text(report.markdown(rep, pictures))
    return rep
