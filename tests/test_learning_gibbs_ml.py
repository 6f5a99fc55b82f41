"""sampler.learning.gibbs_ml_step, the paper's learning step as a plain function (no Caffe): it is
the statistics' difference of the sample it stores, its expectation is the exact gradient of the
log-likelihood (checked by enumeration and by finite differences of log Z), it continues each
chain's random streams, and GibbsCRFLoss is a thin adapter over it (bit for bit)."""
import itertools

import numpy as np
import pytest

import sampler
from sampler.learning import gibbs_ml_step

EDGES = "window:1"  # 4 classes, a diagonal among them


def tiny_model(rng, l=3, h=2, w=3):
    offsets = sampler.parse_edges(EDGES)
    theta = rng.normal(0, 0.7, (len(offsets), l, l)).astype(np.float32)
    theta[rng.random(theta.shape) < 0.3] = -3.0  # repulsive pairs
    return rng.normal(0, 1, (l, h, w)).astype(np.float32), theta, offsets


def rows_of(labels, steps, l):
    return sampler.ChainStore.encode_rows(labels, steps, l)


def test_step_returns_the_statistics_of_the_sample_it_stores():
    rng = np.random.default_rng(0)
    n, l, h, w = 3, 5, 6, 7
    offsets = sampler.parse_edges(EDGES)
    theta = rng.normal(0, 1, (len(offsets), l, l)).astype(np.float32)
    scores = rng.normal(0, 2, (n, l, h, w)).astype(np.float32)
    truth = rng.integers(0, l, (n, h, w)).astype(np.uint8)
    start = rng.integers(0, l, (n, h, w)).astype(np.uint8)
    steps = np.array([0, 4, 9])
    keys = np.array([7, 2, 5])
    step = gibbs_ml_step(scores, truth, theta, offsets, rows_of(start, steps, l), seed=3, keys=keys, sweeps=2)

    expected = start
    for s in range(2):  # what sampler.sweep does from the stored labelling, with the chains' counters
        expected = sampler.sweep(scores, expected, theta, offsets, seed=3, keys=keys, step=steps + s)
    assert np.array_equal(step.sample, expected)
    stored, stored_steps = sampler.ChainStore.decode_rows(step.rows, h, w, l)
    assert np.array_equal(stored, expected) and stored_steps.tolist() == [2, 6, 11]

    energy_gap = sampler.energy(scores, truth, theta, offsets) - sampler.energy(scores, expected, theta, offsets)
    assert step.value == pytest.approx(energy_gap.sum(), rel=1e-6)
    counts = sampler.pair_counts(truth, offsets, l) - sampler.pair_counts(expected, offsets, l)
    assert np.array_equal(step.d_theta, counts)
    onehot = np.arange(l)[None, :, None, None]
    d_scores = (truth[:, None] == onehot).astype(np.float32) - (expected[:, None] == onehot)
    assert np.array_equal(step.d_scores(), d_scores)
    out = np.full(d_scores.shape, 9.0, dtype=np.float32)
    assert step.d_scores(out, scale=0.5) is out and np.array_equal(out, 0.5 * d_scores)


def test_a_resumed_step_continues_the_same_streams():
    """Two steps of one sweep from the stored rows are one step of two sweeps, bit for bit:
    the streams are keyed by the chains' own sweep counters."""
    rng = np.random.default_rng(1)
    scores, theta, offsets = tiny_model(rng, l=4, h=5, w=6)
    scores = np.repeat(scores[None], 2, axis=0)
    truth = rng.integers(0, 4, (2, 5, 6)).astype(np.uint8)
    rows = rows_of(rng.integers(0, 4, (2, 5, 6)), [3, 0], 4)
    once = gibbs_ml_step(scores, truth, theta, offsets, rows, seed=1, keys=np.array([0, 1]), sweeps=2)
    first = gibbs_ml_step(scores, truth, theta, offsets, rows, seed=1, keys=np.array([0, 1]))
    second = gibbs_ml_step(scores, truth, theta, offsets, first.rows, seed=1, keys=np.array([0, 1]))
    assert np.array_equal(second.rows, once.rows)


def test_changed_rows_are_refused():
    rng = np.random.default_rng(2)
    scores, theta, offsets = tiny_model(rng)
    rows = rows_of(np.zeros((1, 2, 3), dtype=np.uint8), [0], 3)
    rows[0, -1] += 1e-3  # as a solver step would
    with pytest.raises(sampler.ChainStoreError, match="packed labels were changed"):
        gibbs_ml_step(scores[None], np.zeros((1, 2, 3), np.uint8), theta, offsets, rows, keys=np.array([0]))


def exact_posterior(scores, theta, offsets):
    """Every labelling (S, H, W) of one image and its probability (S,)."""
    l, h, w = scores.shape
    states = np.array(list(itertools.product(range(l), repeat=h * w)), dtype=np.uint8).reshape(-1, h, w)
    energy = sampler.energy(np.broadcast_to(scores, (len(states), l, h, w)), states, theta, offsets)
    p = np.exp(energy - energy.max())
    return states, p / p.sum()


def test_expected_gradient_is_the_exact_gradient_of_the_log_likelihood():
    """B chains started from exact posterior draws stay exact after a sweep, so the mean of the
    step's gradients estimates E[one-hot(truth) - one-hot(y)] and E[counts(truth) - counts(y)]:
    the exact gradients of log p(truth) (from enumeration, whose pair expectations are checked
    against finite differences of log Z). Within 5 standard errors of the per-chain spread."""
    rng = np.random.default_rng(3)
    scores, theta, offsets = tiny_model(rng)
    l, h, w = scores.shape
    truth = rng.integers(0, l, (h, w)).astype(np.uint8)
    exact = sampler.exact.enumerate(scores, theta, offsets)

    eps = 1e-3  # d log Z / d theta[c, a, b] = E[counts[c, a, b]]
    for c, a, b in [(0, 1, 2), (3, 0, 0), (2, 2, 1)]:
        bumped = [theta.copy(), theta.copy()]
        bumped[0][c, a, b] += eps
        bumped[1][c, a, b] -= eps
        up, down = (sampler.exact.enumerate(scores, t.astype(np.float64), offsets).log_partition for t in bumped)
        assert (up - down) / (2 * eps) == pytest.approx(exact.pair_expectations[c, a, b], abs=2e-4)

    chains = 4000
    states, p = exact_posterior(scores, theta, offsets)
    start = states[rng.choice(len(states), size=chains, p=p)]
    step = gibbs_ml_step(np.broadcast_to(scores, (chains, l, h, w)).copy(), np.broadcast_to(truth, (chains, h, w)).copy(),
                         theta, offsets, rows_of(start, np.zeros(chains), l), seed=11, keys=np.arange(chains))
    per_chain_pairs = np.stack([sampler.pair_counts(truth[None], offsets, l) - sampler.pair_counts(s[None], offsets, l)
                                for s in step.sample])
    assert np.array_equal(per_chain_pairs.sum(axis=0), step.d_theta)
    per_chain_unary = step.d_scores()

    def within(per_chain, expected):
        se = per_chain.std(axis=0, ddof=1) / np.sqrt(chains)
        z = np.abs(per_chain.mean(axis=0) - expected) / np.maximum(se, 1e-3)
        assert z.max() < 5, z.max()

    within(per_chain_pairs, sampler.pair_counts(truth[None], offsets, l) - exact.pair_expectations)
    within(per_chain_unary, (truth == np.arange(l)[:, None, None]) - exact.marginals)


@pytest.mark.caffe
def test_the_loss_layer_is_a_thin_adapter_over_the_step(pycaffe):
    """GibbsCRFLoss's loss, stored chains and diffs are the step's, bit for bit."""
    from nets import crf
    from nets.runtime import net_from_text

    rng = np.random.default_rng(4)
    n, l, h, w, weight = 3, 4, 5, 6, 2.0
    settings = {"num_labels": l, "edges": EDGES, "num_images": 6, "seed": 5, "sweeps": 2}
    net = net_from_text("force_backward: true\n" + str(crf.loss_net((n, l, h, w), settings, loss_weight=weight)
                                                       .to_proto()), pycaffe.TRAIN)
    theta = rng.normal(0, 1, (4, l, l)).astype(np.float32)
    scores = rng.normal(0, 2, (n, l, h, w)).astype(np.float32)
    truth = rng.integers(0, l, (n, h, w)).astype(np.uint8)
    index = np.array([5, 0, 3])
    net.params["crf"][0].data[...] = theta
    net.blobs["scores"].data[...] = scores
    net.blobs["label"].data[...] = truth[:, None]
    net.blobs["index"].data[...] = index
    rows = net.params["crf"][2].data[index].copy()
    loss = float(net.forward()["loss"])
    net.backward()

    step = gibbs_ml_step(scores, truth, theta, sampler.parse_edges(EDGES), rows, seed=5, keys=index, sweeps=2)
    pixels = truth.size
    assert np.array_equal(net.params["crf"][2].data[index], step.rows)
    assert loss == np.float32(-step.value / pixels)
    assert np.array_equal(net.blobs["scores"].diff, step.d_scores(scale=-weight / pixels))
    assert np.array_equal(net.params["crf"][0].diff, np.float32(-weight / pixels * step.d_theta))
