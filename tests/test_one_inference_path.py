"""One path from scores to labels: tools/eval.py through the deploy net (CNN, then the CRFMarginals
layer) and the report's stored-scores path (experiments.evaluation: the CNN's scores computed once,
then the CRF on them) give identical labels on the same images, weights and seed."""
import numpy as np
import pytest

from conftest import tool_main

pytestmark = [pytest.mark.caffe, pytest.mark.slow]


@pytest.mark.parametrize("inference, row, deploy, model", [
    ("gibbs", "joint", "deploy_crf", "joint"), ("icm", "icm", "deploy_crf", "joint"),
    ("gibbs", "gated_joint", "deploy_gated", "gated_joint")])  # the image-dependent model: its branch's weights too
def test_eval_through_the_deploy_net_labels_as_the_report_does(tiny_run, tmp_path, inference, row, deploy, model):
    from experiments.scales import SCALES

    run, scale = tiny_run / "run", SCALES["tiny"]
    out = tmp_path / "predictions"
    assert tool_main("eval")(["--model", str(run / "prototxt" / f"{deploy}.prototxt"),
                              "--weights", str(run / "models" / f"{model}.caffemodel"),
                              "--data", str(tiny_run / "data" / "test.txt"), "--inference", inference,
                              "--burn-in", str(scale.burn_in), "--samples", str(scale.samples), "--seed", "0",
                              "--batch-size", "3", "--save-predictions", str(out)]) == 0
    through_net = np.load(out / "predictions.npy")
    stored = np.load(run / "predictions" / row / "predictions.npy")
    assert through_net.shape == stored.shape and np.array_equal(through_net, stored)
