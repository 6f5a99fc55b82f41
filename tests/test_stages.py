"""A training stage resumes only from a snapshot pair that is whole, falls back past a broken
one saying so, and a `caffe train` stopped by a signal is reported as such."""
import re
import shutil
import subprocess
import textwrap

import pytest

from experiments.replication import stages

pytestmark = pytest.mark.caffe

NET = textwrap.dedent('''
    layer { name: "x" type: "DummyData" top: "x" dummy_data_param { shape { dim: 2 dim: 3 } } }
    layer { name: "scale" type: "Scale" bottom: "x" top: "y" scale_param { bias_term: true } }
    layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "x" top: "loss" }
''')
SOLVER = 'net: "{net}"\nbase_lr: 0.1\nlr_policy: "fixed"\ntype: "Adam"\nmax_iter: 4\nsnapshot: 2\n' \
         'snapshot_prefix: "{prefix}"\nsolver_mode: CPU\n'


@pytest.fixture(scope="module")
def pairs(caffe_bin, tmp_path_factory):
    """Snapshot pairs of a tiny Adam run at iterations 2 and 4."""
    root = tmp_path_factory.mktemp("stages")
    (root / "net.prototxt").write_text(NET)
    (root / "solver.prototxt").write_text(SOLVER.format(net=root / "net.prototxt", prefix=root / "s"))
    subprocess.run([str(caffe_bin), "train", "-solver", str(root / "solver.prototxt")], cwd=root, check=True,
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
    assert stages.resume_point(snapshots, "s") == snapshots / "s_iter_4.solverstate"
    assert stages.finished(snapshots, "s", 4)


@pytest.mark.parametrize("broken", ["s_iter_4.solverstate", "s_iter_4.caffemodel"])
def test_a_broken_latest_pair_is_skipped_saying_so(snapshots, capsys, broken):
    cut(snapshots / broken)
    assert stages.resume_point(snapshots, "s") == snapshots / "s_iter_2.solverstate"
    assert "iteration 4 is unusable" in capsys.readouterr().err
    assert not stages.finished(snapshots, "s", 4)


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
        stages.run_stage("s", tmp_path / "solver.prototxt", 4, tmp_path / "snap", tmp_path / "log")
