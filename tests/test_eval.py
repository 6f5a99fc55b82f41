"""tools/eval.py and data.metrics: figures against hand-computed answers, clean failures."""
import json
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from conftest import REPO, tool_main
from data import metrics

BG = 19


def test_confusion_and_summary_match_hand_computation():
    # 2 images x 4 pixels, labels 0, 1 and background 2.
    truth = np.array([[0, 0, 1, 2], [1, 1, 2, 2]])
    pred = np.array([[0, 1, 1, 2], [1, 0, 2, 0]])
    conf = metrics.confusion(truth, pred, 3)
    np.testing.assert_array_equal(conf, [[1, 1, 0], [1, 2, 0], [1, 0, 2]])
    s = metrics.summarise(conf, background=2)
    assert s["part_accuracy"] == pytest.approx(3 / 5)       # parts: 5 pixels, 3 right
    assert s["pixel_accuracy"] == pytest.approx(5 / 8)
    assert s["per_class_accuracy"] == pytest.approx([1 / 2, 2 / 3, 2 / 3])
    assert s["mean_class_accuracy"] == pytest.approx((1 / 2 + 2 / 3 + 2 / 3) / 3)
    # IoU: tp / (row + col - tp) = 1/(2+3-1), 2/(3+3-2), 2/(3+2-2)
    assert s["mean_iou"] == pytest.approx((1 / 4 + 2 / 4 + 2 / 3) / 3)
    correct, total = metrics.per_image_part_counts(truth, pred, background=2)
    np.testing.assert_array_equal(correct, [2, 1])
    np.testing.assert_array_equal(total, [3, 2])


def test_absent_class_is_none_and_excluded_from_means():
    s = metrics.summarise(metrics.confusion([0, 0, 2], [0, 1, 2], 3), background=2)
    assert s["per_class_accuracy"][1] is None
    assert s["mean_class_accuracy"] == pytest.approx((1 / 2 + 1) / 2)


def test_confusion_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match="pred"):
        metrics.confusion([0, 1], [0, 3], 3)


def test_bootstrap_interval_covers_estimate_and_shrinks_with_images():
    rng = np.random.default_rng(1)
    totals = rng.integers(50, 100, size=400)
    correct = rng.binomial(totals, 0.7)
    lo, hi = metrics.bootstrap_ratio_ci(correct, totals)
    assert lo < correct.sum() / totals.sum() < hi
    lo4, hi4 = metrics.bootstrap_ratio_ci(correct[:25], totals[:25])
    assert hi4 - lo4 > 2 * (hi - lo)     # 16x fewer images: about 4x wider


# A deploy "net" whose scores ignore the depth: a 1x1 convolution with zero weights and a
def test_score_splits_body_pixels_by_depth_reading_and_counts_mirror_swaps():
    from data.labels import MIRROR, NAMES
    from experiments.evaluation import score

    arm_l, arm_r, head = NAMES.index("arm0L"), NAMES.index("arm0R"), NAMES.index("head")
    assert MIRROR[arm_l] == arm_r
    truth = np.array([[[arm_l, arm_l, head, BG], [head, arm_r, BG, BG]]])
    preds = np.array([[[arm_r, arm_l, head, BG], [BG, arm_r, BG, head]]])
    depth = np.array([[[2.0, 6.0, 6.0, 6.0], [2.5, 3.0, 6.0, 6.0]]], np.float32)  # 6 m: no reading
    r = score(truth, preds, depth)
    assert r["part_accuracy"] == pytest.approx(3 / 5)
    assert (r["part_pixels_valid_depth"], r["part_pixels_dropped_depth"]) == (3, 2)
    assert r["part_accuracy_valid_depth"] == pytest.approx(1 / 3)  # arm_l -> arm_r wrong, head -> BG wrong
    assert r["part_accuracy_dropped_depth"] == pytest.approx(2 / 2)
    assert r["left_right_swaps"] == pytest.approx(1 / 5)


# bias that makes label 0 (head) win everywhere, so every figure follows from the truth alone.
NET = textwrap.dedent('''
    name: "constant"
    layer { name: "depth" type: "Input" top: "depth"
            input_param { shape { dim: 1 dim: 1 dim: 6 dim: 8 } } }
    layer { name: "score" type: "Convolution" bottom: "depth" top: "scores"
            convolution_param { num_output: 20 kernel_size: 1
                                weight_filler { type: "constant" value: 0 } } }
''')


@pytest.fixture
def constant_model(pycaffe, tmp_path):
    from nets.export import export_model

    model = tmp_path / "deploy.prototxt"
    model.write_text(NET)
    net = pycaffe.Net(str(model), pycaffe.TEST)
    net.params["score"][1].data[...] = 0
    net.params["score"][1].data[0] = 1
    net.save(str(tmp_path / "net.caffemodel"))
    weights = tmp_path / "w.caffemodel"
    export_model(tmp_path / "net.caffemodel", weights, {"height": 6, "width": 8})  # a model records its scale
    rng = np.random.default_rng(0)
    label = rng.choice([0, 3, BG], size=(5, 1, 6, 8), p=[0.3, 0.3, 0.4]).astype(np.float32)
    with h5py.File(tmp_path / "test.h5", "w") as f:
        f["depth"] = rng.uniform(1, 6, size=label.shape).astype(np.float32)
        f["label"] = label
        f["index"] = np.arange(5, dtype=np.float32)
    (tmp_path / "test.txt").write_text(f"{tmp_path / 'test.h5'}\n")
    return model, weights, tmp_path / "test.txt", label[:, 0].astype(int)


@pytest.mark.caffe
def test_eval_end_to_end_on_a_constant_net(constant_model, tmp_path):
    model, weights, data, truth = constant_model
    out = tmp_path / "eval.json"
    code = tool_main("eval")(["--model", str(model), "--weights", str(weights), "--data", str(data),
                           "--batch-size", "2", "--json", str(out),
                           "--save-predictions", str(tmp_path / "pred")])
    assert code == 0
    report = json.loads(out.read_text())
    parts = truth != BG
    assert report["part_accuracy"] == pytest.approx((truth == 0).sum() / parts.sum())
    assert report["pixel_accuracy"] == pytest.approx((truth == 0).mean())
    assert np.array(report["confusion"])[:, 0].sum() == truth.size
    lo, hi = report["part_accuracy_ci"]
    assert lo <= report["part_accuracy"] <= hi
    assert report["images"] == 5 and report["images_per_second"] > 0
    assert (np.load(tmp_path / "pred" / "predictions.npy") == 0).all()


@pytest.mark.caffe
@pytest.mark.parametrize("broken", ["model", "weights", "data"])
def test_missing_paths_fail_with_one_line_and_status_2(constant_model, tmp_path, broken):
    model, weights, data, _ = constant_model
    paths = {"model": model, "weights": weights, "data": data}
    paths[broken] = tmp_path / "nope"
    run = subprocess.run([sys.executable, str(REPO / "tools" / "eval.py"),
                          "--model", str(paths["model"]), "--weights", str(paths["weights"]),
                          "--data", str(paths["data"])], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [f"eval.py: {broken} not found: {tmp_path / 'nope'}"]


@pytest.mark.caffe
def test_mismatched_weights_and_missing_crf_layer_are_named(constant_model, pycaffe, tmp_path):
    model, weights, data, _ = constant_model
    other = tmp_path / "other.prototxt"
    other.write_text(NET.replace("num_output: 20", "num_output: 7"))
    from experiments.evaluation import evaluate
    from nets.weights import ModelError

    with pytest.raises(ModelError, match="layer 'score' has blobs"):
        evaluate(other, weights, data)
    with pytest.raises(ModelError, match="no CRFMarginals layer"):
        evaluate(model, weights, data, inference="gibbs")
