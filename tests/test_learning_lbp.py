"""Learning with loopy-BP beliefs (sampler.learning.loopy_bp): the gradients are the truth's
statistics minus the beliefs' (checked against an explicit loop), on a tree the value and the
gradients are the exact log-likelihood's, at a loopy fixed point the gradients are the Bethe
value's own; the warm start's store and its memory; and the warm layer WarmLoopyBPLoss (pycaffe;
LoopyBPLoss is tested with the other learners' layers in test_learning_layers.py)."""
import numpy as np
import pytest

import sampler
from sampler import belief_propagation as bp
from sampler import exact
from sampler.learning import MessageStore, loopy_bp, memory_figures

LOOPY = sampler.parse_edges([[0, 1], [1, 0], [1, -2], [0, 9]])


def tiny(seed, n=2, num_labels=3, h=4, w=5, offsets=LOOPY, scale=1.0):
    g = np.random.default_rng(seed)
    scores = g.normal(0, 1.5, (n, num_labels, h, w)).astype(np.float32)
    theta = (scale * g.normal(size=(len(offsets), num_labels, num_labels))).astype(np.float32)
    return scores, g.integers(0, num_labels, (n, h, w)), theta


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_are_the_truths_statistics_minus_the_beliefs(backend):
    """Against an explicit loop over pixels and edges, with the beliefs of the plain-loop LBP."""
    scores, labels, theta = tiny(0, scale=1.5)
    value, d_scores, d_theta = loopy_bp(scores, labels, theta, LOOPY, iterations=6, damping=0.7, backend=backend)
    beliefs = bp.run(scores, theta, LOOPY, iterations=6, damping=0.7, backend="numpy")
    n, num_labels, h, w = scores.shape
    onehot, counts = np.zeros(scores.shape), np.zeros(theta.shape)
    for k in range(n):
        for y in range(h):
            for x in range(w):
                onehot[k, labels[k, y, x], y, x] = 1
                for c, (dy, dx) in enumerate(LOOPY.tolist()):
                    if 0 <= y + dy < h and 0 <= x + dx < w:
                        counts[c, labels[k, y, x], labels[k, y + dy, x + dx]] += 1
    assert np.abs(d_scores - (onehot - beliefs.nodes)).max() < 1e-6
    assert np.abs(d_theta - (counts - beliefs.pairs)).max() < 1e-5
    assert np.allclose(value, sampler.energy(scores, labels, theta, LOOPY) - beliefs.log_partition, atol=1e-6)
    assert d_scores.dtype == d_theta.dtype == np.float32 and not d_theta[3].any()  # (0, 9) has no edges


@pytest.mark.parametrize("edges, shape", [([[0, 1]], (1, 6)), ([[0, 1], [1, -1]], (2, 2))])
def test_on_a_tree_it_is_maximum_likelihood(edges, shape):
    """Converged on a tree the beliefs are the marginals, so the value is log p(truth) and the
    gradients are the exact log-likelihood's: one-hot minus marginals, counts minus expected pairs."""
    offsets = sampler.parse_edges(edges)
    scores, labels, theta = tiny(1, n=1, h=shape[0], w=shape[1], offsets=offsets, scale=1.5)
    value, d_scores, d_theta = loopy_bp(scores, labels, theta, offsets, iterations=10, damping=1.0)
    truth = exact.enumerate(scores[0], theta, offsets)
    log_p = sampler.energy(scores, labels, theta, offsets)[0] - truth.log_partition
    assert value[0] == pytest.approx(log_p, abs=1e-5)
    onehot = labels[:, None] == np.arange(3)[:, None, None]
    assert np.abs(d_scores[0] - (onehot[0] - truth.marginals)).max() < 1e-5
    assert np.abs(d_theta - (sampler.pair_counts(labels, offsets, 3) - truth.pair_expectations)).max() < 1e-5


def test_at_a_loopy_fixed_point_the_gradients_are_the_values():
    """The Bethe free energy is stationary at a BP fixed point, so there the belief gradients are
    the derivatives of the value E(truth) - log Z_Bethe: central differences, each side converged."""
    scores, labels, theta = tiny(2, n=1, h=3, w=4, scale=0.4)

    def run():  # the plain loops: no thread start-up per iteration on a busy machine
        return loopy_bp(scores, labels, theta, LOOPY, iterations=150, damping=0.5, backend="numpy")

    def value():
        return run()[0].sum()

    _, d_scores, d_theta = run()
    step = 1e-2  # float32 arrays: the step is exact in them only roughly, so measure it
    for array, gradient, index in ((theta, d_theta, (1, 2, 0)), (theta, d_theta, (0, 1, 1)),
                                   (scores, d_scores, (0, 2, 1, 3))):
        saved = array[index]
        array[index] = saved + step
        up, above = value(), array[index]
        array[index] = saved - step
        down, below = value(), array[index]
        array[index] = saved
        assert (up - down) / (above - below) == pytest.approx(gradient[index], abs=1e-4)
        assert abs(gradient[index]) > 0.02


def test_the_stored_messages_are_a_warm_start():
    """Two visits of 3 iterations through the store are one of 6 from cold; images not in the
    batch keep their messages."""
    scores, labels, theta = tiny(3, n=3)
    store = MessageStore(5, len(LOOPY), 3, 4, 5)
    index = np.array([4, 0, 2])

    def visit():
        return store.step(index, lambda m: loopy_bp(scores, labels, theta, LOOPY, iterations=3, messages=m))
    first = visit()
    assert store.messages[index].any() and not store.messages[[1, 3]].any()
    second = visit()
    expected = loopy_bp(scores, labels, theta, LOOPY, iterations=6)
    for got, want in zip(second, expected):
        assert np.array_equal(got, want)
    assert not np.array_equal(first[2], second[2])


def test_memory_figures_at_the_default_and_the_papers_scale():
    default = memory_figures(2000, 24, 20, 120, 160)
    assert default["messages"] == 2000 * 48 * 20 * 120 * 160 * 4 == 147_456_000_000
    assert default["chains"] == 2000 * 120 * 160
    assert default["chain_blob"] == 2000 * 4 * (2 + -(-120 * 160 // 7))
    assert default["chain_blob"] == sampler.ChainStore(1, 120, 160, 20).to_blob().nbytes * 2000
    paper = memory_figures(2000, 24, 20, 240, 320)
    assert paper["messages"] == 4 * default["messages"] and paper["chains"] == 4 * default["chains"]


def test_a_store_beyond_half_the_memory_is_refused_by_name():
    with pytest.raises(ValueError, match="num_images: the messages of 1000000 images of 120x160 \\(HxW\\) with 24 "
                                         "edge classes and 20 labels take 73728.0 GB, more than half"):
        MessageStore(10 ** 6, 24, 20, 120, 160)


# The Caffe layers

EDGES = [[0, 1], [1, 0], [1, -2]]


@pytest.fixture
def crf():
    pytest.importorskip("caffe", reason="pycaffe not importable: run `make setup` first")
    from nets import crf
    return crf


def make_net(caffe, crf, warm=False, n=2, l=3, h=5, w=6, weight=1.0, **config):
    from nets.runtime import net_from_text

    settings = {"num_labels": l, "edges": EDGES, **({"num_images": 4} if warm else {}), **config}
    spec = crf.loss_net((n, l, h, w), settings, chains=warm, layer=crf.LOOPY_BP_WARM if warm else crf.LOOPY_BP,
                        loss_weight=weight)
    return net_from_text("force_backward: true\n" + str(spec.to_proto()), caffe.TRAIN)


def feed(net, seed, n=2, l=3, h=5, w=6, index=None):
    g = np.random.default_rng(seed)
    scores, labels = g.normal(0, 2, (n, l, h, w)).astype(np.float32), g.integers(0, l, (n, h, w))
    net.blobs["scores"].data[...] = scores
    net.blobs["label"].data[...] = labels[:, None]
    if index is not None:
        net.blobs["index"].data[...] = index
    return scores, labels


@pytest.mark.caffe
def test_warm_layer_keeps_each_images_messages(pycaffe, crf):
    """Two forwards of images 3 and 1 with T = 2 are one cold forward with T = 4; then images 0
    and 2 start cold. The layer has theta and the offsets only: the messages stay out of the
    snapshot."""
    net = make_net(pycaffe, crf, warm=True, iterations=2)
    scores, labels = feed(net, 3, index=[3, 1])
    theta = np.random.default_rng(4).normal(0, 1, net.params["crf"][0].data.shape).astype(np.float32)
    net.params["crf"][0].data[...] = theta
    offsets = sampler.parse_edges(EDGES)
    net.forward()
    second = float(net.forward()["loss"])
    value, d_scores, _ = loopy_bp(scores, labels, theta, offsets, iterations=4)
    assert second == pytest.approx(-value.sum() / labels.size, rel=1e-6)
    net.blobs["index"].data[...] = [0, 2]
    cold = float(net.forward()["loss"])
    assert cold == pytest.approx(-loopy_bp(scores, labels, theta, offsets, iterations=2)[0].sum() / labels.size,
                                 rel=1e-6)
    assert len(net.params["crf"]) == 2


@pytest.mark.caffe
@pytest.mark.parametrize("warm, key, value, match", [
    (False, "iterations", 0, "param_str key 'iterations' must be an integer >= 1"),
    (False, "damping", 0, "param_str key 'damping' must be a number in \\(0, 1\\]"),
    (False, "damping", 1.5, "param_str key 'damping' must be a number in \\(0, 1\\]"),
    (False, "tables", 2, "param_str key 'tables' must be left out \\(loopy BP learns the stationary model only\\)"),
    (False, "num_images", 4, "unknown param_str key\\(s\\) \\['num_images'\\]"),
    (False, "sweeps", 1, "unknown param_str key\\(s\\) \\['sweeps'\\]"),
    (True, "num_images", 0, "param_str key 'num_images' must be an integer >= 1"),
    (True, "num_images", 10 ** 9, "param_str key 'num_images' = 1000000000: the messages of 1000000000 images"),
])
def test_layer_bad_settings_name_the_key(pycaffe, crf, warm, key, value, match):
    name = "WarmLoopyBPLoss" if warm else "LoopyBPLoss"
    with pytest.raises(ValueError, match=f"{name}: {match}"):
        make_net(pycaffe, crf, warm=warm, **{key: value})


@pytest.mark.caffe
def test_warm_layer_refuses_an_index_beyond_its_store(pycaffe, crf):
    net = make_net(pycaffe, crf, warm=True)
    feed(net, 5, index=[0, 4])
    with pytest.raises(ValueError, match="bottom\\[2\\] \\(index, message store of num_images=4\\) holds 4"):
        net.forward()


@pytest.mark.caffe
def test_deploy_layer_infers_with_lbp(pycaffe, crf):
    """CRFMarginals "method": "lbp" is sampler.lbp with its "iterations"; not with "tables"."""
    from nets.runtime import net_from_text

    settings = {"num_labels": 3, "edges": EDGES, "method": "lbp", "iterations": 4}
    net = net_from_text(str(crf.deploy_scores_net((2, 3, 5, 6), settings).to_proto()), pycaffe.TEST)
    theta = np.random.default_rng(6).normal(size=net.params["crf"][0].data.shape).astype(np.float32)
    net.params["crf"][0].data[...] = theta
    scores = np.random.default_rng(7).normal(size=(2, 3, 5, 6)).astype(np.float32)
    net.blobs["scores"].data[...] = scores
    out = net.forward()["marginals"]
    assert np.array_equal(out, sampler.lbp(scores, theta, sampler.parse_edges(EDGES), iterations=4))
    with pytest.raises(ValueError, match="CRFMarginals: param_str 'method' \"lbp\" does not go with 'tables'"):
        net_from_text(str(crf.deploy_scores_net((2, 3, 5, 6), {**settings, "tables": 2}).to_proto()), pycaffe.TEST)
