"""Models a user can ship: tools/export_model.py drops the chain store and nothing else, and a
net takes weights only when they cover it, are a model (not a training snapshot) and were
trained with its edge classes."""
import re

import numpy as np
import pytest

import sampler

from conftest import run_tool

pytestmark = pytest.mark.caffe

L, H, W = 4, 6, 7
EDGES = "sparse:1,2"


def net(pycaffe, kind, edges=EDGES, images=50):
    from nets import crf
    from nets.runtime import net_from_text

    settings = crf.config(edges, images, L)
    spec = crf.loss_net((2, L, H, W), settings) if kind == "train" else crf.deploy_scores_net((2, L, H, W), settings)
    return net_from_text(str(spec.to_proto()), pycaffe.TEST)


THETA = np.random.default_rng(0).normal(0, 1, (8, L, L)).astype(np.float32)


@pytest.fixture
def snapshot(pycaffe, tmp_path):
    train = net(pycaffe, "train")
    train.params["crf"][0].data[...] = THETA
    path = tmp_path / "train_iter_9.caffemodel"
    train.save(str(path))
    return path


def test_export_keeps_theta_and_offsets_and_drops_the_chains(pycaffe, snapshot, tmp_path):
    from nets.weights import blob_array, read_netparameter

    model = tmp_path / "model.caffemodel"
    assert run_tool("export_model", [str(snapshot), "--out", str(model), "--trained-at", "7x6"]) == 0
    before = {l.name: l for l in read_netparameter(snapshot).layer}
    after = {l.name: l for l in read_netparameter(model).layer}
    assert list(after) == ["crf", "training_scale"] and len(before["crf"].blobs) == 3 and len(after["crf"].blobs) == 2
    for b, a in zip(before["crf"].blobs, after["crf"].blobs):
        assert np.array_equal(blob_array(a), blob_array(b))
    assert after["crf"].python_param.param_str == before["crf"].python_param.param_str  # the settings it had
    chains = blob_array(before["crf"].blobs[2])
    scale = after["training_scale"].ByteSize() + 3  # the scale's layer entry, its field tag and length
    assert snapshot.stat().st_size - (model.stat().st_size - scale) >= chains.nbytes
    assert run_tool("export_model", [str(snapshot), "--out", str(model), "--trained-at", "7x6"]) == 0  # replaced


def test_export_replaces_only_what_it_wrote(snapshot, tmp_path, capsys):
    other = tmp_path / "notes.caffemodel"
    other.write_bytes(b"someone else's file")
    assert run_tool("export_model", [str(snapshot), "--out", str(other)]) == 2
    assert other.read_bytes() == b"someone else's file"
    assert run_tool("export_model", [str(snapshot), "--out", str(snapshot)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "not a model exported by this tool" in err[0]


def test_weights_must_be_a_model_that_covers_the_net_with_its_edges(pycaffe, snapshot, tmp_path):
    from nets.export import export_model
    from nets.weights import ModelError, load_weights

    deploy = net(pycaffe, "deploy")
    with pytest.raises(ModelError, match="training snapshot .* export it first"):
        load_weights(deploy, snapshot)
    export_model(snapshot, tmp_path / "model.caffemodel")
    load_weights(deploy, tmp_path / "model.caffemodel")
    assert np.array_equal(deploy.params["crf"][0].data, THETA)
    with pytest.raises(ModelError, match=r"trained with edge classes \[\[0, 1\], \[1, 0\].*set to \[\[0, 2\]"):
        load_weights(net(pycaffe, "deploy", edges="sparse:2,1"), tmp_path / "model.caffemodel")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_weights_holding_nan_or_inf_are_refused_wherever_they_are_read(pycaffe, snapshot, tmp_path, value):
    """Caffe computes with them silently (the argmax of NaN scores is label 0): loading into a net,
    reading the tables and exporting each name the file, the layer and the blob; the chain store
    (labels packed into positive normal floats) is always finite."""
    from nets.export import export_model
    from nets.weights import ModelError, crf_tables, load_weights, read_netparameter

    export_model(snapshot, tmp_path / "model.caffemodel")
    train = net(pycaffe, "train")
    train.copy_from(str(snapshot))
    train.params["crf"][0].data[1, 2, 3] = value
    bad = tmp_path / "bad_iter_9.caffemodel"
    train.save(str(bad))
    message = f"{bad}: layer 'crf' blob 0 holds {value} (1 of {THETA.size} values not finite)"
    for read in (read_netparameter, crf_tables, lambda f: export_model(f, tmp_path / "bad.caffemodel")):
        with pytest.raises(ModelError, match=re.escape(message)):
            read(bad)
    assert not (tmp_path / "bad.caffemodel").exists()
    deploy = net(pycaffe, "deploy")
    deploy.params["crf"][0].data[0, 0, 0] = value
    deploy.save(str(bad))
    with pytest.raises(ModelError, match=re.escape(f"{bad}: layer 'crf' blob 0 holds {value}")):
        load_weights(net(pycaffe, "deploy"), bad)
    assert read_netparameter(bad, finite=False).layer  # what stages.py reads a snapshot's shapes with


def test_weights_without_the_crf_layer_are_refused(pycaffe, tmp_path):
    """A CNN-stage snapshot would leave theta at zero: 'gibbs' would silently be the CNN."""
    from caffe import layers as Lyr

    from nets.runtime import net_from_text
    from nets.weights import ModelError, load_weights

    spec = pycaffe.NetSpec()
    spec.scores = Lyr.Input(shape={"dim": [2, L, H, W]})
    spec.other = Lyr.Scale(spec.scores, name="other", bias_term=True)
    net_from_text(str(spec.to_proto()), pycaffe.TEST).save(str(tmp_path / "cnn.caffemodel"))
    with pytest.raises(ModelError, match=r"no weights for layer\(s\) \['crf'\].*in the file: \['other'\]"):
        load_weights(net(pycaffe, "deploy"), tmp_path / "cnn.caffemodel")


def test_tables_made_without_training_become_a_model_with_the_cnn(pycaffe, tmp_path):
    """export_tables: the CNN model's layers as they are, plus theta and its offsets under the CRF
    layer's name (a deploy net loads it; tools read the edges from its param_str); replaces only
    a model of ours, and refuses tables of another shape."""
    from caffe import layers as Lyr

    from nets import crf
    from nets.export import export_model, export_tables, is_exported
    from nets.runtime import net_from_text
    from nets.weights import ModelError, blob_array, crf_tables, load_weights, read_netparameter

    spec = pycaffe.NetSpec()
    spec.depth = Lyr.Input(shape={"dim": [1, 1, H, W]})
    spec.conv1 = Lyr.Convolution(spec.depth, num_output=L, kernel_size=1, weight_filler={"type": "gaussian"})
    net_from_text(str(spec.to_proto()), pycaffe.TEST).save(str(tmp_path / "cnn_snapshot.caffemodel"))
    export_model(tmp_path / "cnn_snapshot.caffemodel", tmp_path / "cnn.caffemodel")
    settings = crf.config(EDGES, 50, L)
    out = tmp_path / "tables.caffemodel"
    export_tables(tmp_path / "cnn.caffemodel", THETA, settings, out, "piecewise tables")
    assert is_exported(out) and "piecewise tables" in read_netparameter(out).name
    layers = {l.name: l for l in read_netparameter(out).layer}
    cnn = {l.name: l for l in read_netparameter(tmp_path / "cnn.caffemodel").layer}
    assert list(layers) == ["conv1", "crf"]
    assert all(np.array_equal(blob_array(a), blob_array(b)) for a, b in zip(layers["conv1"].blobs, cnn["conv1"].blobs))
    theta, offsets = crf_tables(out)
    assert np.array_equal(theta, THETA) and np.array_equal(offsets, sampler.parse_edges(EDGES))
    deploy = net(pycaffe, "deploy")
    load_weights(deploy, out)
    assert np.array_equal(deploy.params["crf"][0].data, THETA)
    export_tables(tmp_path / "cnn.caffemodel", -THETA, settings, out, "again")  # its own file: replaced
    assert np.array_equal(crf_tables(out)[0], -THETA)
    with pytest.raises(ModelError, match="theta has shape \\(8, 4, 3\\)"):
        export_tables(tmp_path / "cnn.caffemodel", THETA[:, :, :3], settings, out, "bad")
    other = tmp_path / "notes.caffemodel"
    other.write_bytes(b"someone else's file")
    with pytest.raises(ModelError, match="not a model exported by this tool"):
        export_tables(tmp_path / "cnn.caffemodel", THETA, settings, other, "x")
    assert other.read_bytes() == b"someone else's file"


def test_a_model_records_its_training_scale_and_still_loads_into_a_net(pycaffe, snapshot, tmp_path):
    """The scale is a layer entry without parameters: Caffe's copy skips it and check_weights
    accepts the model; the tool takes it as WxH or reads it from the training split, with the
    generated data's field of view."""
    import data
    from nets.export import export_model, recorded_scale
    from nets.weights import load_weights

    model = tmp_path / "model.caffemodel"
    export_model(snapshot, model, {"height": H, "width": W})
    assert recorded_scale(model) == {"height": H, "width": W}
    deploy = net(pycaffe, "deploy")
    load_weights(deploy, model)
    assert np.array_equal(deploy.params["crf"][0].data, THETA)
    assert run_tool("export_model", [str(snapshot), "--out", str(model), "--trained-at", "160x120"]) == 0
    assert recorded_scale(model) == {"height": 120, "width": 160}
    data.make_dataset(tmp_path / "ds", train=1, test=1, height=12, width=16, seed=0)
    split = tmp_path / "ds" / "train.txt"
    assert run_tool("export_model", [str(snapshot), "--out", str(model), "--data", str(split)]) == 0
    assert recorded_scale(model) == {"height": 12, "width": 16, "hfov_deg": pytest.approx(57.0)}


def test_the_scale_is_carried_from_an_exported_cnn_and_two_scales_are_refused(pycaffe, snapshot, tmp_path):
    """A separate-stage model (the exported CNN plus stage 2's tables) and tables made without
    training keep the CNN's scale; inputs recording different scales are refused, naming both."""
    from nets import crf
    from nets.export import SCALE, export_model, export_tables, recorded_scale
    from nets.weights import ModelError, read_netparameter

    cnn = tmp_path / "cnn.caffemodel"
    export_model(cnn_snapshot(pycaffe, tmp_path), cnn, {"height": 48, "width": 64, "hfov_deg": 57.0})
    export_model([cnn, snapshot], tmp_path / "separate.caffemodel")
    assert recorded_scale(tmp_path / "separate.caffemodel") == {"height": 48, "hfov_deg": 57.0, "width": 64}
    export_tables(cnn, THETA, crf.config(EDGES, 50, L), tmp_path / "tables.caffemodel", "piecewise tables")
    assert recorded_scale(tmp_path / "tables.caffemodel") == recorded_scale(cnn)
    crf_model = tmp_path / "crf.caffemodel"
    export_model(snapshot, crf_model, {"height": 24, "width": 32})
    with pytest.raises(ModelError, match=f"{cnn} records training at .*64.* but {crf_model} at .*32"):
        export_model([cnn, crf_model], tmp_path / "mixed.caffemodel")
    assert not (tmp_path / "mixed.caffemodel").exists()
    assert recorded_scale(snapshot) is None
    bad = read_netparameter(cnn)
    next(layer for layer in bad.layer if layer.name == SCALE).python_param.param_str = '{"height": 0, "width": 64}'
    (tmp_path / "bad.caffemodel").write_bytes(bad.SerializeToString())
    with pytest.raises(ModelError, match=f"bad.caffemodel: layer '{SCALE}' holds .*not a training scale"):
        recorded_scale(tmp_path / "bad.caffemodel")


def cnn_snapshot(pycaffe, tmp_path):
    """A one-layer 'CNN' snapshot (conv1) on depth."""
    from caffe import layers as Lyr

    from nets.runtime import net_from_text

    spec = pycaffe.NetSpec()
    spec.depth = Lyr.Input(shape={"dim": [1, 1, H, W]})
    spec.conv1 = Lyr.Convolution(spec.depth, num_output=L, kernel_size=1, weight_filler={"type": "gaussian"})
    path = tmp_path / "cnn_snapshot.caffemodel"
    net_from_text(str(spec.to_proto()), pycaffe.TEST).save(str(path))
    return path
