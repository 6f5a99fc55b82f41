"""The CRF layers with image-dependent ("gated") factors, param_str "tables": K: K = 1 with unit
weights is the stationary layer bit for bit; GibbsCRFLoss's weights gradient is the derivative of
its loss (the energy gap) with the sample held fixed (finite differences); CRFMarginals takes the
weights at deploy time; bad weights and a model of another K are refused by name."""
import numpy as np
import pytest

import sampler

pytestmark = pytest.mark.caffe

EDGES = "window:1"
N, L, H, W = 3, 4, 5, 6


def loss_net(caffe, tables=None, **config):
    from nets import crf
    from nets.runtime import net_from_text

    settings = {"num_labels": L, "edges": EDGES, "num_images": 6, "seed": 5, **config}
    if tables is not None:
        settings["tables"] = tables
    return net_from_text("force_backward: true\n" + str(crf.loss_net((N, L, H, W), settings, loss_weight=2.0)
                                                       .to_proto()), caffe.TRAIN)


def feed(net, scores, truth, index, weights=None):
    net.blobs["scores"].data[...] = scores
    net.blobs["label"].data[...] = truth[:, None]
    net.blobs["index"].data[...] = index
    if weights is not None:
        net.blobs["weights"].data[...] = weights


def inputs(seed=0, k=2):
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, (4, k, L, L)).astype(np.float32)
    scores = rng.normal(0, 2, (N, L, H, W)).astype(np.float32)
    truth = rng.integers(0, L, (N, H, W)).astype(np.uint8)
    weights = rng.random((N, k, H, W)).astype(np.float32)
    return theta, scores, truth, weights, np.array([5, 0, 3])


def test_one_table_with_unit_weights_is_the_stationary_layer_bit_for_bit(pycaffe):
    theta, scores, truth, _, index = inputs(k=1)
    stationary, gated = loss_net(pycaffe, sweeps=2), loss_net(pycaffe, tables=1, sweeps=2)
    stationary.params["crf"][0].data[...] = theta[:, 0]
    gated.params["crf"][0].data[...] = theta
    feed(stationary, scores, truth, index)
    feed(gated, scores, truth, index, np.ones((N, 1, H, W), np.float32))
    for _ in range(3):  # the chains go on from what the previous step stored
        for net in (stationary, gated):
            net.clear_param_diffs()
            net.forward()
            net.backward()
        assert np.array_equal(stationary.params["crf"][2].data, gated.params["crf"][2].data)
        assert np.array_equal(stationary.blobs["loss"].data, gated.blobs["loss"].data)
        assert np.array_equal(stationary.blobs["scores"].diff, gated.blobs["scores"].diff)
        assert np.array_equal(stationary.params["crf"][0].diff, gated.params["crf"][0].diff[:, 0])


def test_weights_gradient_is_the_derivative_of_the_energy_gap_with_the_sample_fixed(pycaffe):
    theta, scores, truth, weights, index = inputs(seed=1)
    net = loss_net(pycaffe, tables=2)
    net.params["crf"][0].data[...] = theta
    feed(net, scores, truth, index, weights)
    net.forward()
    net.backward()
    sample, _ = sampler.ChainStore.decode_rows(net.params["crf"][2].data[index], H, W, L)
    offsets = sampler.parse_edges(EDGES)

    def loss(w):  # the layer's top, times its loss weight, for this sample
        gap = (sampler.energy(scores, sample, theta, offsets, weights=w)
               - sampler.energy(scores, truth, theta, offsets, weights=w))
        return 2.0 * gap.sum() / truth.size

    assert 2.0 * float(net.blobs["loss"].data) == pytest.approx(loss(weights), rel=1e-5)
    eps = 1e-2  # the energy is linear in the weights: central differences are exact up to rounding
    rng = np.random.default_rng(2)
    for n, k, y, x in zip(rng.integers(0, N, 12), rng.integers(0, 2, 12), rng.integers(0, H, 12),
                          rng.integers(0, W, 12)):
        up, down = weights.copy(), weights.copy()
        up[n, k, y, x] += eps
        down[n, k, y, x] -= eps
        numeric = (loss(up.astype(np.float64)) - loss(down.astype(np.float64))) / (2 * eps)
        assert net.blobs["weights"].diff[n, k, y, x] == pytest.approx(numeric, abs=1e-5)
    assert np.abs(net.blobs["weights"].diff).max() > 0


def test_deploy_layer_takes_the_weights(pycaffe):
    """CRFMarginals with "tables" is sampler.inference on the weights given (ICM: deterministic)."""
    from nets import crf
    from nets.runtime import net_from_text

    theta, scores, _, weights, _ = inputs(seed=3)
    settings = {"num_labels": L, "edges": EDGES, "tables": 2, "method": "icm", "iterations": 5}
    net = net_from_text(str(crf.deploy_scores_net((N, L, H, W), settings).to_proto()), pycaffe.TEST)
    net.params["crf"][0].data[...] = theta
    net.blobs["scores"].data[...] = scores
    net.blobs["weights"].data[...] = weights
    marginals = net.forward()["marginals"]
    expected = sampler.inference.infer(scores, theta, sampler.parse_edges(EDGES), "icm", iterations=5,
                                       weights=weights)
    assert np.array_equal(marginals, expected)
    flat = sampler.inference.infer(scores, theta, sampler.parse_edges(EDGES), "icm", iterations=5,
                                   weights=np.ones_like(weights))
    assert not np.array_equal(marginals, flat)  # the weights matter


def test_bad_weights_and_missing_bottoms_name_the_problem(pycaffe):
    from nets import crf
    from nets.runtime import net_from_text

    theta, scores, truth, weights, index = inputs(seed=4)
    net = loss_net(pycaffe, tables=2)
    weights[1, 0, 2, 2] = np.nan
    feed(net, scores, truth, index, weights)
    with pytest.raises(ValueError, match=r"bottom\[3\] \(weights\) holds NaN"):
        net.forward()
    settings = {"num_labels": L, "edges": EDGES, "num_images": 6, "tables": 2}
    stationary = crf.loss_net((N, L, H, W), {k: v for k, v in settings.items() if k != "tables"})
    text = str(stationary.to_proto()).replace('num_images\\": 6', 'num_images\\": 6, \\"tables\\": 2')
    with pytest.raises(Exception):
        net_from_text(text, pycaffe.TRAIN)  # three bottoms for a gated layer: refused at setup


def test_a_model_trained_with_another_k_is_refused_by_name(pycaffe, tmp_path):
    from nets import crf
    from nets.runtime import net_from_text
    from nets.weights import ModelError, load_weights

    def deploy(tables):
        settings = {"num_labels": L, "edges": EDGES, "tables": tables}
        return net_from_text(str(crf.deploy_scores_net((N, L, H, W), settings).to_proto()), pycaffe.TEST)

    deploy(2).save(str(tmp_path / "k2.caffemodel"))
    with pytest.raises(ModelError, match=r"2 tables per edge class.*net's CRF layer has 3"):
        load_weights(deploy(3), tmp_path / "k2.caffemodel")
    stationary = net_from_text(str(crf.deploy_scores_net((N, L, H, W), {"num_labels": L, "edges": EDGES})
                                   .to_proto()), pycaffe.TEST)
    with pytest.raises(ModelError, match=r"2 tables per edge class.*stationary"):
        load_weights(stationary, tmp_path / "k2.caffemodel")


@pytest.mark.parametrize("method", ["pseudo_likelihood", "meanfield"])
def test_the_other_learners_take_the_weights_and_write_their_gradient(pycaffe, method):
    """PseudoLikelihoodLoss and MeanFieldLoss with "tables": their diffs are the learner's
    gradients (sampler.learning) for the weights given, scaled as the layer's top is."""
    from nets import crf
    from nets.runtime import net_from_text

    theta, scores, truth, weights, _ = inputs(seed=5)
    layer = crf.PSEUDO_LIKELIHOOD if method == "pseudo_likelihood" else crf.MEANFIELD
    extra = {} if method == "pseudo_likelihood" else {"iterations": 3}
    settings = {"num_labels": L, "edges": EDGES, "tables": 2, **extra}
    net = net_from_text("force_backward: true\n" + str(crf.loss_net((N, L, H, W), settings, chains=False, layer=layer)
                                                       .to_proto()), pycaffe.TRAIN)
    net.params["crf"][0].data[...] = theta
    net.blobs["scores"].data[...] = scores
    net.blobs["label"].data[...] = truth[:, None]
    net.blobs["weights"].data[...] = weights
    loss = float(net.forward()["loss"])
    net.backward()
    offsets = sampler.parse_edges(EDGES)
    if method == "pseudo_likelihood":
        value, d_scores, d_theta, d_weights = sampler.learning.pseudo_likelihood(scores, truth, theta, offsets,
                                                                                 weights=weights)
    else:
        unrolled = sampler.learning.UnrolledMeanField(scores, truth, theta, offsets, iterations=3, weights=weights)
        value, (d_scores, d_theta, d_weights) = unrolled.value, unrolled.gradients()
    scale = -1.0 / truth.size
    assert loss == pytest.approx(scale * value.sum(), rel=1e-5)
    assert np.allclose(net.blobs["weights"].diff, scale * d_weights, rtol=1e-5, atol=1e-9)
    assert np.allclose(net.params["crf"][0].diff, scale * d_theta, rtol=1e-5, atol=1e-9)
    assert np.allclose(net.blobs["scores"].diff, scale * d_scores, rtol=1e-5, atol=1e-9)
    assert np.abs(net.blobs["weights"].diff).max() > 0
