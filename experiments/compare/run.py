"""The comparison into a folder OUT: per regime (experiments.scales.COMPARISON), its own stage-1
CNN and stored scores where it has them (OUT/REGIME/source: experiments.compare.regimes), each
method's stages (OUT/REGIME/prototxt, snapshots, logs), models (OUT/REGIME/models), evaluation
on the first test images, report.json / report.md, heat maps and the gains figure.

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
from ..scales import COMPARISON, SCALES
from ..theta_plot import plot_theta
from . import figure, plan, report
from .evaluate import ITERATIONS, evaluate
from .regimes import describe, regime_run
from ..methods import MEANFIELD_STEPS, chosen
from ..run_source import read_run
from ..method_training import train

FIGURE = "gain_over_cnn.png"


def compare(scale, run_dir, out):
    """The whole comparison; returns the report (also written as OUT/report.json and report.md)."""
    run = read_run(run_dir, scale)
    comparison = COMPARISON[scale]
    methods = {name: chosen(regime.stages) for name, regime in comparison.regimes.items()}
    settings = json.loads(json.dumps({
        "scale": scale, "run": str(run.folder), "run_settings": run.settings, "test_images": comparison.test_images,
        "meanfield_steps": MEANFIELD_STEPS, "inference_iterations": ITERATIONS,
        "regimes": {name: {**asdict(regime), "methods": [m.key for m in methods[name]]}
                    for name, regime in comparison.regimes.items()}}))
    plans = {name: plan.minutes(methods[name], regime, SCALES[scale], comparison.test_images)
             for name, regime in comparison.regimes.items()}
    print(plan.text(plans), flush=True)
    with run_folder(out, settings):  # locked: one comparison at a time in OUT
        return _compare(run, comparison, methods, settings, plans, out)


def _compare(run, comparison, methods, settings, plans, out):
    started = time.perf_counter()
    test = {k: v[:comparison.test_images] for k, v in read_split(run.data_dir / "test.txt").items()}
    regimes, pictures = {}, {}
    for name, regime in comparison.regimes.items():
        regimes[name], pictures[name] = _regime(run, name, regime, methods[name], test, out / name)
    rep = {"settings": settings, "plan": plans, "regimes": regimes, "figure": FIGURE,
           "memory": report.memory(run.settings["edges"], crf.NUM_LABELS)}
    figure.plot(rep, out / FIGURE)
    rep["seconds"] = time.perf_counter() - started
    (out / "report.json").write_text(json.dumps(rep, indent=1))
    (out / "report.md").write_text(report.markdown(rep, pictures, FIGURE))
    return rep


def _regime(run, name, regime, methods, test, folder):
    """(the regime's report, {method key: heat map file relative to OUT})."""
    for sub in ("prototxt", "logs", "models"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    source = regime_run(run, regime, folder / "source")
    rs = source.settings
    crf_settings = crf.config(rs["edges"], rs["train"], seed=rs["seed"])

    models, training = {}, {}
    for method in methods:
        models[method.key], training[method.key] = train(method, source, folder, crf_settings, regime.stages)
        training[method.key]["model"] = str(models[method.key])

    started = time.perf_counter()
    results, cnn = evaluate(methods, models, source.model("cnn"), test, rs["burn_in"], rs["samples"])
    tables = {key: crf_tables(model) for key, model in models.items()}  # (theta, offsets)
    description = {"description": describe(regime), "train": rs["train"], "data": rs["data"],
                   "cnn": str(source.model("cnn")), "cnn_iterations": rs["iters"][0]}
    rep = report.build(methods, results, cnn, training, {k: t[0] for k, t in tables.items()}, description,
                       time.perf_counter() - started)
    pictures = {m.key: f"{name}/theta_{m.key}.png" for m in methods}
    for method in methods:
        plot_theta(*tables[method.key], folder.parent / pictures[method.key],
                   f"learned theta: {method.label} ({method.stage}), regime {name}")
    return rep, pictures
