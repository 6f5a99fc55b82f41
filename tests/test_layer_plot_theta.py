"""tools/plot_theta.py draws the CRF layer's theta from a .caffemodel, read by the one reader of a
model's tables (nets.weights.crf_tables), and says plainly when the layer is not there."""
import numpy as np
import pytest

import sampler
from conftest import tool_main

pytestmark = pytest.mark.caffe

EDGES = "sparse:1,2"


@pytest.fixture
def weights(pycaffe, tmp_path):
    from nets import crf
    from nets.runtime import net_from_text

    net = net_from_text(str(crf.loss_net((1, 20, 6, 7), crf.config(EDGES, 2)).to_proto()), pycaffe.TEST)
    net.params["crf"][0].data[...] = np.random.default_rng(0).normal(0, 1, (8, 20, 20))
    net.save(str(tmp_path / "w.caffemodel"))
    return tmp_path / "w.caffemodel"


def test_writes_a_png(weights, tmp_path):
    out = tmp_path / "theta.png"
    assert tool_main("plot_theta")(["--weights", str(weights), "--layer", "crf", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_panel_shows_its_edge_class_table(weights, tmp_path):
    """Panel c is theta[c] of the file, titled with offset c (not another class's, not transposed)."""
    from experiments.theta_plot import plot_theta
    from nets.weights import crf_tables

    theta, offsets = crf_tables(weights)
    assert np.array_equal(offsets, sampler.parse_edges(EDGES))
    panels = plot_theta(theta, offsets, tmp_path / "t.png", "title")
    assert len(panels) == len(offsets) == 8
    for (title, drawn), table, (dy, dx) in zip(panels, theta, offsets):
        assert f"(dy, dx) = ({dy}, {dx})" in title and f"min {table.min():.2f}" in title
        assert np.array_equal(drawn, table)


def test_missing_layer_is_one_line_and_status_2(weights, tmp_path, capsys):
    assert tool_main("plot_theta")(["--weights", str(weights), "--layer", "nope", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "no layer 'nope'" in err and "['crf']" in err and err.count("\n") == 1
