"""Each compared method's model: Gibbs ML's are the replication run's; piecewise tables are
counted from the training labels; every other method learns through `caffe train`
(experiments.stages.run_stage: resumable, a finished stage kept) on the run's data, batches and
CNN, and is exported like the run's models (nets.export)."""
import time

import sampler
from data import check_chain_indices, read_split
from nets import crf
from nets.export import export_model, export_tables
from nets.prototxt import GATED, LEARNING, STORED_SCORES, solver, train_net
from sampler.learning import piecewise_tables

from .caffe_log import iteration_seconds, training_seconds
from .stages import finished, run_stage, snapshot_path, start_weights
from .methods import GIBBS

GIBBS_ITERS = {"separate": 1, "joint": 2, "gated_separate": 3}  # the stages' positions in the run's iters


def budget_of(stage, name, budget, run):
    """(iterations, base_lr) of method `name`'s stage: the regime's Budget (keyed by the separate
    method's name in both stages), base_lr by the rule in experiments.scales.COMPARISON (Gibbs
    ML's rate times its iterations over the method's); Gibbs ML's own for Gibbs ML."""
    gibbs = run.settings["iters"][GIBBS_ITERS[stage]]
    if name == GIBBS:
        return gibbs, LEARNING[stage]["base_lr"]
    b = budget[stage][name]
    return b.iterations, b.base_lr or LEARNING[stage]["base_lr"] * gibbs / b.iterations


def train(method, run, out, settings, budget):
    """(model, record {"iterations", "base_lr", "seconds", "seconds_per_iteration"}) of one
    method: `caffe train`'s wall time and its time per iteration once running, by its log (None
    when unknown); piecewise's seconds are the counting time. Gibbs ML's model is the run's where
    the run holds its stage, otherwise learned like the others (a comparison regime's own CNN)."""
    if method.reused and method.stage in run.stages:
        iterations, base_lr = budget_of(method.stage, GIBBS, budget, run)
        return run.model(method.stage), {"iterations": iterations, "base_lr": base_lr, **_times(run.log(method.stage))}
    if method.layer is None:
        return piecewise(run, out, settings)
    return learn(method, run, out, settings, budget)


def piecewise(run, out, settings):
    """sampler/learning/piecewise.py's procedure: theta from all training labels with the stage-1
    CNN's layers, as OUT/models/piecewise.caffemodel."""
    started = time.perf_counter()
    labels = read_split(run.data_dir / "train.txt")["label"]
    theta = piecewise_tables(labels, sampler.parse_edges(settings["edges"]), settings["num_labels"])
    model = out / "models" / "piecewise.caffemodel"
    export_tables(run.model("cnn"), theta, settings, model, "piecewise tables of the training labels")
    return model, {"iterations": 0, "base_lr": None, "seconds": time.perf_counter() - started,
                   "seconds_per_iteration": None}


def learn(method, run, out, settings, budget):
    """Write the method's net and solver into OUT/prototxt, train (OUT/snapshots, OUT/logs) and
    export OUT/models/KEY.caffemodel."""
    iterations, base_lr = budget_of(method.stage, method.base or method.key, budget, run)
    key, snapshots = method.key, out / "snapshots"
    data = run.data_dir
    gated = {"tables": run.settings["tables"]} if method.stage in GATED else {}
    net = train_net(method.stage, data, run.scores, run.settings["batch_size"],
                    crf.layer_settings(settings, method.layer, **dict(method.extra), **gated), method.layer,
                    f"train_{key}")
    net_file, solver_file = out / "prototxt" / f"train_{key}.prototxt", out / "prototxt" / f"solver_{key}.prototxt"
    net_file.write_text(net)
    solver_file.write_text(solver(method.stage, str(net_file), iterations, snapshots, run.settings["snapshot_every"],
                                  prefix=key, base_lr=base_lr))
    if crf.has_chains(method.layer):  # each training image its own chain (the layer cannot read the files)
        check_chain_indices((run.scores if method.stage in STORED_SCORES else data) / "train.txt",
                            run.settings["train"])
    weights = None
    if method.base:  # from this method's separate theta (and, end to end, the stage-1 CNN)
        base_iterations, _ = budget_of("separate", method.base, budget, run)
        base = snapshot_path(snapshots, method.base, base_iterations)
        weights = start_weights(method.stage, {"cnn": run.model("cnn"), "separate": base}, snapshots,
                                run.settings.get("tables"), finished(snapshots, key, iterations), f"{key}_start.caffemodel")
    log = out / "logs" / f"{key}.log"
    final = run_stage(key, solver_file, iterations, snapshots, log, weights=weights)
    model = out / "models" / f"{key}.caffemodel"
    export_model([run.model("cnn"), final] if method.stage in STORED_SCORES else [final], model)
    return model, {"iterations": iterations, "base_lr": base_lr, **_times(log)}


def _times(log):
    text = log.read_text() if log.exists() else ""
    return {"seconds": training_seconds(text), "seconds_per_iteration": iteration_seconds(text)}
