"""prototxt/ is exactly what tools/make_prototxt.py writes by default, its solvers name files
that exist, and the CNN's receptive field is what nets.cnn.RECEPTIVE_FIELD says."""
import re

import numpy as np
import pytest

from conftest import REPO, run_tool

scales = pytest.importorskip("experiments.scales")
prototxt = pytest.importorskip("nets.prototxt", reason="pycaffe not importable: run `make setup` first")


def test_committed_prototxt_is_the_generated_default():
    expected = scales.committed_prototxt()
    committed = {p.name: p.read_text() for p in (REPO / "prototxt").glob("*.prototxt")}
    assert committed.keys() == expected.keys(), "run `.venv/bin/python tools/make_prototxt.py`"
    for name, text in expected.items():
        assert committed[name] == text, f"prototxt/{name} is stale: run `.venv/bin/python tools/make_prototxt.py`"


def test_solvers_name_committed_nets_relative_to_the_repo_root():
    for stage in prototxt.STAGES:
        text = (REPO / "prototxt" / f"solver_{stage}.prototxt").read_text()
        net = re.search(r'^net: "(.*)"$', text, re.M).group(1)
        assert (REPO / net).is_file(), net
        assert re.search(r'^snapshot_prefix: "snapshots/', text, re.M)


@pytest.mark.caffe
def test_receptive_field(pycaffe, tmp_path):
    """Changing one depth pixel changes exactly the scores within RECEPTIVE_FIELD // 2 of it."""
    from nets import cnn, crf

    size, rf = 64, cnn.RECEPTIVE_FIELD
    path = tmp_path / "deploy_cnn.prototxt"
    path.write_text(prototxt.deploy_net(False, size, size, crf.config()))
    net = pycaffe.Net(str(path), pycaffe.TEST)
    depth = np.random.default_rng(0).uniform(1.5, 6.0, (1, 1, size, size))
    net.blobs["depth"].data[...] = depth
    before = net.forward(end="scores")["scores"].copy()
    depth[0, 0, size // 2, size // 2] += 1.0
    net.blobs["depth"].data[...] = depth
    moved = (net.forward(end="scores")["scores"] != before).any(axis=(0, 1))
    for axis in (0, 1):
        reach = np.flatnonzero(moved.any(axis=1 - axis))
        assert (reach.min(), reach.max()) == (size // 2 - rf // 2, size // 2 + rf // 2)


def test_bad_crf_settings_fail_at_generation_naming_the_key(tmp_path):
    from nets import crf

    with pytest.raises(ValueError, match="'edges'"):
        crf.config(edges="ring:3")
    assert run_tool("make_prototxt", ["--out", str(tmp_path / "nets"), "--num-images", "0"]) == 2
    assert run_tool("make_prototxt", ["--out", str(tmp_path / "nets"), "--edges", "ring:3"]) == 2
    assert not (tmp_path / "nets").exists()
