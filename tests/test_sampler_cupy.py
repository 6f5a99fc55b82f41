"""The CuPy backend on a GPU: the same labels as the NumPy reference bit for bit, statistical
agreement with Numba on a larger model, the device-side statistics and baselines.

The exactness tests against enumeration are test_sampler_stats.py's, which run for "cupy" too
where it is available. Without a GPU this whole module is skipped; where a GPU is visible but
the backend still is not available (e.g. NVRTC missing), test_backend_is_available fails
with the reason. Host-side checks of the same code: test_sampler_cupy_host.py.
"""
import numpy as np
import pytest

import sampler
from sampler import rng, stats
from sampler.backends import cupy_backend, numpy_backend

_AVAILABLE = cupy_backend.available()
_NO_GPU = not _AVAILABLE and not (cupy_backend.REASON or "").startswith("the CUDA kernels")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(_NO_GPU, reason=f"no GPU for the CuPy backend: {cupy_backend.REASON}")]

SCHEDULES = ("raster", "chromatic")


def random_model(seed, n=3, num_labels=4, h=12, w=13, offsets="window:2", scale=1.0):
    g = np.random.default_rng(seed)
    offsets = sampler.parse_edges(offsets)
    scores = (2 * g.normal(size=(n, num_labels, h, w))).astype(np.float32)
    theta = (scale * g.normal(size=(len(offsets), num_labels, num_labels))).astype(np.float32)
    labels = g.integers(0, num_labels, size=(n, h, w)).astype(np.uint8)
    return scores, labels, theta, offsets


def test_backend_is_available():
    assert _AVAILABLE, cupy_backend.REASON
    assert sampler.available_backends()[0] == "cupy"  # and so "auto" picks it (the layers' default)


CASES = [dict(num_labels=2, offsets="window:1"), dict(num_labels=20, offsets="window:1", scale=0.3),
         dict(num_labels=20, offsets="window:3", scale=0.3), dict(num_labels=5, offsets="sparse:1,2,4,8"),
         dict(num_labels=7, offsets=[[0, 2], [2, 1], [1, -3]], scale=3.0),
         dict(num_labels=100, offsets="window:3", h=9, w=10)]  # tables too big for shared memory


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"L{c['num_labels']}-{c['offsets']}")
def test_sweeps_are_numpy_bit_for_bit(case, schedule):
    s, y, t, d = random_model(1, **case)
    for step in range(3):
        a = sampler.sweep(s, y, t, d, seed=3, step=step, backend="numpy", schedule=schedule)
        b = sampler.sweep(s, y, t, d, seed=3, step=step, backend="cupy", schedule=schedule)
        assert np.array_equal(a, b), np.mean(a != b)
        y = a


def test_float32_path_decides_almost_every_pixel_and_float64_path_agrees():
    import cupy as cp
    s, y, t, d = random_model(2, n=8, num_labels=20, h=60, w=80, offsets="window:1", scale=0.3)
    bases = cp.asarray(rng.image_bases(0, np.arange(8), np.zeros(8, np.uint64)))
    results = []
    for mode in (cupy_backend.SAMPLE, cupy_backend.SAMPLE_EXACT):
        model = cupy_backend.Model(s, t, d)
        labels = cp.asarray(y)
        model.sweep(labels, bases, mode)
        results.append((labels.get(), int(model.counter.get()[0])))
    (fast, exact_fast), (slow, exact_slow) = results
    assert np.array_equal(fast, slow) and exact_slow == y.size
    assert exact_fast < 0.01 * y.size


def test_device_marginal_loop_equals_the_api_loop():
    s, _, t, d = random_model(3, n=4, num_labels=5)
    burn_in, samples, seed, keys = 3, 6, 9, np.arange(4)
    expected = sampler.marginals(s, t, d, burn_in=burn_in, samples=samples, seed=seed, backend="cupy")
    bases = np.stack([rng.image_bases(seed, keys, np.full(4, k, np.uint64)) for k in range(burn_in + samples)])
    counts = cupy_backend.marginal_counts(s, s.argmax(axis=1).astype(np.uint8), t, d, bases, burn_in, "chromatic")
    assert np.array_equal((counts / np.float32(samples)).astype(np.float32), expected)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_train_step_on_the_device_is_numpy_s(schedule):
    s, y, t, d = random_model(9, n=4, num_labels=20, h=30, w=31, offsets="sparse:1,2,4,8", scale=0.5)
    kw = dict(sweeps=3, seed=2, keys=[4, 5, 6, 7], step=[0, 5, 9, 1], schedule=schedule)
    labels, counts = sampler.train_step(s, y, t, d, backend="cupy", **kw)
    expected_labels, expected_counts = sampler.train_step(s, y, t, d, backend="numpy", **kw)
    assert np.array_equal(labels, expected_labels) and np.array_equal(counts, expected_counts)


def test_statistical_agreement_with_numba_on_a_larger_model():
    """test_sampler_stats.chain_statistics on a 16x20, L=6, window:2 model (too big to enumerate):
    cupy's chromatic chains against numba's raster ones (different chains, one distribution),
    label frequencies and pair counts within 6 standard errors of their difference."""
    if "numba" not in sampler.available_backends():
        pytest.skip("numba not available")
    from test_sampler_stats import FLOOR, K, chain_statistics
    _, _, theta, offsets = random_model(4, n=1, num_labels=6, h=16, w=20, offsets="window:2", scale=0.4)
    scores = np.random.default_rng(5).normal(size=(6, 16, 20)).astype(np.float32)
    kw = dict(chains=1000, groups=50, burn_in=30, samples=40)
    gpu = chain_statistics(scores, theta, offsets, "cupy", "chromatic", **kw)
    cpu = chain_statistics(scores, theta, offsets, "numba", "raster", **kw)
    for (a, a_se), (b, b_se) in zip(gpu, cpu):
        assert np.all(np.abs(a - b) <= K * np.hypot(a_se, b_se) + FLOOR), np.abs(a - b).max()


@pytest.mark.parametrize("offsets, num_labels", [("window:1", 20), ("sparse:1,2,4,8", 20), ("window:3", 50)])
def test_pair_counts_on_the_device(offsets, num_labels):
    _, y, _, d = random_model(6, n=5, num_labels=num_labels, h=30, w=31, offsets=offsets)
    got = cupy_backend.pair_counts(y, d, num_labels)
    assert got.dtype == np.int64 and np.array_equal(got, stats.pair_counts(y, d, num_labels))


def test_count_on_the_device():
    import cupy as cp
    _, y, _, _ = random_model(7)
    expected = np.zeros((3, 4) + y.shape[1:], np.int32)
    numpy_backend.count(expected, y)
    numpy_backend.count(expected, y[::-1].copy())
    counts = cp.zeros(expected.shape, cp.int32)
    cupy_backend.count_device(counts, cp.asarray(y))
    cupy_backend.count_device(counts, cp.asarray(y[::-1].copy()))
    assert np.array_equal(counts.get(), expected)


def test_conditionals_icm_and_meanfield_agree_with_the_cpu():
    s, y, t, d = random_model(8, offsets="sparse:1,2")
    assert np.allclose(sampler.conditionals(s, y, t, d, backend="cupy"),
                       sampler.conditionals(s, y, t, d, backend="numpy"), atol=1e-5)
    for iterations in (1, 3, 50):
        assert np.array_equal(sampler.icm(s, t, d, iterations=iterations, init=y, backend="cupy"),
                              sampler.icm(s, t, d, iterations=iterations, init=y, backend="numpy"))
    assert np.allclose(sampler.meanfield(s, t, d, iterations=20, backend="cupy"),
                       sampler.meanfield(s, t, d, iterations=20, backend="numpy"), atol=1e-5)
