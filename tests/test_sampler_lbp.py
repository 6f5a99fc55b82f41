"""Loopy belief propagation (sampler.belief_propagation): exact on trees (beliefs, pair beliefs and
the Bethe log-partition against enumeration), the Numba kernels equal to the plain loops on a
loopy grid, one message by hand, damping's fixed point, warm starts, inference and bad input."""
import numpy as np
import pytest

import sampler
from sampler import belief_propagation as bp
from sampler import exact, inference

BACKENDS = ("numpy", "numba")
# graphs that are trees: a chain; a path through three classes (one with dx < 0) and a class
# without edges; the path 2-0-3-1 of a 1x4 image through offsets (0, 2) and (0, 3)
TREES = [((1, 6), [[0, 1]], 3),
         ((2, 2), [[0, 1], [1, -1], [0, 9]], 3),
         ((1, 4), [[0, 2], [0, 3]], 4)]
LOOPY = sampler.parse_edges([[0, 1], [1, 0], [1, -2], [2, 1], [0, 9]])


def model(seed, n, num_labels, h, w, offsets, scale=1.0):
    g = np.random.default_rng(seed)
    scores = g.normal(0, 1.5, (n, num_labels, h, w)).astype(np.float32)
    theta = (scale * g.normal(size=(len(offsets), num_labels, num_labels))).astype(np.float32)
    return scores, theta


def cold(scores, offsets):
    n, num_labels, h, w = scores.shape
    return np.zeros(bp.message_shape(n, len(offsets), num_labels, h, w), dtype=np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, edges, num_labels", TREES)
@pytest.mark.parametrize("damping", [1.0, 0.5])
def test_on_a_tree_beliefs_are_the_exact_marginals(backend, shape, edges, num_labels, damping):
    offsets = sampler.parse_edges(edges)
    scores, theta = model(0, 1, num_labels, *shape, offsets, scale=1.5)
    truth = exact.enumerate(scores[0], theta, offsets)
    beliefs = bp.run(scores, theta, offsets, iterations=10 if damping == 1 else 60, damping=damping, backend=backend)
    assert np.abs(beliefs.nodes[0] - truth.marginals).max() < 1e-5
    assert np.abs(beliefs.pairs - truth.pair_expectations).max() < 1e-5
    assert beliefs.log_partition[0] == pytest.approx(truth.log_partition, abs=1e-5)
    assert np.abs(truth.marginals - np.exp(scores[0]) / np.exp(scores[0]).sum(axis=0)).max() > 0.05  # theta matters


def test_too_few_iterations_are_not_exact_on_a_chain():
    """Information travels one edge per iteration: after 2 the ends of a 6-pixel chain know nothing
    of each other, so the test above needs its iterations."""
    offsets = sampler.parse_edges([[0, 1]])
    scores, theta = model(0, 1, 3, 1, 6, offsets, scale=1.5)
    truth = exact.enumerate(scores[0], theta, offsets)
    assert np.abs(bp.lbp(scores, theta, offsets, iterations=2, damping=1.0)[0] - truth.marginals).max() > 1e-3


def test_kernels_are_the_plain_loops_on_a_loopy_grid():
    """7 damped iterations from cold: messages equal to float32 rounding (the kernels compute in
    float32 from the cavities on), beliefs and pair beliefs to 1e-6, the Bethe log-partition (a
    sum over every edge of float32 terms) to a few float32 roundings relative."""
    scores, theta = model(1, 2, 4, 5, 6, LOOPY, scale=1.5)
    messages = [cold(scores, LOOPY), cold(scores, LOOPY)]
    runs = [bp.run(scores, theta, LOOPY, iterations=7, damping=0.6, messages=m, backend=b)
            for m, b in zip(messages, BACKENDS)]
    assert np.abs(messages[0] - messages[1]).max() <= 1e-6 * max(1.0, np.abs(messages[0]).max())
    assert np.abs(runs[0].nodes - runs[1].nodes).max() < 1e-6
    assert np.abs(runs[0].pairs - runs[1].pairs).max() < 1e-6
    assert np.allclose(runs[0].log_partition, runs[1].log_partition, rtol=2.0 ** -21, atol=1e-6)
    # the layout: messages of class c = 4 ("[0, 9]") lie outside the image and stay zero
    assert not messages[1][:, :, 4].any() and messages[1][:, :, :4].any()


@pytest.mark.parametrize("low, high", [(-9, 6), (-30, 30)])
def test_kernels_are_the_plain_loops_on_strong_tables(low, high):
    """Tables like the piecewise ones (strongly repulsive, -9..6) and wide ones (range 60, near the
    kernels' bound of 64): messages after 10 iterations within 2**-16 (~64 float32 roundings of
    their largest entry, the rounding compounding over the iterations), beliefs within 1e-5."""
    g = np.random.default_rng(7)
    scores = g.normal(0, 3, (1, 6, 7, 9)).astype(np.float32)
    theta = g.uniform(low, high, (len(LOOPY), 6, 6))
    messages = [cold(scores, LOOPY), cold(scores, LOOPY)]
    runs = [bp.run(scores, theta, LOOPY, iterations=10, damping=0.5, messages=m, backend=b)
            for m, b in zip(messages, BACKENDS)]
    scale = max(1.0, np.abs(messages[0]).max())
    assert np.isfinite(messages[1]).all()
    assert np.abs(messages[0] - messages[1]).max() <= 2.0 ** -16 * scale
    assert np.abs(runs[0].nodes - runs[1].nodes).max() < 1e-5
    assert np.abs(runs[0].pairs - runs[1].pairs).max() < 1e-5
    assert np.allclose(runs[0].log_partition, runs[1].log_partition, rtol=2.0 ** -18, atol=1e-5)


def test_kernels_refuse_tables_beyond_their_range():
    """+-40 tables (range ~80) would underflow the kernels' float32 exps: a clear error, no NaN."""
    scores, _ = model(0, 1, 4, 3, 4, LOOPY)
    theta = np.random.default_rng(0).uniform(-40, 40, (len(LOOPY), 4, 4))
    with pytest.raises(ValueError, match="theta: the LBP kernels need"):
        bp.lbp(scores, theta, LOOPY)
    assert np.isfinite(bp.lbp(scores, theta, LOOPY, backend="numpy")).all()  # the reference has no bound


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_iteration_from_cold_by_hand(backend):
    """With uniform messages the message into j = i + d_c from i is log sum_l exp(u_i(l) +
    theta[c, l, m]) and back log sum_m exp(theta[c, l, m] + u_j(m)), less their maxima; damping
    d scales them by d."""
    scores, theta = model(3, 1, 3, 3, 4, LOOPY)
    messages = cold(scores, LOOPY)
    bp.run(scores, theta, LOOPY, iterations=1, damping=0.25, messages=messages, backend=backend)
    c, (i, j) = 2, ((0, 3), (1, 1))  # offset (1, -2)
    u = scores[0].astype(np.float64)
    forward = np.log(np.exp(u[:, i[0], i[1], None] + theta[c]).sum(axis=0))
    backward = np.log(np.exp(theta[c] + u[None, :, j[0], j[1]]).sum(axis=1))
    assert np.allclose(messages[0, 0, c, j[0], :, j[1]], 0.25 * (forward - forward.max()), atol=1e-6)
    assert np.allclose(messages[0, 1, c, i[0], :, i[1]], 0.25 * (backward - backward.max()), atol=1e-6)
    assert not messages[0, 0, c][0].any()  # row 0 has no backward neighbour along (1, -2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_damping_leaves_the_fixed_point_where_it_is(backend):
    """On a loopy grid with weak tables BP converges; damped or not it reaches the same messages,
    a fixed point: one more undamped iteration changes nothing."""
    scores, theta = model(4, 1, 3, 5, 5, LOOPY, scale=0.3)
    fixed = []
    for damping, iterations in ((1.0, 40), (0.5, 80), (0.25, 150)):
        messages = cold(scores, LOOPY)
        bp.run(scores, theta, LOOPY, iterations=iterations, damping=damping, messages=messages, backend=backend)
        fixed.append(messages)
    for messages in fixed[1:]:
        assert np.abs(messages - fixed[0]).max() < 1e-6
    again = fixed[0].copy()
    bp.run(scores, theta, LOOPY, iterations=1, damping=1.0, messages=again, backend=backend)
    assert np.abs(again - fixed[0]).max() < 1e-6 and np.abs(fixed[0]).max() > 0.1


@pytest.mark.parametrize("backend", BACKENDS)
def test_warm_start_continues_where_it_stopped(backend):
    """3 iterations, then 4 more from the messages reached, are 7 iterations (bit for bit: the
    state is the messages); zero iterations from them give the same beliefs again."""
    scores, theta = model(5, 2, 3, 4, 5, LOOPY)
    whole, parts = cold(scores, LOOPY), cold(scores, LOOPY)
    expected = bp.run(scores, theta, LOOPY, iterations=7, damping=0.5, messages=whole, backend=backend)
    bp.run(scores, theta, LOOPY, iterations=3, damping=0.5, messages=parts, backend=backend)
    second = bp.run(scores, theta, LOOPY, iterations=4, damping=0.5, messages=parts, backend=backend)
    assert np.array_equal(parts, whole) and np.array_equal(second.nodes, expected.nodes)
    again = bp.run(scores, theta, LOOPY, iterations=0, messages=parts, backend=backend)
    assert np.array_equal(again.nodes, expected.nodes) and np.array_equal(parts, whole)


def test_zero_tables_give_the_softmax_and_its_log_partition():
    scores, theta = model(6, 2, 4, 4, 5, LOOPY)
    beliefs = bp.run(scores, 0 * theta, LOOPY, iterations=3)
    softmax = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    assert np.allclose(beliefs.nodes, softmax, atol=1e-6)
    assert np.allclose(beliefs.log_partition, np.log(np.exp(scores.astype(np.float64)).sum(axis=1)).sum(axis=(1, 2)))


def test_cold_start_and_lbp_are_one_image_at_a_time():
    """A batch's beliefs are each image's alone (cold messages for each)."""
    scores, theta = model(7, 3, 3, 4, 5, LOOPY)
    batch = sampler.lbp(scores, theta, LOOPY, iterations=4)
    assert batch.shape == scores.shape and batch.dtype == np.float32
    assert np.array_equal(batch[1:2], sampler.lbp(scores[1:2], theta, LOOPY, iterations=4))
    assert np.allclose(batch.sum(axis=1), 1, atol=1e-6)


def test_inference_method_lbp_is_sampler_lbp():
    scores, theta = model(8, 2, 3, 4, 5, LOOPY)
    assert "lbp" in inference.METHODS
    marginals = inference.infer(scores, theta, LOOPY, "lbp", iterations=6)
    assert np.array_equal(marginals, sampler.lbp(scores, theta, LOOPY, iterations=6, damping=0.5))
    assert np.array_equal(inference.crf_labels(scores, theta, LOOPY, "lbp", iterations=6), marginals.argmax(axis=1))
    with pytest.raises(ValueError, match="weights: loopy BP runs the stationary model only"):
        inference.infer(scores, theta[:, None], LOOPY, "lbp", weights=np.ones((2, 1, 4, 5), np.float32))


def test_memory_of_the_messages():
    assert bp.message_bytes(2000, 24, 20, 120, 160) == 2000 * 48 * 20 * 120 * 160 * 4
    scores, _ = model(9, 2, 3, 4, 5, LOOPY)
    assert cold(scores, LOOPY).nbytes == bp.message_bytes(2, len(LOOPY), 3, 4, 5)


@pytest.mark.parametrize("settings, match", [
    ({"damping": 0}, "damping: expected a number in \\(0, 1\\]"),
    ({"damping": 1.5}, "damping: expected a number in \\(0, 1\\]"),
    ({"damping": True}, "damping: expected a number in \\(0, 1\\]"),
    ({"iterations": -1}, "iterations: expected an integer >= 0"),
    ({"iterations": 2.0}, "iterations: expected an integer >= 0"),
    ({"messages": np.zeros((1, 2, 5, 4, 3, 5), np.float32)}, "messages: expected .*shape \\(2, 2, 5, 4, 3, 5\\)"),
    ({"messages": np.zeros((2, 2, 5, 4, 3, 5))}, "messages: expected .*float32"),
    ({"messages": [[0.0]]}, "messages: expected"),
])
def test_bad_input_names_the_argument(settings, match):
    scores, theta = model(10, 2, 3, 4, 5, LOOPY)
    with pytest.raises(ValueError, match=match):
        bp.run(scores, theta, LOOPY, **settings)
    with pytest.raises(ValueError, match="theta: expected shape"):
        bp.lbp(scores, theta[:, :2], LOOPY)
