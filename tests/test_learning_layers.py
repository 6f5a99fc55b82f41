"""PseudoLikelihoodLoss, MeanFieldLoss and LoopyBPLoss under pycaffe: loss and diffs are the sampler.learning
objective and gradients (negated, per pixel, times the loss weight), theta's diff accumulates and
is projected under "potts", the blobs copy into a deploy net and a Gibbs stage, and bad settings
or input raise errors that name the key or blob."""
import numpy as np
import pytest

import sampler

pytestmark = pytest.mark.caffe
crf = pytest.importorskip("nets.crf", reason="pycaffe not importable: run `make setup` first")

LAYERS = {"pl": crf.PSEUDO_LIKELIHOOD, "mf": crf.MEANFIELD, "lbp": crf.LOOPY_BP}
EDGES = [[0, 1], [1, 0], [1, -2]]


def make_net(caffe, tmp_path, kind, n=2, l=3, h=5, w=6, weight=1.0, softmax=True, **config):
    """The layer on Input blobs, beside Caffe's softmax loss (weight 0) on the same scores."""
    from caffe import layers as L

    from nets.runtime import net_from_text

    settings = {"num_labels": l, "edges": EDGES, **config}
    spec = crf.loss_net((n, l, h, w), settings, chains=False, layer=LAYERS[kind], loss_weight=weight)
    if softmax:
        spec.softmax_loss = L.SoftmaxWithLoss(spec.scores, spec.label, loss_weight=0)
    # force_backward: with the softmax beside it, Caffe splits the scores blob (see test_layer_crf_loss.py)
    return net_from_text("force_backward: true\n" + str(spec.to_proto()), caffe.TRAIN)


def feed(net, seed, n=2, l=3, h=5, w=6):
    g = np.random.default_rng(seed)
    scores, labels = g.normal(0, 2, (n, l, h, w)).astype(np.float32), g.integers(0, l, (n, h, w))
    net.blobs["scores"].data[...] = scores
    net.blobs["label"].data[...] = labels[:, None]
    return scores, labels


def expected(kind, scores, labels, theta, iterations=10, damping=0.5):
    offsets = sampler.parse_edges(EDGES)
    if kind == "pl":
        value, d_scores, d_theta = sampler.learning.pseudo_likelihood(scores, labels, theta, offsets)
        return value, d_scores, d_theta
    if kind == "lbp":
        return sampler.learning.loopy_bp(scores, labels, theta, offsets, iterations=iterations, damping=damping)
    unrolled = sampler.learning.UnrolledMeanField(scores, labels, theta, offsets, iterations=iterations,
                                                  damping=damping)
    return (unrolled.value, *unrolled.gradients())


@pytest.mark.parametrize("kind", LAYERS)
def test_loss_is_softmax_loss_when_theta_is_zero(pycaffe, tmp_path, kind):
    net = make_net(pycaffe, tmp_path, kind)
    feed(net, 0)
    out = net.forward()
    assert not net.params["crf"][0].data.any()
    assert float(out["loss"]) == pytest.approx(float(out["softmax_loss"]), rel=1e-5)


@pytest.mark.parametrize("kind", LAYERS)
def test_loss_and_diffs_are_the_negated_objective_per_pixel(pycaffe, tmp_path, kind):
    net = make_net(pycaffe, tmp_path, kind, weight=2.0, iterations=3, damping=0.7) if kind != "pl" else \
        make_net(pycaffe, tmp_path, kind, weight=2.0)
    scores, labels = feed(net, 1)
    theta = np.random.default_rng(2).normal(0, 1, net.params["crf"][0].data.shape).astype(np.float32)
    net.params["crf"][0].data[...] = theta
    value, d_scores, d_theta = expected(kind, scores, labels, theta, iterations=3, damping=0.7)
    pixels = labels.size
    net.clear_param_diffs()
    out = net.forward()
    net.backward()
    assert float(out["loss"]) == pytest.approx(-value.sum() / pixels, rel=1e-5)
    assert np.allclose(net.blobs["scores"].diff, -2.0 * d_scores / pixels, atol=1e-7)
    assert np.allclose(net.params["crf"][0].diff, -2.0 * d_theta / pixels, atol=1e-6)
    assert np.abs(d_theta).max() > 0.1 and not net.params["crf"][1].diff.any()
    net.forward()
    net.backward()  # theta's diff accumulates (iter_size > 1); the scores' diff does not
    assert np.allclose(net.params["crf"][0].diff, -4.0 * d_theta / pixels, atol=1e-6)
    assert np.allclose(net.blobs["scores"].diff, -2.0 * d_scores / pixels, atol=1e-7)


@pytest.mark.parametrize("kind", LAYERS)
def test_potts_projects_theta_diff_undoes_rounding_and_refuses_a_non_potts_theta(pycaffe, tmp_path, kind):
    net = make_net(pycaffe, tmp_path, kind, potts=True)
    scores, labels = feed(net, 3)
    theta = (np.array([0.5, -1.0, 2.0])[:, None, None] * np.eye(3)).astype(np.float32)
    net.params["crf"][0].data[...] = theta
    net.clear_param_diffs()
    net.forward()
    net.backward()
    diff = net.params["crf"][0].diff
    _, _, d_theta = expected(kind, scores, labels, theta)
    assert sampler.learning.potts_violation(diff) is None
    assert np.allclose(diff, sampler.learning.potts_project(-d_theta / labels.size), atol=1e-7)
    assert np.abs(np.diagonal(diff, axis1=1, axis2=2)).min() > 1e-4
    net.params["crf"][0].data[2, 1, 1] = np.nextafter(np.float32(2), np.float32(3))  # solver rounding
    net.forward()
    assert np.array_equal(net.params["crf"][0].data, sampler.learning.potts_project(net.params["crf"][0].data))
    assert abs(net.params["crf"][0].data[2, 1, 1] - 2) < 1e-6
    net.params["crf"][0].data[1, 0, 2] = 0.25
    with pytest.raises(ValueError, match="blobs\\[0\\] \\(theta\\).*theta\\[1, 0, 2\\] = 0.25"):
        net.forward()


@pytest.mark.parametrize("kind", LAYERS)
def test_propagate_down_false_stops_the_gradient(pycaffe, tmp_path, kind):
    """Separate learning: the layer leaves the scores' diff alone and Caffe runs no backward in
    the layer below (a learnable bias standing for the CNN); theta still learns."""
    from caffe import layers as L

    from nets.runtime import net_from_text

    spec = pycaffe.NetSpec()
    spec.raw, spec.label = L.Input(shape=[{"dim": [2, 3, 5, 6]}, {"dim": [2, 1, 5, 6]}], ntop=2)
    spec.scores = L.Bias(spec.raw, name="cnn", param=[{"lr_mult": 1}])
    spec.loss = crf.loss_layer(spec.scores, spec.label, None, {"num_labels": 3, "edges": EDGES}, to_scores=False,
                               layer=LAYERS[kind])
    net = net_from_text(str(spec.to_proto()), pycaffe.TRAIN)
    net.blobs["raw"].data[...] = np.random.default_rng(4).normal(size=(2, 3, 5, 6))
    net.blobs["label"].data[...] = np.random.default_rng(5).integers(0, 3, (2, 1, 5, 6))
    net.blobs["scores"].diff[...] = 7.0
    net.forward()
    net.backward()
    assert (net.blobs["scores"].diff == 7.0).all()
    assert not net.params["cnn"][0].diff.any() and net.params["crf"][0].diff.any()


@pytest.mark.parametrize("kind", LAYERS)
def test_trained_blobs_are_a_deploy_model(pycaffe, tmp_path, kind):
    """Theta and the offsets it belongs to, under the training layer's name: CRFMarginals copies
    them as they are (no chains to drop), at any image size."""
    net = make_net(pycaffe, tmp_path, kind)
    theta = np.random.default_rng(5).normal(size=net.params["crf"][0].data.shape)
    net.params["crf"][0].data[...] = theta
    weights = tmp_path / "trained.caffemodel"
    net.save(str(weights))
    from nets.runtime import net_from_text
    from nets.weights import load_weights

    deploy = net_from_text(str(crf.deploy_scores_net((1, 3, 7, 9), {"num_labels": 3, "edges": EDGES}).to_proto()),
                           pycaffe.TEST)
    load_weights(deploy, weights)
    assert np.allclose(deploy.params["crf"][0].data, theta)


@pytest.mark.parametrize("kind, key, value", [
    ("mf", "iterations", 0),
    ("mf", "iterations", 2.5),
    ("mf", "damping", 0),
    ("mf", "damping", 1.5),
    ("mf", "damping", "0.5"),
    ("pl", "potts", "yes"),
    ("mf", "potts", 1),
    ("pl", "backend", "tpu"),
])
def test_bad_settings_name_the_key(pycaffe, tmp_path, kind, key, value):
    with pytest.raises(ValueError, match=f"{LAYERS[kind][1]}: param_str key '{key}' must be"):
        make_net(pycaffe, tmp_path, kind, **{key: value})


@pytest.mark.parametrize("kind, key", [("pl", "iterations"), ("pl", "method"), ("mf", "sweeps")])
def test_keys_of_other_methods_are_unknown(pycaffe, tmp_path, kind, key):
    with pytest.raises(ValueError, match=f"unknown param_str key\\(s\\) \\['{key}'\\]"):
        make_net(pycaffe, tmp_path, kind, **{key: 1})


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("blob, value, match", [
    ("label", 3, "bottom\\[1\\] \\(label\\)"),
    ("label", 0.5, "bottom\\[1\\] \\(label\\)"),
    ("scores", np.nan, "bottom\\[0\\] \\(scores\\)"),
])
def test_bad_values_name_the_blob(pycaffe, tmp_path, kind, blob, value, match):
    net = make_net(pycaffe, tmp_path, kind)
    feed(net, 7)
    net.blobs[blob].data.reshape(-1)[-1] = value
    with pytest.raises(ValueError, match=match):
        net.forward()


@pytest.mark.parametrize("kind", LAYERS)
def test_shape_mismatch_names_the_blob(pycaffe, tmp_path, kind):
    with pytest.raises(ValueError, match="bottom\\[0\\] \\(scores\\).*num_labels = 4"):
        make_net(pycaffe, tmp_path, kind, num_labels=4)
    net = make_net(pycaffe, tmp_path, kind)
    net.blobs["label"].reshape(2, 1, 5, 5)
    with pytest.raises(ValueError, match="bottom\\[1\\] \\(label\\)"):
        net.forward()
