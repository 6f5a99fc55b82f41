"""Image-dependent ("gated") pairwise factors (sampler/gating.py): K tables per edge class mixed per
edge by w_k(i, j) = 0.5 weights[k, i] + 0.5 weights[k, j]. Against exact answers on grids small
enough to enumerate: the sweeps' stationary distribution, the log-likelihood's gradient (finite
differences of log Z) and its sampled estimate, the conditionals; the statistics against brute
force; and K = 1 with unit weights is the stationary model bit for bit, on every backend here."""
import numpy as np
import pytest

import sampler
from conftest import run_tool
from sampler import grid, stats
from test_sampler_stats import BACKENDS, FLOOR, K, SCHEDULES, chain_statistics

NUMBA = pytest.mark.skipif("numba" not in sampler.available_backends(), reason="numba not available")

# (height, width, labels, offsets, K): a long edge, a diagonal and a knight's move among them
MODELS = {
    "2x3-L3-long-K2": (2, 3, 3, [[0, 1], [1, 0], [0, 2], [1, -2]], 2),
    "3x3-L2-knight-K3": (3, 3, 2, [[0, 1], [1, 0], [2, 1], [1, 1]], 3),
}


def tiny_model(name, seed=0):
    """(scores (L, H, W), theta (C, K, L, L), offsets, weights (K, H, W)): weights around 0.5,
    some negative, so that tables are mixed, not just chosen."""
    h, w, num_labels, offsets, per_class = MODELS[name]
    g = np.random.default_rng(seed)
    offsets = sampler.parse_edges(offsets)
    scores = g.normal(size=(num_labels, h, w)).astype(np.float32)
    theta = g.normal(size=(len(offsets), per_class, num_labels, num_labels)).astype(np.float32)
    weights = g.normal(0.5, 0.7, size=(per_class, h, w)).astype(np.float32)
    return scores, theta, offsets, weights


def batch_model(seed, n=3, num_labels=4, h=6, w=7, offsets="sparse:1,2", per_class=2):
    g = np.random.default_rng(seed)
    offsets = sampler.parse_edges(offsets)
    scores = g.normal(size=(n, num_labels, h, w)).astype(np.float32)
    theta = g.normal(size=(len(offsets), per_class, num_labels, num_labels)).astype(np.float32)
    labels = g.integers(0, num_labels, (n, h, w)).astype(np.uint8)
    weights = g.normal(0.5, 0.7, size=(n, per_class, h, w)).astype(np.float32)
    return scores, labels, theta, offsets, weights


# --- validation -------------------------------------------------------------------------------

def _bad_inputs():
    s, y, t, d, wt = batch_model(0)
    nan = wt.copy()
    nan[0, 0, 0, 0] = np.nan
    return [
        (dict(weights=wt.astype(np.int32)), "weights", "float"),
        (dict(weights=wt[0]), "weights", "dimensions"),
        (dict(weights=wt[:2]), "weights", "(N, H, W) = (3, 6, 7)"),
        (dict(weights=wt[:, :, :5]), "weights", "(N, H, W)"),
        (dict(weights=wt[:, :0]), "weights", "K >= 1"),
        (dict(weights=nan), "weights", "NaN"),
        (dict(theta=t[:, 0]), "theta", "4 dimensions"),
        (dict(theta=t[:, :1]), "theta", "K = 2"),
        (dict(theta=t[:3]), "theta", "(C, L) = (8, 4)"),
        (dict(theta=t[..., :3]), "theta", "(C, L) = (8, 4)"),
        (dict(weights=None), "theta", "need per-pixel weights"),
    ]


@pytest.mark.parametrize("change, name, problem", _bad_inputs(), ids=lambda v: str(v)[:30])
def test_every_function_rejects_bad_weights_naming_the_argument(change, name, problem):
    s, y, t, d, wt = batch_model(0)
    args = dict(theta=t, offsets=d, weights=wt) | change
    calls = [lambda: sampler.sweep(s, y, **args), lambda: sampler.train_step(s, y, **args),
             lambda: sampler.marginals(s, **args), lambda: sampler.conditionals(s, y, **args),
             lambda: sampler.energy(s, y, **args), lambda: sampler.icm(s, **args),
             lambda: sampler.meanfield(s, **args), lambda: sampler.pseudo_log_likelihood(s, y, **args)]
    for call in calls:
        with pytest.raises(ValueError) as e:
            call()
        assert str(e.value).startswith(name) and problem in str(e.value), str(e.value)


def test_statistics_validate_their_inputs():
    s, y, t, d, wt = batch_model(1)
    with pytest.raises(ValueError, match="^weights: expected shape"):
        sampler.weighted_pair_counts(y, wt[:, :, :3], d, 4)
    with pytest.raises(ValueError, match="^labels: values must be in 0..3"):
        sampler.weighted_pair_counts(y + 4, wt, d, 4)
    with pytest.raises(ValueError, match="^theta: expected shape"):
        sampler.weight_statistics(y, t[:2], d)
    with pytest.raises(ValueError, match="^labels: values must be in 0..3"):
        sampler.weight_statistics(y + 4, t, d)


# --- K = 1 with unit weights is the stationary model, bit for bit ------------------------------

@pytest.mark.parametrize("backend", [b for b in BACKENDS if isinstance(b, str)])
@pytest.mark.parametrize("seed", range(4))
def test_unit_weights_reproduce_the_stationary_model_bit_for_bit(backend, seed):
    """Same random numbers and the same float64 arithmetic (a weight of 1 times an entry is the
    entry): sweeps, train_step's labels and counts, marginals, ICM, mean field, conditionals,
    energies and pseudo-likelihoods are identical."""
    s, y, t, d, _ = batch_model(seed, n=3, num_labels=5 if seed % 2 else 20, h=9, w=11,
                                offsets="sparse:1,2" if seed < 2 else [[0, 2], [2, 1], [1, -3]], per_class=1)
    theta, t1, ones = t[:, 0], t, np.ones((3, 1, 9, 11), np.float32)
    kw = dict(backend=backend)
    for schedule in SCHEDULES:
        for step in range(3):
            assert np.array_equal(sampler.sweep(s, y, theta, d, step=step, schedule=schedule, **kw),
                                  sampler.sweep(s, y, t1, d, step=step, schedule=schedule, weights=ones, **kw))
        plain = sampler.train_step(s, y, theta, d, sweeps=2, step=[1, 2, 3], schedule=schedule, **kw)
        gated = sampler.train_step(s, y, t1, d, sweeps=2, step=[1, 2, 3], schedule=schedule, weights=ones, **kw)
        assert np.array_equal(plain[0], gated[0]) and np.array_equal(plain[1], gated[1][:, 0])
        assert gated[1].dtype == np.float64 and gated[1].shape == plain[1].shape[:1] + (1,) + plain[1].shape[1:]
    assert np.array_equal(sampler.marginals(s, theta, d, burn_in=2, samples=3, **kw),
                          sampler.marginals(s, t1, d, burn_in=2, samples=3, weights=ones, **kw))
    assert np.array_equal(sampler.icm(s, theta, d, init=y, **kw), sampler.icm(s, t1, d, init=y, weights=ones, **kw))
    assert np.array_equal(sampler.meanfield(s, theta, d, iterations=3, **kw),
                          sampler.meanfield(s, t1, d, iterations=3, weights=ones, **kw))
    assert np.array_equal(sampler.conditionals(s, y, theta, d, **kw),
                          sampler.conditionals(s, y, t1, d, weights=ones, **kw))
    assert np.array_equal(sampler.pseudo_log_likelihood(s, y, theta, d, **kw),
                          sampler.pseudo_log_likelihood(s, y, t1, d, weights=ones, **kw))
    assert np.array_equal(sampler.energy(s, y, theta, d), sampler.energy(s, y, t1, d, weights=ones))


def test_unit_weights_reproduce_exact_enumeration():
    scores, theta, offsets, _ = tiny_model("2x3-L3-long-K2")
    plain = sampler.exact.enumerate(scores, theta[:, 0], offsets)
    gated = sampler.exact.enumerate(scores, theta[:, :1], offsets, np.ones((1, 2, 3), np.float32))
    assert np.array_equal(plain.marginals, gated.marginals) and plain.log_partition == gated.log_partition
    assert np.array_equal(plain.pair_expectations, gated.pair_expectations[:, 0])
    assert plain.weight_expectations is None and gated.weight_expectations.shape == (1, 2, 3)
    batched = sampler.exact.enumerate(scores[None], theta[:, :1], offsets, np.ones((1, 1, 2, 3), np.float32))
    assert np.array_equal(batched.weight_expectations, gated.weight_expectations)


# --- statistics against brute force -------------------------------------------------------------

def _brute_statistics(y, t, d, wt):
    """(energy's pair part (N,), weighted pair counts (C, K, L, L), weight statistics (N, K, H, W)) edge by edge."""
    n, h, w = y.shape
    pair_energy = np.zeros(n)
    counts = np.zeros(t.shape)
    weight_stats = np.zeros(wt.shape)
    for c, (dy, dx) in enumerate(d.tolist()):
        for k, i, j in np.ndindex(y.shape):
            if 0 <= i + dy < h and 0 <= j + dx < w:
                a, b = y[k, i, j], y[k, i + dy, j + dx]
                edge = 0.5 * wt[k, :, i, j].astype(np.float64) + 0.5 * wt[k, :, i + dy, j + dx]
                pair_energy[k] += np.sum(edge * t[c, :, a, b])
                counts[c, :, a, b] += edge
                weight_stats[k, :, i, j] += 0.5 * t[c, :, a, b]
                weight_stats[k, :, i + dy, j + dx] += 0.5 * t[c, :, a, b]
    return pair_energy, counts, weight_stats


@pytest.mark.parametrize("backend", [b for b in BACKENDS if isinstance(b, str)])
def test_statistics_match_brute_force(backend):
    s, y, t, d, wt = batch_model(5, offsets=[[0, 2], [2, 1], [1, -1], [3, -2], [0, 9]], per_class=3)
    pair_energy, counts, weight_stats = _brute_statistics(y, t, d, wt)
    unary = np.take_along_axis(s, y[:, None].astype(int), 1).astype(np.float64).sum(axis=(1, 2, 3))
    assert np.allclose(sampler.energy(s, y, t, d, weights=wt), unary + pair_energy, rtol=1e-6)
    got = sampler.weighted_pair_counts(y, wt, d, 4, backend=backend)
    assert got.dtype == np.float64 and got.shape == t.shape and np.allclose(got, counts, rtol=1e-6, atol=1e-5)
    assert np.allclose(sampler.weight_statistics(y, t, d), weight_stats, rtol=1e-6, atol=1e-6)
    # the energy is linear in theta and in the weights, with these as its derivatives
    assert np.isclose(np.sum(got * t), pair_energy.sum(), rtol=1e-6)
    assert np.allclose(np.sum(sampler.weight_statistics(y, t, d) * wt, axis=(1, 2, 3)), pair_energy, rtol=1e-5)


def test_statistic_differences_from_the_disagreeing_pixels():
    """The loss layer's form: stats.weighted_pair_count_difference and weight_statistics_difference
    equal the differences of the full statistics, with work where the labellings differ only."""
    s, plus, t, d, wt = batch_model(6, n=4, h=9, w=10, offsets="sparse:1,2,4")
    minus = plus.copy()
    mask = np.random.default_rng(0).random(plus.shape) < 0.2
    minus[mask] = (plus[mask] + 1) % 4
    expected = sampler.weighted_pair_counts(plus, wt, d, 4) - sampler.weighted_pair_counts(minus, wt, d, 4)
    assert np.allclose(stats.weighted_pair_count_difference(plus, minus, wt, d, 4), expected, atol=1e-5)
    gap = sampler.weight_statistics(plus, t, d) - sampler.weight_statistics(minus, t, d)
    got = stats.weight_statistics_difference(plus, minus, t, d)
    assert np.allclose(got, gap, atol=1e-6) and np.abs(gap).max() > 0.1
    near = mask.copy()  # pixels that differ or have a neighbour that does
    for offset in d:
        at_i, at_j = grid.overlap(offset, *mask.shape[1:])
        near[(slice(None), *at_i)] |= mask[(slice(None), *at_j)]
        near[(slice(None), *at_j)] |= mask[(slice(None), *at_i)]
    assert not got.transpose(1, 0, 2, 3)[:, ~near].any() and (~near).any()
    same = stats.weight_statistics_difference(plus, plus, t, d)
    assert not same.any() and not stats.weighted_pair_count_difference(plus, plus, wt, d, 4).any()


def test_train_step_counts_are_the_weighted_counts_of_its_sample():
    s, y, t, d, wt = batch_model(7, n=3, h=8, w=9)
    for backend in [b for b in BACKENDS if isinstance(b, str)]:
        for schedule in SCHEDULES:
            labels, counts = sampler.train_step(s, y, t, d, sweeps=2, schedule=schedule, backend=backend, weights=wt)
            assert np.allclose(counts, sampler.weighted_pair_counts(labels, wt, d, 4, backend="numpy"), atol=1e-9)
            expected = sampler.sweep(s, sampler.sweep(s, y, t, d, schedule=schedule, weights=wt, backend=backend),
                                     t, d, step=1, schedule=schedule, weights=wt, backend=backend)
            assert np.array_equal(labels, expected)


# --- against exact answers ------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("name", MODELS)
def test_sampler_matches_exact_enumeration(name, schedule, backend):
    """The sweeps' stationary distribution is the exact posterior with weights: label frequencies,
    weighted pair counts and weight statistics, averaged over 2000 chains, match the exact
    expectations (so the sampled gradient statistics(truth) - statistics(sample) is unbiased)."""
    scores, theta, offsets, weights = tiny_model(name)
    exact = sampler.exact.enumerate(scores, theta, offsets, weights)
    estimates = chain_statistics(scores, theta, offsets, backend, schedule, weights=weights)
    for (mean, se), truth in zip(estimates, (exact.marginals, exact.pair_expectations, exact.weight_expectations)):
        assert np.all(np.abs(mean - truth) <= K * se + FLOOR), np.abs(mean - truth).max()


@pytest.mark.parametrize("name", MODELS)
def test_log_likelihood_gradient_is_statistics_difference(name):
    """d log p(y) / d theta = weighted_pair_counts(y) - E[weighted_pair_counts] and
    d log p(y) / d weights = weight_statistics(y) - E[weight_statistics], the expectations by
    enumeration, against central differences of log p(y) = E(y) - log Z."""
    scores, theta, offsets, weights = tiny_model(name, seed=3)
    truth = np.random.default_rng(4).integers(0, scores.shape[0], (1,) + scores.shape[1:]).astype(np.uint8)
    exact = sampler.exact.enumerate(scores, theta, offsets, weights)
    d_theta = sampler.weighted_pair_counts(truth, weights[None], offsets, scores.shape[0]) - exact.pair_expectations
    d_weights = sampler.weight_statistics(truth, theta, offsets)[0] - exact.weight_expectations

    def log_p(t, w):
        e = sampler.energy(scores[None], truth, t, offsets, weights=w[None])[0]
        return e - sampler.exact.enumerate(scores, t, offsets, w).log_partition

    step = np.float32(2.0 ** -7)  # exact in float32 for entries of this size
    for array, gradient, other in ((theta, d_theta, weights), (weights, d_weights, theta)):
        numeric = np.zeros(array.shape)
        for index in np.ndindex(array.shape):
            up, down = array.copy(), array.copy()
            up[index] += step
            down[index] -= step
            values = [log_p(u, other) if array is theta else log_p(other, u) for u in (up, down)]
            numeric[index] = (values[0] - values[1]) / (float(up[index]) - float(down[index]))
        assert np.allclose(numeric, gradient, atol=2e-4, rtol=1e-3), np.abs(numeric - gradient).max()
        assert np.abs(gradient).max() > 0.05


@pytest.mark.parametrize("backend", [b for b in BACKENDS if isinstance(b, str)])
def test_conditionals_are_exact_with_weights(backend):
    s, y, t, d, wt = batch_model(8, n=2, offsets=[[0, 1], [2, 1], [1, -2]], per_class=2)
    logp = sampler.conditionals(s, y, t, d, backend=backend, weights=wt)
    assert logp.shape == s.shape and logp.dtype == np.float32
    for k, i, j in [(0, 0, 0), (1, 3, 4), (0, 5, 6), (1, 2, 0)]:
        energies = []
        for label in range(4):
            z = y.copy()
            z[k, i, j] = label
            energies.append(sampler.energy(s, z, t, d, weights=wt)[k])
        assert np.allclose(logp[k, :, i, j], np.array(energies) - np.logaddexp.reduce(energies), atol=1e-4)
    pll = sampler.pseudo_log_likelihood(s, y, t, d, backend=backend, weights=wt)
    assert np.allclose(pll, np.take_along_axis(logp, y[:, None].astype(int), 1).sum(axis=(1, 2, 3)), rtol=1e-5)


# --- the baselines with weights -----------------------------------------------------------------

@pytest.mark.parametrize("backend", [b for b in BACKENDS if isinstance(b, str)])
def test_icm_climbs_to_a_local_optimum_with_weights(backend):
    s, start, t, d, wt = batch_model(9, h=10, w=12, offsets="window:2")
    energies = [sampler.energy(s, start, t, d, weights=wt)]
    for iterations in (1, 2, 50):
        labels = sampler.icm(s, t, d, iterations=iterations, init=start, backend=backend, weights=wt)
        energies.append(sampler.energy(s, labels, t, d, weights=wt))
    assert np.all(np.diff(energies, axis=0) >= -1e-9) and np.all(energies[-1] > energies[0])
    logp = sampler.conditionals(s, labels, t, d, weights=wt)
    assert np.all(np.take_along_axis(logp, labels[:, None].astype(int), 1)[:, 0] >= logp.max(axis=1) - 1e-5)
    assert np.array_equal(labels, sampler.icm(s, t, d, iterations=50, init=start, backend="numpy", weights=wt))


def test_meanfield_with_weights_matches_an_explicit_loop_over_edges():
    """Each damped step adds, per edge (i, j = i + d) and k, w_k(i, j) theta[c, k] q_j at i and
    w_k(i, j) theta[c, k]^T q_i at j; offsets include negative dx and one longer than the image."""
    s, _, t, d, wt = batch_model(10, n=2, num_labels=3, h=5, w=7, offsets=[[0, 1], [1, -2], [2, 1], [0, 9]])
    n, num_labels, h, w = s.shape
    q = np.exp(s - s.max(1, keepdims=True)).astype(np.float64)
    q /= q.sum(1, keepdims=True)
    for _ in range(3):
        z = s.astype(np.float64)
        for c, (dy, dx) in enumerate(d.tolist()):
            for y in range(h):
                for x in range(w):
                    if 0 <= y + dy < h and 0 <= x + dx < w:
                        edge = 0.5 * wt[:, :, y, x].astype(np.float64) + 0.5 * wt[:, :, y + dy, x + dx]  # (N, K)
                        table = np.einsum("nk,kab->nab", edge, t[c].astype(np.float64))
                        z[:, :, y, x] += np.einsum("nab,nb->na", table, q[:, :, y + dy, x + dx])
                        z[:, :, y + dy, x + dx] += np.einsum("nab,na->nb", table, q[:, :, y, x])
        update = np.exp(z - z.max(1, keepdims=True))
        q = 0.5 * q + 0.5 * update / update.sum(1, keepdims=True)
    for backend in [b for b in BACKENDS if isinstance(b, str)]:
        got = sampler.meanfield(s, t, d, iterations=3, backend=backend, weights=wt)
        assert got.dtype == np.float32 and np.allclose(got, q, atol=1e-5), backend


def test_zero_weights_leave_the_unaries_alone():
    """With every weight 0 the pairwise terms vanish: one sweep draws from the softmax of the
    unaries, mean field returns it, and the tables do not matter."""
    g = np.random.default_rng(11)
    n, num_labels, h, w = 20000, 3, 2, 3
    scores = np.broadcast_to(g.normal(size=(num_labels, h, w)).astype(np.float32), (n, num_labels, h, w))
    theta = g.normal(size=(4, 2, num_labels, num_labels)).astype(np.float32) * 5
    zeros = np.zeros((n, 2, h, w), np.float32)
    p = np.exp(scores[0]) / np.exp(scores[0]).sum(axis=0)
    start = g.integers(0, num_labels, (n, h, w)).astype(np.uint8)
    for backend in [b for b in BACKENDS if isinstance(b, str)]:
        y = sampler.sweep(scores, start, theta, sampler.window(1), seed=2, backend=backend, weights=zeros)
        counts = (y[:, None] == np.arange(num_labels)[:, None, None]).sum(axis=0)
        assert np.all(np.abs(counts - n * p) <= K * np.sqrt(n * p * (1 - p)) + 1)
    q = sampler.meanfield(scores[:2], theta, sampler.window(1), weights=zeros[:2])
    assert np.allclose(q, p, atol=1e-6)


@NUMBA
def test_benchmark_prints_the_gated_sweep_against_the_stationary_one(capsys):
    """tools/bench_sampler.py --gated: both sweeps' times and their ratio, in one run (tiny here)."""
    assert run_tool("bench_sampler", ["--gated", "--batch", "2", "--labels", "3", "--height", "12", "--width", "16",
                                      "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ")}
    assert float(rows["stationary"][1]) > 0 and float(rows["K=2"][1]) > 0
    assert "ratio" in rows and rows["ratio"][-1] == "1.6x)" and "image-dependent" in out
