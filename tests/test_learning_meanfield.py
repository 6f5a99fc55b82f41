"""Unrolled mean field: its forward is sampler.meanfield's, its value the log-likelihood of the
labels under the final marginals, and its gradients finite differences of that value (float64);
also with image-dependent factors (K tables per class mixed by per-pixel weights)."""
import numpy as np
import pytest

import sampler
from conftest import run_tool
from sampler.learning import UnrolledMeanField

OFFSETS = sampler.parse_edges([[0, 1], [1, 0], [1, -2], [0, 9]])  # negative dx; the last has no edges


def tiny(seed, n=2, num_labels=3, h=3, w=4, scale=1.0):
    g = np.random.default_rng(seed)
    scores = g.normal(size=(n, num_labels, h, w))
    theta = scale * g.normal(size=(len(OFFSETS), num_labels, num_labels)) - np.eye(num_labels)  # repulsive diagonal
    return scores, g.integers(0, num_labels, (n, h, w)), theta


def test_forward_is_sampler_meanfield_and_value_its_log_likelihood():
    scores, labels, theta = tiny(0, n=3, h=6, w=7)
    unrolled = UnrolledMeanField(scores, labels, theta, OFFSETS, iterations=6, damping=0.4, backend="numpy")
    expected = sampler.meanfield(scores, theta, OFFSETS, iterations=6, damping=0.4, backend="numpy")
    assert np.array_equal(unrolled.marginals, expected)
    log_q = np.log(np.take_along_axis(expected, labels[:, None], 1)[:, 0]).sum(axis=(1, 2))
    assert np.allclose(unrolled.value, log_q, rtol=1e-6)


@pytest.mark.parametrize("iterations", [1, 3, 5])
def test_zero_theta_is_the_softmax_loss_and_its_gradient(iterations):
    scores, labels, theta = tiny(1)
    unrolled = UnrolledMeanField(scores, labels, 0 * theta, OFFSETS, iterations=iterations, damping=0.7,
                                 dtype="float64")
    log_softmax = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    onehot = labels[:, None] == np.arange(3)[:, None, None]
    assert np.allclose(unrolled.value, (onehot * log_softmax).sum(axis=(1, 2, 3)), rtol=1e-12)
    d_scores, d_theta = unrolled.gradients()
    assert np.allclose(d_scores, onehot - np.exp(log_softmax), atol=1e-12)
    assert np.abs(d_theta[:3]).max() > 0.1 and not d_theta[3].any()  # theta still has a gradient


def numeric_gradient(value, array, step=1e-6):
    out = np.zeros(array.shape)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + step
        up = value()
        array[index] = saved - step
        down = value()
        array[index] = saved
        out[index] = (up - down) / (2 * step)
    return out


@pytest.mark.parametrize("iterations, damping", [(1, 1.0), (1, 0.3), (3, 0.5), (4, 1.0), (7, 0.15)])
def test_gradients_are_finite_differences_of_the_value(iterations, damping):
    """float64 central differences with step 1e-6: error ~1e-9 against gradients of order 1."""
    scores, labels, theta = tiny(2, scale=1.5)

    def run():
        return UnrolledMeanField(scores, labels, theta, OFFSETS, iterations=iterations, damping=damping,
                                 dtype="float64")

    d_scores, d_theta = run().gradients()
    assert d_scores.dtype == d_theta.dtype == np.float64

    def value():
        return run().value.sum()

    for array, gradient in ((scores, d_scores), (theta, d_theta)):
        numeric = numeric_gradient(value, array)
        assert np.abs(gradient - numeric).max() < 1e-7 * max(1.0, np.abs(numeric).max()), \
            np.abs(gradient - numeric).max()
        assert np.abs(numeric).max() > 0.1


def gated(seed, per_class=2, **kw):
    """tiny()'s model with theta (C, K, L, L) and weights (N, K, H, W) around 0.5, some negative."""
    scores, labels, theta = tiny(seed, **kw)
    g = np.random.default_rng(seed + 100)
    tables = theta[:, None] + 0.5 * g.normal(size=(theta.shape[0], per_class) + theta.shape[1:])
    return scores, labels, tables, g.normal(0.5, 0.7, (scores.shape[0], per_class) + scores.shape[2:])


def test_weighted_forward_is_sampler_meanfield():
    scores, labels, theta, weights = gated(7, n=3, h=6, w=7)
    unrolled = UnrolledMeanField(scores, labels, theta, OFFSETS, iterations=4, damping=0.6, backend="numpy",
                                 weights=weights)
    expected = sampler.meanfield(scores, theta, OFFSETS, iterations=4, damping=0.6, backend="numpy", weights=weights)
    assert np.array_equal(unrolled.marginals, expected)
    log_q = np.log(np.take_along_axis(expected, labels[:, None], 1)[:, 0]).sum(axis=(1, 2))
    assert np.allclose(unrolled.value, log_q, rtol=1e-6)


def test_unit_weights_give_the_stationary_gradients_bit_for_bit():
    scores, labels, theta = tiny(8)
    plain = UnrolledMeanField(scores, labels, theta, OFFSETS, iterations=3)
    unit = UnrolledMeanField(scores, labels, theta[:, None], OFFSETS, iterations=3, weights=np.ones((2, 1, 3, 4)))
    assert np.array_equal(plain.value, unit.value)
    gradients = unit.gradients()
    for a, b in zip(plain.gradients(), gradients):
        assert np.array_equal(a, b.reshape(a.shape))
    assert gradients[2].shape == (2, 1, 3, 4) and np.abs(gradients[2]).max() > 0.01


@pytest.mark.parametrize("iterations, damping", [(1, 1.0), (3, 0.5), (4, 0.3)])
def test_weighted_gradients_are_finite_differences_of_the_value(iterations, damping):
    scores, labels, theta, weights = gated(9, scale=1.5)

    def value():
        return UnrolledMeanField(scores, labels, theta, OFFSETS, iterations=iterations, damping=damping,
                                 dtype="float64", weights=weights).value.sum()

    gradients = UnrolledMeanField(scores, labels, theta, OFFSETS, iterations=iterations, damping=damping,
                                  dtype="float64", weights=weights).gradients()
    assert len(gradients) == 3 and all(g.dtype == np.float64 for g in gradients)
    for array, gradient in zip((scores, theta, weights), gradients):
        numeric = numeric_gradient(value, array)
        assert np.abs(gradient - numeric).max() < 1e-7 * max(1.0, np.abs(numeric).max()), \
            np.abs(gradient - numeric).max()
        assert np.abs(numeric).max() > 0.05


def test_float32_gradients_agree_with_float64():
    scores, labels, theta = tiny(3, h=8, w=9)
    both = [UnrolledMeanField(scores, labels, theta, OFFSETS, iterations=5, damping=0.5, dtype=d).gradients()
            for d in ("float32", "float64")]
    for low, high in zip(*both):
        assert low.dtype == np.float32 and np.abs(low - high).max() < 1e-4 * np.abs(high).max()


def test_underflowing_marginals_give_a_finite_loss_and_gradients():
    """A true label 200 nats below the others: its float32 marginal is 0, so the value is log(tiny)
    there (as Caffe's SoftmaxWithLoss does) and the gradients stay finite."""
    scores, labels, theta = tiny(4)
    scores = scores.astype(np.float32)
    b, y, x = 0, 1, 2
    scores[b, labels[b, y, x], y, x] -= 200
    unrolled = UnrolledMeanField(scores, labels, theta, OFFSETS, iterations=3, damping=0.5)
    assert unrolled.marginals[b, labels[b, y, x], y, x] == 0
    assert np.isfinite(unrolled.value).all() and unrolled.value[0] < np.log(np.finfo(np.float32).tiny)
    d_scores, d_theta = unrolled.gradients()
    assert np.isfinite(d_scores).all() and np.isfinite(d_theta).all()


@pytest.mark.parametrize("key, value, message", [
    ("iterations", 0, "iterations: expected an integer >= 1"),
    ("damping", 0.0, "damping: expected a number in \\(0, 1\\]"),
    ("damping", 1.5, "damping: expected a number in \\(0, 1\\]"),
    ("damping", "0.5", "damping: expected a number in \\(0, 1\\]"),
    ("dtype", "float16", "dtype: expected one of"),
])
def test_bad_settings_name_the_argument(key, value, message):
    scores, labels, theta = tiny(5)
    with pytest.raises(ValueError, match=message):
        UnrolledMeanField(scores, labels, theta, OFFSETS, **{key: value})


@pytest.mark.gpu
@pytest.mark.parametrize("backend", [
    pytest.param("cupy", marks=pytest.mark.skipif("cupy" not in sampler.available_backends(),
                                                  reason=f"no GPU for the CuPy backend: "
                                                         f"{sampler.backends.cupy_backend.REASON}")),
    "numba"])  # the field by Numba kernels (sampler/field_kernels.py)
@pytest.mark.parametrize("per_class", [0, 2])
@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-10), ("float32", 1e-4)])
def test_other_backends_give_the_numpy_results(dtype, tolerance, per_class, backend):
    if per_class:
        scores, labels, theta, weights = gated(6, per_class, n=3, h=9, w=11)
    else:
        (scores, labels, theta), weights = tiny(6, n=3, h=9, w=11), None
    runs = [UnrolledMeanField(scores, labels, theta, OFFSETS, iterations=4, damping=0.6, backend=b, dtype=dtype,
                              weights=weights) for b in (backend, "numpy")]
    assert np.allclose(runs[0].value, runs[1].value, rtol=tolerance)
    assert np.abs(runs[0].marginals - runs[1].marginals).max() < tolerance
    for other, plain in zip(runs[0].gradients(), runs[1].gradients()):
        assert isinstance(other, np.ndarray) and np.abs(other - plain).max() < tolerance * np.abs(plain).max()


def test_benchmark_prints_both_backends_and_the_speed_up(capsys):
    """tools/bench_meanfield.py: numpy and numba times and their ratio per row, in one run (tiny here)."""
    assert run_tool("bench_meanfield", ["--batch", "2", "--labels", "3", "--height", "12", "--width", "16",
                                        "--repeats", "1"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert [row[:2] for row in rows] == [["stationary", "inference"], ["stationary", "learning"],
                                         ["K=2", "inference"], ["K=2", "learning"]]
    for row in rows:
        assert row[-8] == "numpy" and row[-5] == "numba" and row[-2] == "speed-up" and float(row[-1][:-1]) > 0
