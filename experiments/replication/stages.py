"""Run one training stage through `.venv/bin/caffe train`, resumably, with a progress bar."""
import os
import re
import subprocess
from collections import deque
from pathlib import Path

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[2]  # the checkout: runs use its .venv/bin/caffe
CAFFE = REPO / ".venv" / "bin" / "caffe"
ITERATION = re.compile(r"\] Iteration (\d+)")


class StageError(RuntimeError):
    """`caffe train` failed; the message names the stage and its log."""


def snapshot_path(snapshots, stage, iteration, ext="caffemodel"):
    return Path(snapshots) / f"{stage}_iter_{iteration}.{ext}"


def latest_solverstate(snapshots, stage):
    """The solver state with the highest iteration of this stage, or None."""
    states = Path(snapshots).glob(f"{stage}_iter_*.solverstate")
    found = [(int(p.stem.rsplit("_", 1)[1]), p) for p in states]
    return max(found)[1] if found else None


def run_stage(stage, solver, max_iter, snapshots, log, weights=None):
    """Train one stage unless its final snapshot exists; resume from its last solver state.

    Returns the final .caffemodel. Caffe's output goes to `log` (appended on resume).
    """
    final = snapshot_path(snapshots, stage, max_iter)
    if final.exists():
        return final
    command = [str(CAFFE), "train", "-solver", str(solver)]
    resume = latest_solverstate(snapshots, stage)
    if resume is not None:
        command += ["-snapshot", str(resume)]
    elif weights is not None:
        command += ["-weights", str(weights)]
    Path(snapshots).mkdir(parents=True, exist_ok=True)
    # Caffe's own log is the stage's record and our progress source, whatever this process set.
    env = {**os.environ, "GLOG_minloglevel": "0"}
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
        if proc.wait() != 0 or not final.exists():
            raise StageError(f"stage {stage}: caffe train failed (exit {proc.returncode}); see {log}; "
                             f"it ended with:\n{''.join(last)}")
    prune_snapshots(snapshots, stage, max_iter)
    return final


def prune_snapshots(snapshots, stage, max_iter):
    """Drop a finished stage's resume points (each holds the chain store, ~155 MB at default)."""
    for path in Path(snapshots).glob(f"{stage}_iter_*"):
        if int(path.name.split("_iter_")[1].split(".")[0]) < max_iter:
            path.unlink()
