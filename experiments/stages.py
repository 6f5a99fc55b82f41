"""Run one training stage through `.venv/bin/caffe train`, resumably, with a progress bar.

Caffe writes a snapshot pair (.caffemodel, then .solverstate) in place, so a kill or a full
disk can leave the latest pair half-written. A pair is used (to resume, or as a finished
stage) only when both files parse and agree: the solver state's iteration and learned-net file
are this pair's, and its first history blobs have the shapes of the model's parameters, which a
file cut short at any point fails. A broken latest pair is skipped, saying so, for the one before.

A resumed stage continues bit for bit as if never stopped: HDF5Data reads its source in order
(no shuffle: the nets' own) and restarts at row 0 on `-snapshot`, which is where it is after
whole epochs, and the solvers snapshot only there (nets.prototxt); a snapshot at any other
iteration (Caffe writes one when a signal stops it) is never resumed from. Adam's history, the
iteration and the chain store (a parameter blob, its random streams keyed by per-image sweep
counters) are in the snapshot.
"""
import os
import re
import signal
import subprocess
import sys
from collections import deque
from pathlib import Path

from tqdm import tqdm

from nets.weights import ModelError, blob_array, read_netparameter

from . import cli

REPO = Path(__file__).resolve().parents[1]  # the checkout: runs use its .venv/bin/caffe
CAFFE = REPO / ".venv" / "bin" / "caffe"
ITERATION = re.compile(r"\] Iteration (\d+)")


class StageError(cli.Failed):
    """`caffe train` failed; the message names the stage and its log."""


# the earlier stages whose final snapshots a stage starts from (the stages on stored scores also
# need stage 1's, whose scores they read)
EARLIER = {"cnn": (), "separate": ("cnn",), "joint": ("cnn", "separate"), "gated_separate": ("cnn", "separate"),
           "gated_joint": ("cnn", "gated_separate")}


def start_weights(stage, final, snapshots, tables, reused=False, start_name="gated_start.caffemodel"):
    """The -weights a stage starts from, given the earlier stages' final snapshots {stage: path}:
    none for stages 1 and 2, stage 1's and 2's (or the gated stage's) for the end-to-end stages,
    and for the gated separate stage the separate stage's tables (and chains) as K tables
    (nets.export.gated_start, written into snapshots/start_name unless the stage has finished:
    reused)."""
    from nets.export import gated_start

    if stage == "joint":
        return [final["cnn"], final["separate"]]
    if stage == "gated_separate":
        start = snapshots / start_name
        if not reused:
            gated_start(final["separate"], tables, start)
        return [start]
    if stage == "gated_joint":
        return [final["cnn"], final["gated_separate"]]
    return None


def snapshot_path(snapshots, stage, iteration, ext="caffemodel"):
    return Path(snapshots) / f"{stage}_iter_{iteration}.{ext}"


def pair_problem(snapshots, stage, iteration):
    """Why the snapshot pair of this iteration cannot be used, or None when it can."""
    from caffe.proto import caffe_pb2
    from google.protobuf.message import DecodeError

    model, state_file = (snapshot_path(snapshots, stage, iteration, ext) for ext in ("caffemodel", "solverstate"))
    try:
        params = [blob_array(b).shape for layer in read_netparameter(model, finite=False).layer for b in layer.blobs]
        state = caffe_pb2.SolverState()
        state.ParseFromString(state_file.read_bytes())
    except (ModelError, DecodeError, OSError) as e:
        return str(e)
    if state.iter != iteration or Path(state.learned_net).name != model.name:
        return f"{state_file.name} belongs to iteration {state.iter} ({state.learned_net})"
    history = [blob_array(b).shape for b in state.history[:len(params)]]
    if history != params:
        return f"{state_file.name} does not match {model.name} (cut short?)"
    return None


def snapshot_iterations(snapshots, stage, ext):
    """Iterations of the plain files in snapshots named exactly as Caffe names this stage's
    snapshots (STAGE_iter_N.ext, N as Caffe prints it); any other name is someone else's."""
    name = re.compile(re.escape(f"{stage}_iter_") + r"(0|[1-9][0-9]*)" + re.escape(f".{ext}"))
    paths = list(Path(snapshots).iterdir()) if Path(snapshots).is_dir() else []
    return sorted(int(m.group(1)) for p in paths
                  if (m := name.fullmatch(p.name)) and p.is_file() and not p.is_symlink())


def resume_point(snapshots, stage, every=1):
    """The solver state of the latest usable snapshot pair of this stage at a multiple of `every`
    (the solver's snapshot interval: whole epochs), or None."""
    for iteration in reversed(snapshot_iterations(snapshots, stage, "solverstate")):
        if iteration % every:
            print(f"stage {stage}: not resuming from iteration {iteration}, between the snapshot interval's "
                  f"({every}: whole epochs, where the data order restarts)", file=sys.stderr)
            continue
        problem = pair_problem(snapshots, stage, iteration)
        if problem is None:
            return snapshot_path(snapshots, stage, iteration, "solverstate")
        print(f"stage {stage}: the snapshot of iteration {iteration} is unusable ({problem}); "
              f"trying the one before", file=sys.stderr)
    return None


def finished(snapshots, stage, max_iter):
    """True when the stage's final snapshot pair exists and is usable."""
    return (snapshot_path(snapshots, stage, max_iter).exists()
            and pair_problem(snapshots, stage, max_iter) is None)


def run_stage(stage, solver, max_iter, snapshots, log, weights=None):
    """Train one stage unless it has finished; resume from its last usable snapshot pair, or
    start from `weights` (a list of .caffemodels, each giving the layers it holds).

    Returns the final .caffemodel. Caffe's output goes to `log` (appended on resume).
    """
    final = snapshot_path(snapshots, stage, max_iter)
    if finished(snapshots, stage, max_iter):
        return final
    every = check_solver(solver)
    # A signal stops Caffe without its default SIGHUP snapshot-and-go-on (it still snapshots on stopping).
    command = [str(CAFFE), "train", "-solver", str(solver), "-sigint_effect", "stop", "-sighup_effect", "stop"]
    resume = resume_point(snapshots, stage, every)
    if resume is not None:
        command += ["-snapshot", str(resume)]
    elif weights:
        command += ["-weights", ",".join(str(w) for w in weights)]
    Path(snapshots).mkdir(parents=True, exist_ok=True)
    # Caffe's own log is the stage's record and our progress source, whatever this process set;
    # to stderr only, so that the log in the run folder is its one copy (glog would also write one
    # file per run into /tmp, never removed).
    env = {**os.environ, "GLOG_minloglevel": "0", "GLOG_logtostderr": "1"}
    with open(log, "a", buffering=1) as out, tqdm(total=max_iter, desc=f"stage {stage}", unit="it") as bar:
        out.write(f"$ {' '.join(command)}\n")
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        last = deque(maxlen=5)
        for line in proc.stdout:
            out.write(line)
            last.append(line)
            if (m := ITERATION.search(line)) and int(m.group(1)) != bar.n:  # Caffe logs each twice
                bar.n = int(m.group(1))
                bar.refresh()
        code = proc.wait()
    if code != 0 or not finished(snapshots, stage, max_iter):
        raise StageError(f"stage {stage}: {failure(code, bar.n, max_iter)}; see {log}; it ended with:\n"
                         f"{''.join(last)}")
    prune_snapshots(snapshots, stage, max_iter)
    return final


def check_solver(solver):
    """The solver's snapshot interval, after checking the labels of every HDF5Data source its nets
    read (Caffe's losses index with them unchecked: out-of-bounds reads or a crash)."""
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format

    from data.hdf5 import check_labels

    params = text_format.Parse(Path(solver).read_text(), caffe_pb2.SolverParameter())
    for net_file in [params.net, *params.test_net]:  # the train net and the test nets (validation)
        net = text_format.Parse((REPO / net_file).read_text(), caffe_pb2.NetParameter())  # caffe runs in REPO
        for layer in net.layer:
            if layer.type == "HDF5Data" and "label" in layer.top:
                check_labels(REPO / layer.hdf5_data_param.source)
    return params.snapshot or params.max_iter


def failure(code, iteration, max_iter):
    """What stopped `caffe train`, from its exit status."""
    if code < 0:
        return f"caffe train was killed by {signal.Signals(-code).name} at iteration {iteration} of {max_iter}"
    if code == 0:  # Caffe's SIGINT / SIGHUP handler snapshots and exits cleanly
        return (f"caffe train stopped at iteration {iteration} of {max_iter} without its final snapshot "
                f"(interrupted: Caffe snapshots and exits 0 on SIGINT or SIGHUP); run again to resume")
    return f"caffe train failed (exit status {code}) at iteration {iteration} of {max_iter}"


def prune_snapshots(snapshots, stage, max_iter):
    """Drop a finished stage's resume points (each holds the chain store): the files Caffe wrote."""
    for ext in ("caffemodel", "solverstate"):
        for iteration in snapshot_iterations(snapshots, stage, ext):
            if iteration < max_iter:
                snapshot_path(snapshots, stage, iteration, ext).unlink()
