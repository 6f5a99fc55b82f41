"""GibbsCRFLoss under pycaffe: its diffs are an unbiased gradient (checked against exact
enumeration on a tiny model), its loss is the softmax loss when theta = 0, and bad input
raises an error that names the blob."""
import numpy as np
import pytest

import sampler

pytestmark = pytest.mark.caffe


def make_net(caffe, tmp_path, n, l, h, w, weight=1.0, **config):
    """The training CRF layer on Input blobs, beside Caffe's softmax loss (weight 0) on the same scores."""
    from caffe import layers as L

    from nets import crf
    from nets.runtime import net_from_text

    settings = {"num_labels": l, "edges": "window:1", "num_images": n, **config}
    spec = crf.loss_net((n, l, h, w), settings, loss_weight=weight)
    spec.softmax_loss = L.SoftmaxWithLoss(spec.scores, spec.label, loss_weight=0)
    # force_backward: scores feeds two layers, so Caffe splits it, and only this carries the
    # CRF layer's scores gradient back through the split to the Input blob
    return net_from_text("force_backward: true\n" + str(spec.to_proto()), caffe.TRAIN)


def feed(net, scores, label, index):
    net.blobs["scores"].data[...] = scores
    net.blobs["label"].data[...] = label[:, None]
    net.blobs["index"].data[...] = index


def test_loss_is_the_energy_gap_of_sample_and_truth(pycaffe, tmp_path):
    rng = np.random.default_rng(0)
    net = make_net(pycaffe, tmp_path, 3, 5, 6, 7)
    offsets = sampler.parse_edges("window:1")
    theta = rng.normal(0, 1, (len(offsets), 5, 5)).astype(np.float32)
    net.params["crf"][0].data[...] = theta
    scores, truth, index = rng.normal(0, 2, (3, 5, 6, 7)).astype(np.float32), rng.integers(0, 5, (3, 6, 7)), [2, 0, 1]
    feed(net, scores, truth, index)
    loss = float(net.forward()["loss"])
    sample, _ = sampler.ChainStore.decode_rows(net.params["crf"][2].data[index], 6, 7, 5)
    gap = sampler.energy(scores, sample, theta, offsets) - sampler.energy(scores, truth, theta, offsets)
    assert loss == pytest.approx(gap.sum() / truth.size, rel=1e-5)
    assert not np.array_equal(sample, truth)


def test_the_offsets_blob_records_the_edge_classes(pycaffe, tmp_path):
    net = make_net(pycaffe, tmp_path, 2, 3, 4, 4, edges=[[0, 2], [1, -1]])
    assert net.params["crf"][1].data.tolist() == [[0, 2], [1, -1]]
    net.params["crf"][1].data[...] = [[1, -1], [0, 2]]  # as if copied from weights trained otherwise
    feed(net, np.zeros((2, 3, 4, 4)), np.zeros((2, 4, 4)), [0, 1])
    with pytest.raises(ValueError, match=r"trained with edge classes \[\[1, -1\], \[0, 2\]\]"):
        net.forward()


def test_two_images_of_one_chain_in_a_batch_are_refused(pycaffe, tmp_path):
    net = make_net(pycaffe, tmp_path, 3, 3, 4, 4, num_images=5)
    feed(net, np.zeros((3, 3, 4, 4)), np.zeros((3, 4, 4)), [4, 1, 4])
    with pytest.raises(ValueError, match="image index 4 twice in one batch"):
        net.forward()


def test_diffs_average_to_the_exact_gradient(pycaffe, tmp_path):
    """B copies of one 2x3 image (L = 3, 4 edge classes, a random repulsive theta) are B
    independent persistent chains. Per iteration, the sample is read back from scores.diff
    and the pair counts from theta.diff; their averages over chains and iterations must
    match the exact marginals and pair expectations within 5 standard errors, estimated
    from the spread of the per-chain averages (so chain autocorrelation is accounted for)."""
    b, l, h, w, burn_in, iterations = 48, 3, 2, 3, 10, 120
    rng = np.random.default_rng(1)
    net = make_net(pycaffe, tmp_path, b, l, h, w, weight=2.0, seed=7)
    offsets = sampler.parse_edges("window:1")
    theta = rng.normal(0, 0.7, (len(offsets), l, l)).astype(np.float32)
    theta[rng.random(theta.shape) < 0.3] = -3.0  # repulsive pairs
    net.params["crf"][0].data[...] = theta
    scores = rng.normal(0, 1, (l, h, w)).astype(np.float32)
    truth = rng.integers(0, l, (h, w))
    feed(net, np.broadcast_to(scores, (b, l, h, w)), np.broadcast_to(truth, (b, h, w)), np.arange(b))
    exact = sampler.exact.enumerate(scores, theta, offsets)

    pixels = b * h * w
    onehot_true = truth == np.arange(l)[:, None, None]
    pairs_true = sampler.pair_counts(truth[None].astype(np.uint8), offsets, l)
    chain_marginals = np.zeros((b, l, h, w))
    chain_pairs = np.zeros((b,) + theta.shape)
    batch_pairs = np.zeros(theta.shape)
    for it in range(burn_in + iterations):
        net.clear_param_diffs()
        net.forward()
        net.backward()
        # diff = -loss_weight * (onehot(truth) - onehot(sample)) / P
        sample_onehot = onehot_true + net.blobs["scores"].diff * pixels / 2.0
        assert np.allclose(sample_onehot, np.round(sample_onehot), atol=1e-4)
        assert np.allclose(sample_onehot.sum(axis=1), 1, atol=1e-4)
        sample = sample_onehot.argmax(axis=1).astype(np.uint8)
        counts = b * pairs_true + net.params["crf"][0].diff * pixels / 2.0
        assert np.allclose(counts, sampler.pair_counts(sample, offsets, l), atol=1e-3)
        if it >= burn_in:
            chain_marginals += sample_onehot
            chain_pairs += [sampler.pair_counts(s[None], offsets, l) for s in sample]
            batch_pairs += counts
    chain_marginals /= iterations
    chain_pairs /= iterations

    def check(per_chain, mean, expected):
        se = per_chain.std(axis=0, ddof=1) / np.sqrt(b)
        z = np.abs(mean - expected) / np.maximum(se, 1e-3)
        assert z.max() < 5, (z.max(), mean, expected)

    check(chain_marginals, chain_marginals.mean(axis=0), exact.marginals)
    check(chain_pairs, batch_pairs / (b * iterations), exact.pair_expectations)


def test_chains_persist_and_steps_count_sweeps(pycaffe, tmp_path):
    net = make_net(pycaffe, tmp_path, 2, 4, 5, 6, num_images=5, sweeps=3)
    rng = np.random.default_rng(2)
    start = net.params["crf"][2].data.copy()
    feed(net, rng.normal(0, 1, (2, 4, 5, 6)), rng.integers(0, 4, (2, 5, 6)), [4, 1])
    net.forward()
    chains = net.params["crf"][2].data
    labels, steps = sampler.ChainStore.decode_rows(chains, 5, 6, 4)
    assert steps.tolist() == [0, 3, 0, 0, 3]
    assert (chains[[0, 2, 3]] == start[[0, 2, 3]]).all()
    net.backward()
    assert not net.params["crf"][1].diff.any() and not net.params["crf"][2].diff.any()


def test_propagate_down_false_stops_the_gradient(pycaffe, tmp_path):
    """Separate learning: with propagate_down false the layer leaves the scores' diff alone
    and Caffe runs no backward in the layer below (a learnable bias standing for the CNN)."""
    from caffe import layers as L

    from nets import crf
    from nets.runtime import net_from_text

    spec = pycaffe.NetSpec()
    spec.raw, spec.label, spec.index = L.Input(shape=[{"dim": [2, 3, 4, 4]}, {"dim": [2, 1, 4, 4]}, {"dim": [2]}],
                                               ntop=3)
    spec.scores = L.Bias(spec.raw, name="cnn", param=[{"lr_mult": 1}])
    settings = {"num_labels": 3, "edges": "window:1", "num_images": 2}
    spec.loss = crf.loss_layer(spec.scores, spec.label, spec.index, settings, to_scores=False)
    net = net_from_text(str(spec.to_proto()), pycaffe.TRAIN)
    rng = np.random.default_rng(3)
    net.blobs["raw"].data[...] = rng.normal(0, 1, (2, 3, 4, 4))
    net.blobs["label"].data[...] = rng.integers(0, 3, (2, 1, 4, 4))
    net.blobs["index"].data[...] = [0, 1]
    net.blobs["scores"].diff[...] = 7.0
    net.forward()
    net.backward()
    assert (net.blobs["scores"].diff == 7.0).all()
    assert not net.params["cnn"][0].diff.any()
    assert net.params["crf"][0].diff.any()


def test_an_index_that_comes_back_with_another_ground_truth_is_refused(pycaffe, tmp_path):
    """Two training images with one index (files of a source repeating indices) share one chain."""
    net = make_net(pycaffe, tmp_path, 2, 3, 4, 4, num_images=5)
    feed(net, np.zeros((2, 3, 4, 4)), np.zeros((2, 4, 4)), [3, 1])
    net.forward()
    feed(net, np.zeros((2, 3, 4, 4)), np.zeros((2, 4, 4)), [1, 3])  # the same images again: fine
    net.forward()
    labels = np.zeros((2, 4, 4))
    labels[1, 0, 0] = 2
    feed(net, np.zeros((2, 3, 4, 4)), labels, [1, 3])
    with pytest.raises(ValueError, match="image index 3 came with another ground truth"):
        net.forward()


def test_edge_classes_beyond_the_image_are_warned_about(pycaffe, tmp_path, capfd):
    make_net(pycaffe, tmp_path, 1, 3, 4, 6, edges=[[0, 1], [0, 6], [4, 0]])
    assert "edge classes [[0, 6], [4, 0]] reach past the 4x6 images" in capfd.readouterr().err


@pytest.mark.parametrize("blob, value, match", [
    ("label", 3, "bottom\\[1\\] \\(label\\)"),
    ("label", 1.5, "bottom\\[1\\] \\(label\\)"),
    ("index", 4, "bottom\\[2\\] \\(index"),
    ("index", -1, "bottom\\[2\\] \\(index"),
    ("scores", np.nan, "bottom\\[0\\] \\(scores\\)"),
])
def test_bad_values_name_the_blob(pycaffe, tmp_path, blob, value, match):
    net = make_net(pycaffe, tmp_path, 2, 3, 4, 4, num_images=4)
    feed(net, np.zeros((2, 3, 4, 4)), np.zeros((2, 4, 4)), [0, 1])
    net.blobs[blob].data.reshape(-1)[-1] = value
    with pytest.raises(ValueError, match=match):
        net.forward()


def test_corrupt_chain_store_says_to_freeze_it(pycaffe, tmp_path):
    net = make_net(pycaffe, tmp_path, 2, 3, 4, 4)
    feed(net, np.zeros((2, 3, 4, 4)), np.zeros((2, 4, 4)), [0, 1])
    net.params["crf"][2].data[1, 2] *= 0.9999  # what a solver update would do
    with pytest.raises(ValueError, match="blobs\\[2\\].*third param .*lr_mult: 0 decay_mult: 0"):
        net.forward()


def test_shape_mismatch_and_bad_param_str_name_the_problem(pycaffe, tmp_path):
    with pytest.raises(ValueError, match="bottom\\[0\\] \\(scores\\).*num_labels = 4"):
        make_net(pycaffe, tmp_path, 2, 3, 4, 4, num_labels=4)
    with pytest.raises(ValueError, match="'sweeps'"):
        make_net(pycaffe, tmp_path, 2, 3, 4, 4, sweeps="two")
    net = make_net(pycaffe, tmp_path, 2, 3, 4, 4)
    net.blobs["label"].reshape(2, 1, 4, 5)
    with pytest.raises(ValueError, match="bottom\\[1\\] \\(label\\)"):
        net.forward()


def test_potts_projects_the_pair_statistics_and_refuses_a_non_potts_theta(pycaffe, tmp_path):
    """"potts": the same sample as without it (same seed, same Potts theta), theta's diff the
    projection of the unrestricted one onto w_c * I, theta re-projected before use."""
    rng = np.random.default_rng(4)
    scores, truth = rng.normal(0, 1, (2, 3, 5, 6)).astype(np.float32), rng.integers(0, 3, (2, 5, 6))
    theta = (np.array([0.5, -1.0, 2.0, 0.3])[:, None, None] * np.eye(3)).astype(np.float32)
    diffs = {}
    for potts in (False, True):
        net = make_net(pycaffe, tmp_path, 2, 3, 5, 6, seed=3, potts=potts)
        net.params["crf"][0].data[...] = theta
        feed(net, scores, truth, [0, 1])
        net.clear_param_diffs()
        net.forward()
        net.backward()
        diffs[potts] = net.params["crf"][0].diff.copy()
    assert sampler.learning.potts_violation(diffs[False]) is not None  # off-diagonal statistics exist
    assert np.allclose(diffs[True], sampler.learning.potts_project(diffs[False]), atol=1e-7)
    assert np.abs(np.diagonal(diffs[True], axis1=1, axis2=2)).max() > 1e-3
    net.params["crf"][0].data[1, 2, 2] = np.nextafter(np.float32(-1), np.float32(0))  # solver rounding
    net.forward()
    assert np.array_equal(net.params["crf"][0].data, sampler.learning.potts_project(net.params["crf"][0].data))
    net.params["crf"][0].data[1, 0, 2] = 0.25
    with pytest.raises(ValueError, match="GibbsCRFLoss: blobs\\[0\\] \\(theta\\).*theta\\[1, 0, 2\\] = 0.25"):
        net.forward()
