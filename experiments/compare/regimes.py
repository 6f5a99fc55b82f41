"""A comparison regime's source: the Run its learners read. The default regime is the replication
run itself; another regime has its own folder OUT/REGIME/source with a stage-1 CNN of the default
design (the run's net and solver, only max_iter and the training images differ), trained here,
and that CNN's stored scores of its training images (the CRF learners' input, chains one per
image). Finished stages and written scores are kept on a rerun, like the run's own."""
from pathlib import Path

from data import read_split
from data.hdf5 import write_split
from nets import crf
from nets.export import export_model, training_scale
from nets.prototxt import solver, train_net
from nets.scores import ensure_frozen_scores

from ..run_source import Run
from ..stages import run_stage


def regime_run(run, regime, folder):
    """The Run of a regime (experiments.scales.Regime) built on the replication run `run`, its own
    files under `folder` (made here) unless the regime is the run's own."""
    if regime.cnn_iterations is None:
        return run
    folder = Path(folder)
    data = run.data_dir if regime.train_images is None else first_images(run.data_dir, regime.train_images,
                                                                          folder / "data")
    iters = list(run.settings["iters"])
    iters[0], iters[1] = regime.cnn_iterations, regime.gibbs  # stage 1 here; Gibbs ML's separate budget
    settings = {**run.settings, "train": regime.train_images or run.settings["train"], "data": str(data),
                "iters": iters}
    own = Run(folder, settings, stages=("cnn",))
    train_cnn(own)
    ensure_frozen_scores(own.model("cnn"), own.data_dir / "train.txt", own.scores)
    return own


def first_images(data_dir, count, out):
    """A training split of the first `count` images of data_dir's (indices 0..count-1) in `out`."""
    listed = out / "train.txt"
    if not listed.exists():
        out.mkdir(parents=True, exist_ok=True)
        train = read_split(Path(data_dir) / "train.txt")
        if len(train["depth"]) < count:
            raise ValueError(f"{data_dir} holds {len(train['depth'])} training images, fewer than {count}")
        write_split(out / "train.h5", train["depth"][:count], train["label"][:count])
        meta = Path(data_dir) / "meta.json"  # the training scale a model records (focal length)
        if meta.exists():
            (out / "meta.json").write_text(meta.read_text())
        listed.write_text(f"{(out / 'train.h5').resolve()}\n")
    return out


def cnn_files(run):
    """(train net text, solver text) of the regime's stage 1: the run's design, its own data and steps."""
    s = run.settings
    net = run.folder / "prototxt" / "train_cnn.prototxt"
    text = train_net("cnn", run.data_dir, None, s["batch_size"], crf.config(s["edges"], s["train"], seed=s["seed"]))
    return net, text, solver("cnn", str(net), s["iters"][0], run.folder / "snapshots", s["snapshot_every"])


def train_cnn(run):
    """Stage 1 into run.folder (prototxt, snapshots, logs), exported as models/cnn.caffemodel."""
    net, net_text, solver_text = cnn_files(run)
    for sub in ("prototxt", "snapshots", "logs", "models"):
        (run.folder / sub).mkdir(parents=True, exist_ok=True)
    net.write_text(net_text)
    solver_file = run.folder / "prototxt" / "solver_cnn.prototxt"
    solver_file.write_text(solver_text)
    final = run_stage("cnn", solver_file, run.settings["iters"][0], run.folder / "snapshots", run.log("cnn"))
    export_model([final], run.model("cnn"), training_scale(run.data_dir / "train.txt"))


def describe(regime):
    """What a regime is, in a few words, for the report."""
    if regime.cnn_iterations is None:
        return "the replication run's stage-1 CNN and Gibbs ML models"
    images = f"the first {regime.train_images} training images" if regime.train_images else "all training images"
    return (f"stage 1 of the default design for {regime.cnn_iterations} steps on {images}; every CRF learner "
            f"(Gibbs ML: {regime.gibbs} steps) on its scores of those images")
