"""CRFMarginals under pycaffe: Gibbs marginals match exact enumeration, the other methods
give what the sampler gives, and a deploy net takes theta from a training net's weights."""
import re

import numpy as np
import pytest

import sampler

pytestmark = pytest.mark.caffe

EDGES = [[0, 1], [1, 0], [1, 1]]


def make_net(caffe, tmp_path, kind, n=1, l=3, h=2, w=3, **config):
    """A deploy ("deploy") or training ("train", batch of 1) CRF layer on Input blobs."""
    from nets import crf
    from nets.runtime import net_from_text

    settings = {"num_labels": l, "edges": EDGES, "num_images": 5, **config}
    spec = crf.deploy_scores_net((n, l, h, w), settings) if kind == "deploy" else crf.loss_net((1, l, h, w), settings)
    return net_from_text(str(spec.to_proto()), caffe.TEST)


def tiny_model(l=3, h=2, w=3, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, (len(EDGES), l, l)).astype(np.float32)
    theta[rng.random(theta.shape) < 0.3] = -3.0
    return rng.normal(0, 1, (l, h, w)).astype(np.float32), theta


def test_gibbs_marginals_match_exact_enumeration(pycaffe, tmp_path):
    """n versions of one model are n independent chains: the mean of their estimates is within
    5 standard errors (from the spread between copies) of the exact marginals. (Version k adds k/2
    to every label's score at each pixel: the same posterior, but other scores, so another key for
    the sampler's streams, which depend on an image's own scores, not on its place in the batch.)"""
    n = 32
    scores, theta = tiny_model()
    net = make_net(pycaffe, tmp_path, "deploy", n=n, burn_in=10, samples=100, seed=3)
    net.params["crf"][0].data[...] = theta
    net.blobs["scores"].data[...] = scores + np.arange(n, dtype=np.float32)[:, None, None, None] / 2
    estimates = net.forward()["marginals"]
    assert np.allclose(estimates.sum(axis=1), 1, atol=1e-5)
    exact = sampler.exact.enumerate(scores, theta, sampler.parse_edges(EDGES)).marginals
    se = estimates.std(axis=0, ddof=1) / np.sqrt(n)
    assert (np.abs(estimates.mean(axis=0) - exact) / np.maximum(se, 1e-3)).max() < 5


def test_an_images_marginals_do_not_depend_on_its_batch(pycaffe, tmp_path):
    """The same image alone, or second in a batch beside another, gets the same Gibbs estimate
    bit for bit; two identical images in one batch get identical estimates."""
    scores, theta = tiny_model()
    other = tiny_model(seed=1)[0]
    alone = make_net(pycaffe, tmp_path, "deploy", n=1, burn_in=3, samples=7, seed=5)
    pair = make_net(pycaffe, tmp_path, "deploy", n=3, burn_in=3, samples=7, seed=5)
    for net in (alone, pair):
        net.params["crf"][0].data[...] = theta
    alone.blobs["scores"].data[...] = scores
    pair.blobs["scores"].data[...] = np.stack([other, scores, scores])
    one, three = alone.forward()["marginals"].copy(), pair.forward()["marginals"].copy()
    assert np.array_equal(three[1], one[0]) and np.array_equal(three[2], one[0])
    assert not np.array_equal(three[0], one[0])


@pytest.mark.parametrize("method", ["meanfield", "icm"])
def test_other_methods_are_the_samplers(pycaffe, tmp_path, method):
    scores, theta = tiny_model(l=4, h=5, w=6)
    net = make_net(pycaffe, tmp_path, "deploy", n=2, l=4, h=5, w=6, method=method, iterations=4)
    net.params["crf"][0].data[...] = theta
    net.blobs["scores"].data[...] = scores
    out = net.forward()["marginals"]
    batch, offsets = np.broadcast_to(scores, (2, 4, 5, 6)), sampler.parse_edges(EDGES)
    if method == "meanfield":
        expected = sampler.meanfield(batch, theta, offsets, iterations=4)
    else:
        expected = sampler.icm(batch, theta, offsets, iterations=4)[:, None] == np.arange(4)[:, None, None]
    assert np.allclose(out, expected, atol=1e-6)


def test_deploy_layer_takes_theta_from_an_exported_training_snapshot(pycaffe, tmp_path):
    from nets.export import export_model

    _, theta = tiny_model(l=4, h=5, w=6)
    train = make_net(pycaffe, tmp_path, "train", l=4, h=5, w=6)
    train.params["crf"][0].data[...] = theta
    snapshot = tmp_path / "trained.caffemodel"
    train.save(str(snapshot))
    export_model(snapshot, tmp_path / "model.caffemodel")
    for h, w in ((5, 6), (9, 13)):  # any image size
        deploy = make_net(pycaffe, tmp_path, "deploy", n=3, l=4, h=h, w=w)
        deploy.copy_from(str(tmp_path / "model.caffemodel"))
        assert np.array_equal(deploy.params["crf"][0].data, theta)
        deploy.blobs["scores"].data[...] = 0
        assert deploy.forward()["marginals"].shape == (3, 4, h, w)


@pytest.mark.parametrize("edges", [[[1, 0], [0, 1], [1, 1]], [[0, 1], [1, 0], [1, -1]]])
def test_a_model_of_other_edge_classes_is_refused_naming_both(pycaffe, tmp_path, edges):
    """Same number of classes, another order or another offset: the tables would be swapped."""
    from nets.export import export_model

    train = make_net(pycaffe, tmp_path, "train", l=4, h=5, w=6)
    train.save(str(tmp_path / "trained.caffemodel"))
    export_model(tmp_path / "trained.caffemodel", tmp_path / "model.caffemodel")
    deploy = make_net(pycaffe, tmp_path, "deploy", l=4, h=5, w=6, edges=edges)
    deploy.copy_from(str(tmp_path / "model.caffemodel"))
    with pytest.raises(ValueError, match=r"trained with edge classes \[\[0, 1\], \[1, 0\], \[1, 1\]\].*gives "
                                         + re.escape(str(edges))):
        deploy.forward()
