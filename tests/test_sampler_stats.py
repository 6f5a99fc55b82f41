"""Statistical correctness of the sampler against exact enumeration, plus the baselines.

Tolerances come from the sampling error: M independent chains (one model replicated over a
batch, each image its own key) are split into G groups; group means are independent, so
their spread gives a standard error that already includes the autocorrelation within a
chain. We allow K = 6 standard errors (two-sided normal tail 2e-9 per number; with 49
degrees of freedom about 2e-7), plus a small floor for what burn-in leaves.
"""
import numpy as np
import pytest

import sampler

# "cupy" is always collected: marked gpu, and skipped with the reason where it is not available
_CUPY_MARKS = [pytest.mark.gpu] + ([] if "cupy" in sampler.available_backends() else [
    pytest.mark.skip(reason=f"cupy backend not available: {sampler.backends.cupy_backend.REASON}")])
BACKENDS = [name for name in sampler.available_backends() if name != "cupy"] + [pytest.param("cupy", marks=_CUPY_MARKS)]
SCHEDULES = ("raster", "chromatic")
K = 6.0
FLOOR = 2e-3

# (height, width, labels, offsets, theta scale, repulsive diagonal)
MODELS = {
    "2x3-L3-long": (2, 3, 3, [[0, 1], [1, 0], [0, 2], [1, -2]], 1.0, 0.0),
    "3x3-L2-knight": (3, 3, 2, [[0, 1], [1, 0], [2, 1], [1, 1]], 1.0, 0.0),
    "3x3-L3-repulsive": (3, 3, 3, [[0, 1], [1, 0], [1, 1], [1, -1], [2, 1]], 0.3, -2.5),
    "2x3-L2-attractive": (2, 3, 2, [[0, 1], [1, 0], [0, 2]], 0.3, 1.0),
}


def tiny_model(name, seed=0):
    h, w, num_labels, offsets, scale, diagonal = MODELS[name]
    g = np.random.default_rng(seed)
    offsets = sampler.parse_edges(offsets)
    scores = g.normal(size=(num_labels, h, w)).astype(np.float32)
    theta = scale * g.normal(size=(len(offsets), num_labels, num_labels)) + diagonal * np.eye(num_labels)
    return scores, theta.astype(np.float32), offsets


def chain_statistics(scores, theta, offsets, backend, schedule, chains=2000, groups=50, burn_in=30, samples=40,
                     weights=None):
    """Group means and standard errors of the label frequencies (L, H, W) and pair counts (C, L, L);
    with weights (K, H, W), of the weighted pair counts (C, K, L, L) and of the weight statistics
    (K, H, W) too (tests/test_sampler_gated.py)."""
    num_labels = scores.shape[0]
    batch = np.broadcast_to(scores, (chains,) + scores.shape)
    batch_weights = None if weights is None else np.repeat(weights[None], chains, axis=0)
    labels = np.random.default_rng(1).integers(0, num_labels, (chains,) + scores.shape[1:]).astype(np.uint8)
    unary = np.zeros((groups,) + scores.shape)
    pairs = np.zeros((groups,) + np.shape(theta)[:-2] + (num_labels, num_labels))
    weight_stats = np.zeros((groups,) + np.shape(weights)) if weights is not None else None
    members = np.array_split(np.arange(chains), groups)
    for step in range(burn_in + samples):
        labels = sampler.sweep(batch, labels, theta, offsets, seed=11, step=step, backend=backend,
                               schedule=schedule, weights=batch_weights)
        if step >= burn_in:
            for g, m in enumerate(members):
                unary[g] += (labels[m, None] == np.arange(num_labels)[:, None, None]).mean(axis=0)
                if weights is None:
                    pairs[g] += sampler.pair_counts(labels[m], offsets, num_labels) / len(m)
                    continue
                pairs[g] += sampler.weighted_pair_counts(labels[m], batch_weights[m], offsets, num_labels,
                                                         backend="numpy") / len(m)  # no parallel region per group
                weight_stats[g] += sampler.weight_statistics(labels[m], theta, offsets).mean(axis=0)
    return [(x.mean(axis=0) / samples, x.std(axis=0, ddof=1) / samples / np.sqrt(groups))
            for x in (unary, pairs) + (() if weights is None else (weight_stats,))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("name", MODELS)
def test_sampler_matches_exact_enumeration(name, schedule, backend):
    scores, theta, offsets = tiny_model(name)
    exact = sampler.exact.enumerate(scores, theta, offsets)
    (m, m_se), (p, p_se) = chain_statistics(scores, theta, offsets, backend, schedule)
    assert np.all(np.abs(m - exact.marginals) <= K * m_se + FLOOR), np.abs(m - exact.marginals).max()
    assert np.all(np.abs(p - exact.pair_expectations) <= K * p_se + FLOOR), np.abs(p - exact.pair_expectations).max()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_marginals_function_matches_exact(schedule, backend):
    scores, theta, offsets = tiny_model("3x3-L3-repulsive", seed=2)
    exact = sampler.exact.enumerate(scores, theta, offsets).marginals
    chains = 1000
    m = sampler.marginals(np.broadcast_to(scores, (chains,) + scores.shape), theta, offsets, burn_in=30,
                          samples=20, seed=5, backend=backend, schedule=schedule)
    se = m.std(axis=0, ddof=1) / np.sqrt(chains)  # chains are independent: per-chain means
    assert np.all(np.abs(m.mean(axis=0) - exact) <= K * se + FLOOR)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_one_sweep_with_zero_theta_draws_the_softmax_from_any_start(schedule, backend):
    g = np.random.default_rng(3)
    n, num_labels, h, w = 20000, 3, 2, 3
    scores = np.broadcast_to(g.normal(size=(num_labels, h, w)).astype(np.float32), (n, num_labels, h, w))
    theta = np.zeros((4, num_labels, num_labels), np.float32)
    p = np.exp(scores[0]) / np.exp(scores[0]).sum(axis=0)
    starts = [np.zeros((n, h, w), np.uint8), np.full((n, h, w), num_labels - 1, np.uint8),
              g.integers(0, num_labels, (n, h, w)).astype(np.uint8)]
    for start in starts:
        y = sampler.sweep(scores, start, theta, sampler.window(1), seed=2, backend=backend, schedule=schedule)
        counts = (y[:, None] == np.arange(num_labels)[:, None, None]).sum(axis=0)
        # exact binomial(n, p) per cell: K standard deviations
        assert np.all(np.abs(counts - n * p) <= K * np.sqrt(n * p * (1 - p)) + 1)


# --- baselines ---------------------------------------------------------------------------------

def small_model(seed, n=3, num_labels=4, h=10, w=12, offsets="window:2", scale=1.0):
    g = np.random.default_rng(seed)
    offsets = sampler.parse_edges(offsets)
    scores = g.normal(size=(n, num_labels, h, w)).astype(np.float32)
    theta = (scale * g.normal(size=(len(offsets), num_labels, num_labels))).astype(np.float32)
    return scores, theta, offsets


@pytest.mark.parametrize("backend", BACKENDS)
def test_icm_climbs_to_a_local_optimum(backend):
    s, t, d = small_model(4)
    start = np.random.default_rng(0).integers(0, 4, (3, 10, 12)).astype(np.uint8)
    energies = [sampler.energy(s, start, t, d)]
    for k in (1, 2, 3, 50):
        energies.append(sampler.energy(s, sampler.icm(s, t, d, iterations=k, init=start, backend=backend), t, d))
    assert np.all(np.diff(energies, axis=0) >= -1e-9)
    final = sampler.icm(s, t, d, iterations=50, init=start, backend=backend)
    logp = sampler.conditionals(s, final, t, d)
    own = np.take_along_axis(logp, final[:, None].astype(int), 1)[:, 0]
    assert np.all(own >= logp.max(axis=1) - 1e-5)  # no single-pixel change increases the energy
    assert np.array_equal(sampler.icm(s, t, d, iterations=0), s.argmax(axis=1))


def test_icm_backends_agree():
    if "numba" not in BACKENDS:
        pytest.skip("numba not available")
    s, t, d = small_model(5)
    assert np.array_equal(sampler.icm(s, t, d, backend="numpy"), sampler.icm(s, t, d, backend="numba"))


def test_meanfield_with_zero_theta_is_the_softmax():
    s, t, d = small_model(6)
    q = sampler.meanfield(s, np.zeros_like(t), d, iterations=5)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    assert q.dtype == np.float32 and np.allclose(q, e / e.sum(axis=1, keepdims=True), atol=1e-6)


def test_meanfield_converges_to_a_fixed_point():
    s, t, d = small_model(7, scale=0.3)
    q = sampler.meanfield(s, t, d, iterations=200)
    assert np.allclose(q.sum(axis=1), 1, atol=1e-5)
    # one more damped step changes nothing, so q is a fixed point of the undamped update too
    assert np.abs(sampler.meanfield(s, t, d, iterations=201) - q).max() < 1e-5
    assert np.abs(q - sampler.meanfield(s, np.zeros_like(t), d, iterations=1)).max() > 1e-2


def test_meanfield_matches_an_explicit_loop_over_edges():
    """Each damped step adds, per edge (i, j = i + d), theta[c] q_j at i and theta[c]^T q_i at j;
    offsets include negative dx and ones longer than the image (no edges)."""
    g = np.random.default_rng(8)
    offsets = sampler.parse_edges([[0, 1], [1, -2], [2, 1], [0, 9], [6, 0]])
    scores = g.normal(size=(2, 3, 5, 7)).astype(np.float32)
    theta = g.normal(size=(len(offsets), 3, 3)).astype(np.float32)
    n, num_labels, h, w = scores.shape
    q = np.exp(scores - scores.max(1, keepdims=True)).astype(np.float64)
    q /= q.sum(1, keepdims=True)
    for _ in range(3):
        z = scores.astype(np.float64)
        for c, (dy, dx) in enumerate(offsets):
            for y in range(h):
                for x in range(w):
                    if 0 <= y + dy < h and 0 <= x + dx < w:
                        z[:, :, y, x] += q[:, :, y + dy, x + dx] @ theta[c].T.astype(np.float64)
                        z[:, :, y + dy, x + dx] += q[:, :, y, x] @ theta[c].astype(np.float64)
        update = np.exp(z - z.max(1, keepdims=True))
        q = 0.5 * q + 0.5 * update / update.sum(1, keepdims=True)
    for backend in BACKENDS:
        if isinstance(backend, str):  # the cupy param has its own device test
            got = sampler.meanfield(scores, theta, offsets, iterations=3, backend=backend)
            assert np.allclose(got, q, atol=1e-5), backend  # float32 arithmetic against float64


def test_meanfield_is_close_to_exact_on_a_weak_model():
    scores, theta, offsets = tiny_model("2x3-L3-long", seed=1)
    q = sampler.meanfield(scores[None], 0.2 * theta, offsets, iterations=100)[0]
    assert np.abs(q - sampler.exact.enumerate(scores, 0.2 * theta, offsets).marginals).max() < 0.05
