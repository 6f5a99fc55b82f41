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
def test_receptive_field_is_what_the_formula_says_and_covers_a_person(pycaffe):
    """Changing one depth pixel changes scores at most RECEPTIVE_FIELD pixels apart, for every
    alignment with the 1/8 pooling grid, and exactly that far for some; a person is 60-110 px
    tall at 160x120, so a score sees the whole body around it."""
    from nets import cnn, crf
    from nets.runtime import net_from_text

    size = cnn.RECEPTIVE_FIELD + 40
    net = net_from_text(prototxt.deploy_net(False, 1, size, crf.config()), pycaffe.TEST)
    spans = []
    for pixel in range(size // 2, size // 2 + 8):
        depth = np.random.default_rng(pixel).uniform(1.5, 6.0, (1, 1, 1, size))
        net.blobs["depth"].data[...] = depth
        before = net.forward(end="scores")["scores"].copy()
        depth[..., pixel] += 1.0
        net.blobs["depth"].data[...] = depth
        moved = np.flatnonzero((net.forward(end="scores")["scores"] != before).any(axis=(0, 1, 2)))
        assert moved.min() <= pixel <= moved.max()
        spans.append(moved.max() - moved.min() + 1)
    assert max(spans) == cnn.RECEPTIVE_FIELD >= 2 * 110


def test_bad_crf_settings_fail_at_generation_naming_the_key(tmp_path):
    from nets import crf

    with pytest.raises(ValueError, match="'edges'"):
        crf.config(edges="ring:3")
    assert run_tool("make_prototxt", ["--out", str(tmp_path / "nets"), "--num-images", "0"]) == 2
    assert run_tool("make_prototxt", ["--out", str(tmp_path / "nets"), "--edges", "ring:3"]) == 2
    assert not (tmp_path / "nets").exists()


@pytest.mark.parametrize("stage", ["separate", "joint"])
@pytest.mark.parametrize("layer, extra", [("LOSS", {"potts": True}), ("PSEUDO_LIKELIHOOD", {}),
                                          ("MEANFIELD", {"iterations": 5})])
def test_each_learning_method_has_its_stage_nets(stage, layer, extra):
    """The CRF stages with another training layer: its own param_str keys (num_images only with
    chains), the index read only by the layer with chains, the stage's gradient and rates."""
    import json

    from caffe.proto import caffe_pb2
    from google.protobuf import text_format

    from nets import crf

    layer = getattr(crf, layer)
    settings = crf.layer_settings(crf.config("sparse:1,2", 40), layer, **extra)
    assert ("num_images" in settings) == crf.has_chains(layer) and all(settings[k] == v for k, v in extra.items())
    net = caffe_pb2.NetParameter()
    text_format.Merge(prototxt.train_net(stage, "DATA", "SCORES", 4, settings, layer, "train_x"), net)
    data, loss = net.layer[0], net.layer[-1]
    assert data.hdf5_data_param.source == ("SCORES" if stage == "separate" else "DATA") + "/train.txt"
    assert list(data.top)[1:] == ["label"] + ["index"] * crf.has_chains(layer)
    assert (loss.python_param.module, loss.python_param.layer) == layer
    assert json.loads(loss.python_param.param_str) == settings
    assert list(loss.bottom)[2:] == ["index"] * crf.has_chains(layer)
    assert loss.propagate_down[0] == (stage == "joint") and loss.param[0].lr_mult == prototxt.LEARNING[stage]["theta"]
    assert any(l.name == "conv1" for l in net.layer) == (stage == "joint") and net.name == "train_x"


def test_layer_settings_refuse_a_key_the_layer_does_not_know():
    from nets import crf

    with pytest.raises(ValueError, match="PseudoLikelihoodLoss: unknown param_str key\\(s\\) \\['iterations'\\]"):
        crf.layer_settings(crf.config(), crf.PSEUDO_LIKELIHOOD, iterations=5)
    solver = prototxt.solver("separate", "net.prototxt", 60, "snaps", 500, prefix="potts", base_lr=0.01)
    assert 'snapshot_prefix: "snaps/potts"' in solver and "base_lr: 0.01" in solver and "snapshot: 60" in solver
