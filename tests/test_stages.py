"""A training stage resumes only from a snapshot pair that is whole and at a whole epoch,
falls back past a broken one saying so, refuses labels Caffe cannot take before it starts, and
a `caffe train` stopped by a signal is reported as such."""
import re
import shutil
import subprocess
import textwrap

import numpy as np
import pytest

from data.errors import DataError
from experiments import stages

pytestmark = pytest.mark.caffe

NET = textwrap.dedent('''
    layer { name: "x" type: "DummyData" top: "x" dummy_data_param { shape { dim: 2 dim: 3 } } }
    layer { name: "scale" type: "Scale" bottom: "x" top: "y" scale_param { bias_term: true } }
    layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "x" top: "loss" }
''')
SOLVER = 'net: "{net}"\nbase_lr: 0.1\nlr_policy: "fixed"\ntype: "Adam"\nmax_iter: {max_iter}\nsnapshot: 2\n' \
         'snapshot_prefix: "{prefix}"\nsolver_mode: CPU\n'


def write_solver(folder, net=NET, max_iter=5):
    (folder / "net.prototxt").write_text(net)
    (folder / "solver.prototxt").write_text(SOLVER.format(net=folder / "net.prototxt", prefix=folder / "s",
                                                          max_iter=max_iter))
    return folder / "solver.prototxt"


@pytest.fixture(scope="module")
def pairs(caffe_bin, tmp_path_factory):
    """Snapshot pairs of a tiny Adam run at iterations 2, 4 and 5 (the final one, between intervals)."""
    root = tmp_path_factory.mktemp("stages")
    subprocess.run([str(caffe_bin), "train", "-solver", str(write_solver(root))], cwd=root, check=True,
                   capture_output=True)
    return root


@pytest.fixture
def snapshots(pairs, tmp_path):
    for path in pairs.glob("s_iter_*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def cut(path):
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) * 2 // 3])


def test_whole_pairs_are_used(snapshots):
    assert stages.pair_problem(snapshots, "s", 4) is None
    assert stages.resume_point(snapshots, "s") == snapshots / "s_iter_5.solverstate"
    assert stages.finished(snapshots, "s", 5)


def test_only_snapshots_at_the_interval_are_resumed_from(snapshots, capsys):
    """Iteration 5 (where a signal would have stopped Caffe) is not at a whole epoch of the data."""
    assert stages.resume_point(snapshots, "s", every=2) == snapshots / "s_iter_4.solverstate"
    assert "not resuming from iteration 5" in capsys.readouterr().err
    assert stages.resume_point(snapshots, "s", every=3) is None


@pytest.mark.parametrize("broken", ["s_iter_5.solverstate", "s_iter_5.caffemodel"])
def test_a_broken_latest_pair_is_skipped_saying_so(snapshots, capsys, broken):
    cut(snapshots / broken)
    assert stages.resume_point(snapshots, "s") == snapshots / "s_iter_4.solverstate"
    assert "iteration 5 is unusable" in capsys.readouterr().err
    assert not stages.finished(snapshots, "s", 5)


def test_a_solver_state_of_another_iteration_is_refused(snapshots):
    shutil.copy(snapshots / "s_iter_2.solverstate", snapshots / "s_iter_4.solverstate")
    assert "belongs to iteration 2" in stages.pair_problem(snapshots, "s", 4)


@pytest.mark.parametrize("script, reason", [
    ("kill -KILL $$", "killed by SIGKILL at iteration 0 of 4"),
    ("exit 0", "stopped at iteration 0 of 4 without its final snapshot (interrupted"),
    ("exit 3", "failed (exit status 3) at iteration 0 of 4"),
])
def test_what_stopped_caffe_is_named(monkeypatch, tmp_path, script, reason):
    fake = tmp_path / "caffe"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(stages, "CAFFE", fake)
    with pytest.raises(stages.StageError, match=re.escape(reason)):
        stages.run_stage("s", write_solver(tmp_path, max_iter=4), 4, tmp_path / "snap", tmp_path / "log")
    assert "-sigint_effect stop -sighup_effect stop" in (tmp_path / "log").read_text()


@pytest.mark.parametrize("value", [20, 255, -1, 1e6, 0.5, np.nan])
def test_labels_caffe_cannot_take_stop_the_stage_before_it_starts(monkeypatch, tmp_path, value):
    """Caffe's losses index with labels unchecked: 20 or 255 train on garbage, -1 or 1e6 crash."""
    import h5py

    label = np.zeros((4, 1, 2, 3), np.float32)
    label[2, 0, 1, 1] = value
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["data"], f["label"] = np.zeros((4, 1, 2, 3), np.float32), label
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'd.h5'}\n")
    net = (f'layer {{ name: "d" type: "HDF5Data" top: "data" top: "label" '
           f'hdf5_data_param {{ source: "{tmp_path / "list.txt"}" batch_size: 2 }} }}\n')
    ran = tmp_path / "caffe ran"
    fake = tmp_path / "caffe"
    fake.write_text(f"#!/bin/sh\ntouch '{ran}'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(stages, "CAFFE", fake)
    with pytest.raises(DataError, match=re.escape(f"d.h5: label holds {value:g};")):
        stages.run_stage("s", write_solver(tmp_path, net), 4, tmp_path / "snap", tmp_path / "log")
    assert not ran.exists() and not (tmp_path / "snap").exists()


def test_whole_epochs_bring_the_data_back_to_its_first_row():
    from nets.prototxt import whole_epochs

    assert whole_epochs(50, 48, 4) == 60  # 12 iterations an epoch
    assert whole_epochs(7, 10, 4) == 10  # 2.5 iterations an epoch: 5 iterations are 2 epochs
    assert whole_epochs(1000, 2000, 8) == 1000


@pytest.mark.parametrize("name", ["tiny", "default", "paper"])
def test_every_scale_snapshots_at_whole_epochs_of_data_read_in_order(name):
    """What makes a resumed stage continue bit for bit (the comparison's solvers take the scale's
    snapshot_every as it is, so it must be whole epochs itself)."""
    from experiments.scales import SCALES, net_options
    from nets import crf, prototxt

    scale = SCALES[name]
    assert scale.snapshot_every * scale.batch_size % scale.train == 0
    files = prototxt.render(data="d", scores="s", edges=crf.DEFAULT_EDGES, seed=0, net_dir="n", snapshots="p",
                            snapshot_every=scale.snapshot_every, **net_options(scale))
    for stage in ("cnn", "separate", "joint"):
        assert "shuffle" not in files[f"train_{stage}.prototxt"]
        every = int(re.search(r"\nsnapshot: (\d+)", files[f"solver_{stage}.prototxt"]).group(1))
        assert every == min(scale.snapshot_every, scale.stage_iters(stage))
