"""The solvers' test nets (validation while `caffe train` runs): Caffe's "Test net output #0:
accuracy" is exactly tools/eval.py's body-part accuracy of the same weights on the same
validation images (the CNN's argmax; the CRF's Gibbs labelling with the test nets' settings:
Gibbs streams are keyed by each image's scores, so the test net and eval draw the same
samples), the test net sees the trained parameters (Caffe shares them by layer name only when
blob counts and shapes agree: the CRF layer's chain store included), and the log parser reads
real caffe output."""
import os
import subprocess

import numpy as np
import pytest

from conftest import REPO

prototxt = pytest.importorskip("nets.prototxt", reason="pycaffe not importable: run `make setup` first")
DEFAULT_EDGES = pytest.importorskip("nets.crf").DEFAULT_EDGES

pytestmark = [pytest.mark.caffe]

IMAGES, VAL, HEIGHT, WIDTH, ITERS = 4, 8, 24, 32, 4
# Caffe logs 6 significant digits; one body pixel of the split moves the accuracy by about 1e-3,
# so agreement within this means the same counts
PRINTED = 1e-6


def caffe_train(caffe_bin, solver, *flags):
    """`caffe train`'s log (glog on stderr, as experiments.stages runs it)."""
    run = subprocess.run([str(caffe_bin), "train", "-solver", str(solver), *map(str, flags)], cwd=REPO,
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GLOG_minloglevel": "0", "GLOG_logtostderr": "1"})
    assert run.returncode == 0, run.stderr[-4000:]
    return run.stderr


@pytest.fixture(scope="module")
def trained(caffe_bin, tmp_path_factory):
    """Stages 1 and 2 for ITERS iterations each, tested after every one (rates large enough that
    theta moves the labelling); the validation split from the run's own generator."""
    import data
    from experiments.run_folder import validation_set
    from nets.scores import frozen_scores

    root = tmp_path_factory.mktemp("testnets")
    data.make_dataset(root / "data", train=IMAGES, test=1, height=HEIGHT, width=WIDTH, seed=0)
    val, _ = validation_set(root / "data", HEIGHT, WIDTH, images=VAL)
    snap = root / "snap"
    snap.mkdir()
    paths = prototxt.write(root / "prototxt", data=root / "data", scores=root / "scores", num_images=IMAGES,
                           height=HEIGHT, width=WIDTH, batch_size=IMAGES, edges=DEFAULT_EDGES, seed=0,
                           iters=(ITERS,) * 5, snapshots=snap, base_lr={"cnn": 1e-2, "separate": 0.3},
                           validation=val, validation_scores=root / "scores-val", validation_images=VAL)
    logs = {"cnn": caffe_train(caffe_bin, paths["solver_cnn.prototxt"])}
    cnn = snap / f"cnn_iter_{ITERS}.caffemodel"
    frozen_scores(cnn, root / "data" / "train.txt", root / "scores")
    frozen_scores(cnn, val / "test.txt", root / "scores-val")
    logs["separate"] = caffe_train(caffe_bin, paths["solver_separate.prototxt"])
    return {"root": root, "val": val, "paths": paths, "logs": logs, "cnn": cnn,
            "separate": snap / f"separate_iter_{ITERS}.caffemodel"}


def eval_accuracy(trained, stage, snapshots, **inference):
    """tools/eval.py's body-part accuracy (experiments.evaluation.evaluate) of the exported model."""
    from experiments.evaluation import evaluate
    from nets.export import export_model, training_scale

    root = trained["root"]
    model = root / f"{stage}.caffemodel"
    export_model(snapshots, model, training_scale(root / "data" / "train.txt"))
    deploy = trained["paths"]["deploy_cnn.prototxt" if stage == "cnn" else "deploy_crf.prototxt"]
    return evaluate(deploy, model, trained["val"] / "test.txt", **inference)["part_accuracy"]


def test_the_cnn_test_net_is_evals_accuracy_and_the_parser_reads_every_test(trained):
    from experiments.caffe_log import training_curve, validation_curve

    curve = validation_curve(trained["logs"]["cnn"])
    assert [i for i, _ in curve] == list(range(1, ITERS + 1))  # test_interval 1, the last at max_iter
    assert training_curve(trained["logs"]["cnn"])
    expected = eval_accuracy(trained, "cnn", [trained["cnn"]], inference="cnn")
    assert curve[-1][1] == pytest.approx(expected, abs=PRINTED)


def test_the_crf_test_net_sees_the_trained_theta_and_is_evals_accuracy(trained):
    from experiments.caffe_log import validation_curve

    curve = validation_curve(trained["logs"]["separate"])
    assert [i for i, _ in curve] == list(range(1, ITERS + 1))
    # the CNN is frozen and Gibbs keyed by the scores: with a fresh (zero) theta every test would agree
    assert len({value for _, value in curve}) > 1
    g = prototxt.VALIDATION_GIBBS
    expected = eval_accuracy(trained, "separate", [trained["cnn"], trained["separate"]], inference="gibbs",
                             burn_in=g["burn_in"], samples=g["samples"], seed=0)
    assert curve[-1][1] == pytest.approx(expected, abs=PRINTED)


def test_a_gated_test_net_shares_every_trained_parameter_by_name(trained, pycaffe):
    """Caffe's Solver shares the train net's blobs (theta, offsets, chain store, the pairwise
    branch) with the test net at a test, as memory: what the solver learns later is seen too."""
    solver = pycaffe.get_solver(str(trained["paths"]["solver_gated_separate.prototxt"]))
    solver.step(2)  # test_interval 1: tested at iteration 1
    train, test = solver.net.params, solver.test_nets[0].params
    assert set(test) <= set(train) and {"crf", "gate_depth", "gate_logits"} <= set(test)
    for name in test:
        assert len(test[name]) == len(train[name])
        for ours, theirs in zip(test[name], train[name]):
            assert np.array_equal(ours.data, theirs.data)
    assert np.abs(test["crf"][0].data).max() > 0  # the trained theta, not the zero of a fresh layer
    train["crf"][0].data[...] = 0.25
    assert (test["crf"][0].data == 0.25).all()


def test_test_interval_gives_a_handful_of_tests_ending_at_max_iter():
    from experiments.scales import SCALES

    for scale in SCALES.values():
        for iterations in scale.iters:
            interval = prototxt.test_interval(iterations)
            assert 3 <= iterations // interval <= 6
            assert iterations % interval == 0


def test_the_validation_layer_needs_the_chain_stores_size(tmp_path):
    from layers.params import ParamError
    from nets import crf

    with pytest.raises(ParamError, match="'num_images'"):
        crf.validation_layer(None, {k: v for k, v in crf.config().items() if k != "num_images"},
                             prototxt.VALIDATION_GIBBS)
