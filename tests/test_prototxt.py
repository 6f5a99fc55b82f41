"""prototxt/ is exactly what tools/make_prototxt.py writes by default, its solvers name files
that exist, and the CNN's receptive field is what make_prototxt.RECEPTIVE_FIELD says."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
make_prototxt = pytest.importorskip("make_prototxt", reason="pycaffe not importable: run `make setup` first")


def test_committed_prototxt_is_the_generated_default():
    expected = make_prototxt.render()
    committed = {p.name: p.read_text() for p in (REPO / "prototxt").glob("*.prototxt")}
    assert committed.keys() == expected.keys(), "run `.venv/bin/python tools/make_prototxt.py`"
    for name, text in expected.items():
        assert committed[name] == text, f"prototxt/{name} is stale: run `.venv/bin/python tools/make_prototxt.py`"


def test_solvers_name_committed_nets_relative_to_the_repo_root():
    for stage in make_prototxt.STAGES:
        text = (REPO / "prototxt" / f"solver_{stage}.prototxt").read_text()
        net = re.search(r'^net: "(.*)"$', text, re.M).group(1)
        assert (REPO / net).is_file(), net
        assert re.search(r'^snapshot_prefix: "snapshots/', text, re.M)


@pytest.mark.caffe
def test_receptive_field(pycaffe, tmp_path):
    """Changing one depth pixel changes exactly the scores within RECEPTIVE_FIELD // 2 of it."""
    size, rf = 64, make_prototxt.RECEPTIVE_FIELD
    path = tmp_path / "deploy_cnn.prototxt"
    path.write_text(make_prototxt.render(height=size, width=size, num_images=1)["deploy_cnn.prototxt"])
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
    with pytest.raises(ValueError, match="'edges'"):
        make_prototxt.render(edges="ring:3")
    assert make_prototxt.main(["--out", str(tmp_path / "nets"), "--num-images", "0"]) == 2
    assert not (tmp_path / "nets").exists()
