"""sampler's boundary: absurd edge specs fail before anything is built; float32 overflow is caught."""
import tracemalloc
import warnings

import numpy as np
import pytest

import sampler
from conftest import run_tool
from layers import params
from sampler import offsets


def peak_bytes(work):
    """The most memory Python and NumPy held while work() ran (it must raise ValueError)."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as e:
            work()
        return tracemalloc.get_traced_memory()[1], str(e.value)
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("spec, problem", [
    ("window:1000000", "window:1000000 has 2000002000000 offsets, more than 128"),
    ("window:8", "window:8 has 144 offsets"),
    ("sparse:" + ",".join(map(str, range(1, 40))), "39 distances make 156 offsets"),
    ("sparse:1,2,1000000", "1000000 is longer than 512 pixels"),
    ([[0, 1], [1, 10**6]], "[1, 1000000] reaches further than 512"),
    ([[0.0, 1.0], [1e300, 0.0]], "reaches further than 512"),  # would wrap when cast to int64
    ([[1, dx] for dx in range(-64, 65)], "129 offsets, more than 128"),
])
def test_absurd_edges_fail_before_allocating(spec, problem):
    peak, message = peak_bytes(lambda: sampler.parse_edges(spec))
    assert problem in message and peak < 1e6
    if isinstance(spec, str):
        assert spec[:20] in message  # names the spec


def test_largest_window_and_reach_are_accepted():
    assert len(sampler.parse_edges("window:7")) == 112 == 2 * 7 * 8
    assert sampler.parse_edges("sparse:1,512")[-1].tolist() == [512, -512]
    assert len(sampler.parse_edges([[1, dx] for dx in range(-63, 65)])) == 128


def test_layer_param_str_rejects_a_huge_window():
    peak, message = peak_bytes(lambda: params.parse(
        '{"num_labels": 20, "edges": "window:1000000", "num_images": 4}', params.LOSS, "crf"))
    assert "param_str key 'edges'" in message and "window:1000000" in message and peak < 1e6


def test_make_prototxt_rejects_a_huge_window(tmp_path, capsys, pycaffe):
    assert run_tool("make_prototxt", ["--out", str(tmp_path / "nets"), "--edges", "window:1000000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "window:1000000" in err


def test_beyond_lists_the_offsets_no_edge_of_the_image_has():
    d = sampler.parse_edges("sparse:1,2,4,8,16,32")
    far = offsets.beyond(d, 20, 30)  # 32 reaches past both sides; 16 fits
    assert far.tolist() == [[0, 32], [32, 0], [32, 32], [32, -32]]
    assert offsets.beyond(d, 20, 40).tolist() == [[32, 0], [32, 32], [32, -32]]
    assert offsets.beyond("window:2", 3, 3).shape == (0, 2)
    assert offsets.beyond([[2, 0]], 2, 5).tolist() == [[2, 0]]  # dy == height: no pixel pair either
    with pytest.raises(ValueError, match="height: expected a positive integer"):
        offsets.beyond(d, 0, 30)


def model(scale=1.0):
    g = np.random.default_rng(0)
    scores = g.normal(size=(1, 3, 4, 5))
    theta = g.normal(size=(4, 3, 3))
    labels = g.integers(0, 3, size=(1, 4, 5)).astype(np.uint8)
    return scores, labels, theta


@pytest.mark.parametrize("name", ["scores", "theta"])
def test_float64_beyond_float32_is_not_finite(name):
    scores, labels, theta = model()
    args = {"scores": scores, "theta": theta}
    args[name] = args[name].copy()
    args[name].flat[3] = 1e300  # finite as float64, inf as float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no overflow warning on the way
        with pytest.raises(ValueError, match=f"{name}: contains NaN or Inf"):
            sampler.sweep(args["scores"], labels, args["theta"], "window:1", backend="numpy")
        args[name].flat[3] = 1e30  # within float32's range: accepted
        sampler.sweep(args["scores"], labels, args["theta"], "window:1", backend="numpy")
