"""Choosing a stage's learning rate on a validation set (never the test set).

Each candidate rate trains the stage exactly as the replication run does (the same nets,
`caffe train`, the same starting weights: the run's earlier stages), in a folder of its own;
its exported model is scored on a validation set that the generator draws with another seed
(200 images, the test split of DATA-val), through the same evaluation code as tools/eval.py:
the CNN's argmax for stage 1, Gibbs max-marginals for the CRF stages. The record (JSON) keeps
every candidate's figures and the chosen rate; nets/prototxt.py cites the records in
nets/tuning/.
"""
import dataclasses
import hashlib
import json
import time
from pathlib import Path

import data
from data.hdf5 import check_labels, content_sha1

from . import run_lock
from .cli import BadInput
from .evaluation import model_labels, score
from .run_folder import VAL_SEED, validation_set
from .scales import GATED, SCALES, STAGES, net_options
from .stages import EARLIER, finished, run_stage, snapshot_path, start_weights

KIND = "learning-rate tuning"


def run_settings(run, stage="separate", scale_name="default"):
    """The settings.json of a replication run folder (its scale, data, edges, seed); stage 1 needs
    no earlier stage, so without a run it takes the scale's defaults (its dataset generated when
    missing)."""
    path = Path(run) / "settings.json"
    if path.is_file():
        return _read_settings(path)
    if stage != "cnn":
        raise BadInput(f"{run}: not a replication run folder (no settings.json); run tools/replicate.py first")
    from nets.crf import DEFAULT_EDGES

    from .run_folder import check_dataset, generate_dataset

    scale, data_dir = SCALES[scale_name], Path("datasets").resolve() / scale_name
    if not check_dataset(data_dir, scale):
        generate_dataset(data_dir, scale, 0)
    return {"scale": scale_name, "data": str(data_dir), "edges": DEFAULT_EDGES, "seed": 0}


def _read_settings(path):
    """A run's settings.json, refused (BadInput naming the file and key) unless a JSON object with
    what tuning reads: a known scale, the data folder, valid edge classes and a seed."""
    import sampler

    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BadInput(f"{path}: not a run's settings ({e})") from None
    if not isinstance(settings, dict):
        raise BadInput(f"{path}: not a run's settings (a JSON object), but {type(settings).__name__}")
    if settings.get("scale") not in SCALES:
        raise BadInput(f"{path}: scale {settings.get('scale')!r} is none of {', '.join(SCALES)}")
    if not isinstance(settings.get("data"), str) or not settings["data"]:
        raise BadInput(f"{path}: data {settings.get('data')!r} is not a dataset folder")
    seed = settings.get("seed")
    if type(seed) is not int or seed < 0:
        raise BadInput(f"{path}: seed {seed!r} is not a non-negative integer")
    try:
        sampler.parse_edges(settings.get("edges"))
    except (TypeError, ValueError) as e:
        raise BadInput(f"{path}: {e}") from None
    return settings


def earlier_stage(run, stage, scale):
    """The final snapshot of an earlier stage of the run, which must have finished."""
    path = snapshot_path(Path(run) / "snapshots", stage, scale.stage_iters(stage))
    if not path.is_file():
        raise BadInput(f"{run}: stage {stage} has not finished ({path.name} is missing); run tools/replicate.py")
    return path


def start_models(stage, run, settings):
    """{file name: SHA-1} of the earlier stages' weights a candidate trains on (none for stage 1):
    records of candidates trained on different starts are not comparable."""
    if stage == "cnn":
        return {}
    scale = SCALES[settings["scale"]]
    files = [earlier_stage(run, s, scale) for s in EARLIER[stage]]  # the compared methods: stage 2's
    return {f.name: hashlib.sha1(f.read_bytes()).hexdigest() for f in files}


def training_source(stage, run, settings):
    """The HDF5Data source the stage trains on: the run's stored scores for the stages on them,
    else its data."""
    from nets.prototxt import STORED_SCORES

    return (Path(run) / "scores" if stage in STORED_SCORES else Path(settings["data"])) / "train.txt"


def candidate_folder(work, name, record):
    """work/NAME-KEY, KEY a digest of `record` (what the candidate starts from: the earlier stages'
    SHA-1s, the run's settings and data, its rate and iterations), which the folder's start.json
    holds: a finished candidate is reused only for the same start, never scored under another's."""
    text = json.dumps(record, sort_keys=True)
    folder = Path(work) / f"{name}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"
    start = folder / "start.json"
    if start.is_file() and json.loads(start.read_text()) != json.loads(text):
        raise BadInput(f"{start}: records another start than this candidate's; remove {folder} or pass another --work")
    folder.mkdir(parents=True, exist_ok=True)
    start.write_text(text + "\n")
    return folder


def train_candidate(stage, lr, run, settings, scale, folder):
    """Train the stage with base_lr = lr into `folder`; returns (exported model, seconds)."""
    from nets import crf, prototxt
    from nets.export import export_model
    from nets.prototxt import STORED_SCORES

    run, tables = Path(run), settings.get("tables", crf.GATED_TABLES)
    prototxt.write(folder / "prototxt", data=settings["data"], scores=run / "scores", edges=settings["edges"],
                   seed=settings["seed"], snapshots=folder / "snapshots", snapshot_every=scale.snapshot_every,
                   base_lr={stage: lr}, tables=tables, **net_options(scale))
    final = {s: earlier_stage(run, s, scale) for s in EARLIER[stage]}
    (folder / "snapshots").mkdir(parents=True, exist_ok=True)
    start = start_weights(stage, final, folder / "snapshots", tables,
                          finished(folder / "snapshots", stage, scale.stage_iters(stage)))
    if stage != "cnn":  # each training image its own chain (the layer cannot read the source itself)
        data.check_chain_indices(training_source(stage, run, settings), scale.train)
    started = time.perf_counter()
    trained = run_stage(stage, folder / "prototxt" / f"solver_{stage}.prototxt",
                      scale.stage_iters(stage), folder / "snapshots",
                      folder / f"{stage}.log", weights=start)
    seconds = time.perf_counter() - started
    model = folder / "model.caffemodel"
    export_model([final["cnn"], trained] if stage in STORED_SCORES else [trained], model)
    return model, seconds


def train_method_candidate(method_key, lr, run, iterations, folder):
    """A learning method of the comparison (experiments/compare) trained for the separate stage
    with base_lr = lr on the run's stored scores; returns (exported model, seconds)."""
    from nets import crf

    from .methods import SEPARATE
    from .run_source import read_run
    from .method_training import learn
    from .scales import Budget

    method = {m.key: m for m in SEPARATE}[method_key]
    compared = read_run(run, run_settings(run)["scale"])
    rs = compared.settings
    for name in ("prototxt", "logs", "models", "snapshots"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    model, record = learn(method, compared, folder, crf.config(rs["edges"], rs["train"], seed=rs["seed"]),
                          {"separate": {method_key: Budget(iterations, lr)}})
    return model, record["seconds"]


def validation_accuracy(stage, model, val, scale):
    """score() of a candidate's model on the validation split, as the run's rows are scored."""
    preds = model_labels(model, val["depth"], "cnn" if stage == "cnn" else "gibbs", burn_in=scale.burn_in,
                         samples=scale.samples)
    return score(val["label"], preds, val["depth"])


def tune(stage, rates, run, work, scale_name="default", method="gibbs", iterations=None, tables=None):
    """The record of trying each rate for the stage, on top of the run's earlier stages; method:
    the main stages' Gibbs ML, or (separate stage) a compared learning method; iterations: the
    stage's (a compared method's budget; the scale's by default); tables: K of a gated stage (the
    run's by default)."""
    settings = with_tables(run_settings(run, stage, scale_name), stage, tables)
    scale = SCALES[settings["scale"]]
    index = STAGES.index(stage)
    if iterations and method == "gibbs":
        scale = dataclasses.replace(scale, iters=scale.iters[:index] + (iterations,) + scale.iters[index + 1:])
    start = start_models(stage, run, settings)
    if stage != "cnn":  # the run's models were trained on its data as it was then
        from .run_folder import check_data_unchanged

        check_data_unchanged(Path(run), Path(settings["data"]))
    check_labels(training_source(stage, run, settings))  # what Caffe will read, before anything is written
    data_sha1 = content_sha1(Path(settings["data"]) / "train.txt")
    with run_lock.hold(work):  # one tuning run at a time in a work folder
        val_folder, val = validation_set(Path(settings["data"]), scale.height, scale.width)
        candidates = {}
        for lr in rates:
            name = f"{stage if method == 'gibbs' else method}-lr{lr:g}" + (f"-{iterations}" if iterations else "")
            folder = candidate_folder(work, name, {"start": start, "data": data_sha1, "run_settings": settings,
                                                   "stage": stage, "method": method, "base_lr": lr,
                                                   "iterations": iterations})
            if method == "gibbs":
                model, seconds = train_candidate(stage, lr, run, settings, scale, folder)
            else:
                model, seconds = train_method_candidate(method, lr, run, iterations, folder)
            r = validation_accuracy(stage, model, val, scale)
            candidates[f"{lr:g}"] = {"part_accuracy": r["part_accuracy"], "ci": r["part_accuracy_ci"],
                                     "seconds": None if seconds is None else round(seconds, 1)}
            label = stage if method == "gibbs" else f"{stage} ({method})"
            print(f"stage {label}, base_lr {lr:g}: validation body-part accuracy {r['part_accuracy']:.4f}", flush=True)
    chosen = max(candidates, key=lambda k: candidates[k]["part_accuracy"])
    return {"kind": KIND, "stage": stage, "method": method, "scale": settings["scale"], "run": str(run),
            "start": start, "iterations": stage_iterations(stage, settings, iterations),
            "tables": settings.get("tables") if stage in GATED else None,
            "batch_size": scale.batch_size,
            "validation": {"folder": str(val_folder), "images": len(val["depth"]), "seed": VAL_SEED},
            "inference": "argmax" if stage == "cnn" else f"gibbs ({scale.burn_in} burn-in, {scale.samples} samples)",
            "candidates": candidates, "chosen": chosen, "date": time.strftime("%Y-%m-%d")}


RECORDS = Path(__file__).resolve().parents[1] / "nets" / "tuning"  # the records nets/prototxt.py cites


def tune_and_record(stage, rates, run, work, scale_name="default", method="gibbs", iterations=None, path=None,
                    tables=None):
    """tune(), with the record merged into `path` (default nets/tuning/STAGE.json, STAGE-METHOD.json,
    or for a gated stage STAGE-kK.json), which is checked first; returns (the record written, its
    path)."""
    if path:
        check_record_path(path)  # first: a foreign file given is refused before anything is read
    settings = with_tables(run_settings(run, stage, scale_name), stage, tables)
    k = settings.get("tables") if stage in GATED else None
    name = (stage if method == "gibbs" else f"{stage}-{method}") + ("" if k is None else f"-k{k}")
    path = path or RECORDS / f"{name}.json"
    check_record_path(path)
    check_record_path(path, stage=stage, method=method, iterations=stage_iterations(stage, settings, iterations),
                      start=start_models(stage, run, settings), tables=k)
    record = tune(stage, rates, run, work, scale_name, method, iterations, tables)
    return write_record(record, path), path


def check_record_path(path, **experiment):
    """Refuse, before any work, a record path holding something other than a tuning record, or
    the record of another experiment (`experiment`: e.g. stage, method, iterations), which
    writing would replace."""
    path = Path(path)
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text())
        ours = old.get("kind") == KIND
    except (ValueError, AttributeError, UnicodeDecodeError):
        ours = False
    if not ours:
        raise BadInput(f"{path}: exists and is not a tuning record; not replacing it")
    other = [f"{key} {old.get(key)} there, {value} here" for key, value in experiment.items() if old.get(key) != value]
    if other:
        raise BadInput(f"{path}: holds the record of another experiment ({'; '.join(other)}); pass another --record")


def with_tables(settings, stage, tables):
    """The run's settings, with K = tables for a gated stage when given (BadInput for another stage)."""
    if tables is None:
        return settings
    if stage not in GATED:
        raise BadInput(f"--tables {tables}: only the gated stages ({', '.join(GATED)}) have K tables per edge class")
    return {**settings, "tables": tables}


def stage_iterations(stage, settings, iterations=None):
    """The iterations a tuning run trains the stage for: `iterations`, or the run's scale's."""
    return iterations or SCALES[settings["scale"]].stage_iters(stage)


# What makes two records' candidates comparable: the same stage trained the same way from the same
# earlier stages, scored on the same validation set.
SAME_EXPERIMENT = ("kind", "stage", "method", "scale", "start", "iterations", "tables", "batch_size", "validation",
                   "inference")


def merged(record, path):
    """The record with the candidates of the one already at `path` added, when that one is of
    the same experiment (SAME_EXPERIMENT; a rate tried again keeps its new result), so that
    rates tried by several runs of the tool are chosen among together."""
    path = Path(path)
    old = json.loads(path.read_text()) if path.exists() else {}
    if any(old.get(k) != record.get(k) for k in SAME_EXPERIMENT):
        return record
    candidates = {**old["candidates"], **record["candidates"]}
    candidates = dict(sorted(candidates.items(), key=lambda item: float(item[0])))
    chosen = max(candidates, key=lambda k: candidates[k]["part_accuracy"])
    return {**record, "candidates": candidates, "chosen": chosen}


def write_record(record, path):
    """Write the record (merged with the one at `path` where comparable), replacing only a record
    this tool wrote for the same stage, method, iterations and start; returns what was written."""
    check_record_path(path, **{k: record[k] for k in ("stage", "method", "iterations", "start")})
    record = merged(record, path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(record, indent=1) + "\n")
    return record
