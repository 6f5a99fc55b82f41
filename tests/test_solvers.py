"""The training stages under `caffe train`, as a user runs them, on a tiny dataset: the CNN
learns in stage 1, only theta in stage 2 (on the scores the stage-1 CNN computed once, bit for
bit what that CNN outputs), both in stage 3; chains and theta carry over between stages and
survive a snapshot + resume; the image-dependent stages 4 (branch and K tables, from stage 2's
tables and chains, tools/gated_start.py) and 5 (everything) learn what they should."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import data
import sampler
from conftest import REPO
from data.labels import NUM_LABELS

prototxt = pytest.importorskip("nets.prototxt", reason="pycaffe not importable: run `make setup` first")
DEFAULT_EDGES = pytest.importorskip("nets.crf").DEFAULT_EDGES

pytestmark = [pytest.mark.caffe, pytest.mark.slow]

IMAGES, HEIGHT, WIDTH = 4, 24, 32
ITERS = {"cnn": 3, "separate": 4, "joint": 2, "gated_separate": 2, "gated_joint": 2}


def caffemodel_blobs(path):
    """{layer name: [arrays]} of a .caffemodel, read without building a net."""
    from caffe.proto import caffe_pb2

    net = caffe_pb2.NetParameter()
    net.ParseFromString(Path(path).read_bytes())
    return {layer.name: [np.array(b.data, np.float32).reshape(tuple(b.shape.dim)) for b in layer.blobs]
            for layer in net.layer if layer.blobs}


def train(caffe_bin, cwd, solver, *flags):
    run = subprocess.run([str(caffe_bin), "train", "-solver", str(solver), *flags], cwd=cwd,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "GLOG_minloglevel": "1"})
    assert run.returncode == 0, run.stderr[-4000:]
    return run


@pytest.fixture(scope="module")
def stages(caffe_bin, tmp_path_factory):
    """Runs stage 1, stage 2 (snapshots at 2 and 4), stage 2 resumed from 2, stage 3."""
    root = tmp_path_factory.mktemp("solvers")
    data.make_dataset(root / "data", train=IMAGES, test=1, height=HEIGHT, width=WIDTH, seed=0)
    # batch = whole training set: a resumed run sees the same images per iteration as an
    # uninterrupted one, whatever the shuffle order, so the two can be compared bit for bit
    paths = prototxt.write(root / "prototxt", data=root / "data", scores=root / "scores", num_images=IMAGES,
                           height=HEIGHT, width=WIDTH, batch_size=IMAGES, edges=DEFAULT_EDGES, seed=0,
                           iters=tuple(ITERS.values()), snapshots=root / "snap")
    (root / "snap").mkdir()
    separate = paths["solver_separate.prototxt"]
    text = separate.read_text()
    separate.write_text(text.replace("snapshot: 4", "snapshot: 2"))
    resumed = root / "prototxt" / "solver_resumed.prototxt"
    resumed.write_text(separate.read_text().replace("snap/separate", "snap/resumed"))

    snap = root / "snap"
    train(caffe_bin, root, paths["solver_cnn.prototxt"])
    scores = subprocess.run([sys.executable, str(REPO / "tools" / "frozen_scores.py"), "--weights",
                             str(snap / "cnn_iter_3.caffemodel"), "--data", str(root / "data" / "train.txt"),
                             "--out", str(root / "scores")], capture_output=True, text=True)
    assert scores.returncode == 0, scores.stderr
    train(caffe_bin, root, separate)
    train(caffe_bin, root, resumed, "-snapshot", snap / "separate_iter_2.solverstate")
    train(caffe_bin, root, paths["solver_joint.prototxt"], "-weights",
          f"{snap / 'cnn_iter_3.caffemodel'},{snap / 'separate_iter_4.caffemodel'}")
    start = subprocess.run([sys.executable, str(REPO / "tools" / "gated_start.py"), str(snap / "separate_iter_4.caffemodel"),
                            "--tables", "2", "--out", str(snap / "gated_start.caffemodel")], capture_output=True, text=True)
    assert start.returncode == 0, start.stderr
    train(caffe_bin, root, paths["solver_gated_separate.prototxt"], "-weights", snap / "gated_start.caffemodel")
    train(caffe_bin, root, paths["solver_gated_joint.prototxt"], "-weights",
          f"{snap / 'cnn_iter_3.caffemodel'},{snap / 'gated_separate_iter_2.caffemodel'}")
    return {"paths": paths, "snap": snap, "root": root}


def test_stage2_learns_on_exactly_the_stage1_cnns_scores(stages, pycaffe):
    import h5py

    root = stages["root"]
    assert list(caffemodel_blobs(stages["snap"] / "separate_iter_4.caffemodel")) == ["crf"]  # no CNN to change
    net = pycaffe.Net(str(stages["paths"]["deploy_cnn.prototxt"]), str(stages["snap"] / "cnn_iter_3.caffemodel"),
                      pycaffe.TEST)
    train_set = data.read_split(root / "data" / "train.txt")
    parts = (root / "scores" / "train.txt").read_text().split()
    with h5py.File(parts[0], "r") as f:
        stored, label, index = f["scores"][()], f["label"][()], f["index"][()]
    assert len(parts) == 1 and len(stored) == IMAGES
    for i in range(IMAGES):
        net.blobs["depth"].data[...] = train_set["depth"][i]
        assert np.array_equal(net.forward(end="scores")["scores"][0], stored[i])
    assert np.array_equal(label[:, 0], train_set["label"]) and np.array_equal(index, train_set["index"])


def test_stage2_learns_theta(stages):
    separate = caffemodel_blobs(stages["snap"] / "separate_iter_4.caffemodel")
    theta, offsets, chains = separate["crf"]
    assert offsets.tolist() == sampler.parse_edges(DEFAULT_EDGES).tolist()
    assert theta.min() < 0 < theta.max()  # pairs the samples overproduce are pushed down, others up
    _, steps = sampler.ChainStore.decode_rows(chains, HEIGHT, WIDTH, NUM_LABELS)
    assert steps.tolist() == [ITERS["separate"]] * IMAGES  # every image swept once per iteration


def test_resume_continues_theta_and_chains_exactly(stages):
    straight = caffemodel_blobs(stages["snap"] / "separate_iter_4.caffemodel")["crf"]
    resumed = caffemodel_blobs(stages["snap"] / "resumed_iter_4.caffemodel")["crf"]
    halfway = caffemodel_blobs(stages["snap"] / "separate_iter_2.caffemodel")["crf"]
    assert not np.array_equal(halfway[0], straight[0])
    assert np.array_equal(resumed[0], straight[0])
    assert np.array_equal(resumed[2], straight[2])


def test_stage3_learns_everything_from_stages_1_and_2(stages):
    cnn = caffemodel_blobs(stages["snap"] / "cnn_iter_3.caffemodel")
    separate = caffemodel_blobs(stages["snap"] / "separate_iter_4.caffemodel")
    joint = caffemodel_blobs(stages["snap"] / "joint_iter_2.caffemodel")
    assert set(joint) == set(cnn) | {"crf"}
    assert not np.array_equal(separate["crf"][0], joint["crf"][0])
    assert not np.array_equal(cnn["conv1"][0], joint["conv1"][0])
    _, steps = sampler.ChainStore.decode_rows(joint["crf"][2], HEIGHT, WIDTH, NUM_LABELS)
    assert steps.tolist() == [ITERS["separate"] + ITERS["joint"]] * IMAGES  # chains carried over


def test_gated_stage_starts_as_stage_2_and_learns_its_branch_and_tables(stages):
    """The start holds stage 2's theta as K equal tables and its chains; stage 4 goes on with the
    chains, makes the tables differ and moves the branch; stage 5 moves the CNN too."""
    snap = stages["snap"]
    separate = caffemodel_blobs(snap / "separate_iter_4.caffemodel")["crf"]
    start = caffemodel_blobs(snap / "gated_start.caffemodel")
    assert list(start) == ["crf"]
    assert start["crf"][0].shape == (len(separate[0]), 2) + separate[0].shape[1:]
    assert all(np.array_equal(start["crf"][0][:, k], separate[0]) for k in range(2))
    assert np.array_equal(start["crf"][1], separate[1]) and np.array_equal(start["crf"][2], separate[2])
    gated = caffemodel_blobs(snap / "gated_separate_iter_2.caffemodel")
    assert {"gate_depth", "gate_logits", "crf"} <= set(gated) and "conv1" not in gated  # the CNN stays frozen
    theta = gated["crf"][0]
    assert not np.array_equal(theta[:, 0], theta[:, 1])
    _, steps = sampler.ChainStore.decode_rows(gated["crf"][2], HEIGHT, WIDTH, NUM_LABELS)
    assert steps.tolist() == [ITERS["separate"] + ITERS["gated_separate"]] * IMAGES  # stage 2's chains, continued
    joint = caffemodel_blobs(snap / "gated_joint_iter_2.caffemodel")
    cnn = caffemodel_blobs(snap / "cnn_iter_3.caffemodel")
    assert not np.array_equal(joint["conv1"][0], cnn["conv1"][0])
    assert not np.array_equal(joint["gate_logits"][0], gated["gate_logits"][0])


@pytest.mark.parametrize("deploy", ["deploy_cnn.prototxt", "deploy_crf.prototxt", "deploy_gated.prototxt"])
def test_deploy_nets_load_the_exported_model(stages, pycaffe, deploy, tmp_path):
    from nets.export import export_model

    weights = tmp_path / "joint.caffemodel"
    stage = "gated_joint" if deploy == "deploy_gated.prototxt" else "joint"
    export_model(stages["snap"] / f"{stage}_iter_2.caffemodel", weights)
    net = pycaffe.Net(str(stages["paths"][deploy]), str(weights), pycaffe.TEST)
    depth = np.random.default_rng(0).uniform(1.5, 6.0, (1, 1, HEIGHT, WIDTH))
    net.blobs["depth"].data[...] = depth
    out = net.forward()
    assert out["prediction"].shape == (1, 1, HEIGHT, WIDTH)
    if "crf" in net.params:
        assert np.array_equal(net.params["crf"][0].data, caffemodel_blobs(weights)["crf"][0])
        marginals = net.blobs["marginals"].data
        assert np.allclose(marginals.sum(axis=1), 1, atol=1e-5)
        chosen = np.take_along_axis(marginals, out["prediction"].astype(int), axis=1)
        assert (chosen[:, 0] == marginals.max(axis=1)).all()  # Caffe's ArgMax breaks ties its own way


@pytest.mark.parametrize("num_images, edges, message", [
    (IMAGES - 1, DEFAULT_EDGES,
     "BlobError: GibbsCRFLoss: bottom[2] (index, chain store of num_images=3) holds 3,"),
    (IMAGES, "ring:3", "ParamError: GibbsCRFLoss: param_str key 'edges' must be"),
])
def test_bad_input_stops_caffe_train_with_the_reason(stages, caffe_bin, tmp_path, num_images, edges, message):
    """caffe aborts on any Python exception in a layer; the layer has printed why first."""
    root = stages["snap"].parent
    paths = prototxt.write(tmp_path, data=root / "data", scores=root / "scores", num_images=num_images,
                           height=HEIGHT, width=WIDTH,
                           batch_size=IMAGES, edges=DEFAULT_EDGES, seed=0, iters=tuple(ITERS.values()),
                           snapshots=tmp_path)
    net = paths["train_separate.prototxt"]
    net.write_text(net.read_text().replace(DEFAULT_EDGES, edges))  # past the generator's check
    run = subprocess.run([str(caffe_bin), "train", "-solver", str(paths["solver_separate.prototxt"])],
                         cwd=root, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GLOG_minloglevel": "1"})
    assert run.returncode != 0
    assert message in run.stderr
