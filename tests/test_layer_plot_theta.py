"""tools/plot_theta.py draws the CRF layer's theta from a .caffemodel, and says plainly when
the layer is not there."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import plot_theta  # noqa: E402

pytestmark = pytest.mark.caffe

NET = """layer {{ name: "in" type: "Input" top: "scores" top: "label" top: "index"
        input_param {{ shape {{ dim: 1 dim: 20 dim: 6 dim: 7 }} shape {{ dim: 1 dim: 1 dim: 6 dim: 7 }}
                      shape {{ dim: 1 }} }} }}
layer {{ name: "crf" type: "Python" bottom: "scores" bottom: "label" bottom: "index" top: "loss" loss_weight: 1
        python_param {{ module: "layers.crf_loss" layer: "GibbsCRFLoss" param_str: '{config}' }} }}
"""


@pytest.fixture
def weights(pycaffe, tmp_path):
    path = tmp_path / "net.prototxt"
    path.write_text(NET.format(config=json.dumps({"num_labels": 20, "edges": "sparse:1,2", "num_images": 2})))
    net = pycaffe.Net(str(path), pycaffe.TEST)
    net.params["crf"][0].data[...] = np.random.default_rng(0).normal(0, 1, (8, 20, 20))
    net.save(str(tmp_path / "w.caffemodel"))
    return tmp_path / "w.caffemodel"


def test_writes_a_png(weights, tmp_path):
    out = tmp_path / "theta.png"
    assert plot_theta.main(["--weights", str(weights), "--layer", "crf", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_layer_is_one_line_and_status_2(weights, tmp_path, capsys):
    assert plot_theta.main(["--weights", str(weights), "--layer", "nope", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "no layer 'nope'" in err and "['crf']" in err and err.count("\n") == 1
