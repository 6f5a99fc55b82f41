"""Whole-chain operations: sampler.train_step (k sweeps, then the sample's pair counts) and the
backends' train_step / marginal_counts / pair_counts, against the single operations they stand
for; the generic versions run on the backend they are built for."""
import types

import numpy as np
import pytest

import sampler
from sampler import backends, rng, stats
from sampler.backends import generic, numba_backend, numpy_backend

_CUPY_MARKS = [pytest.mark.gpu] + ([] if "cupy" in sampler.available_backends() else [
    pytest.mark.skip(reason=f"cupy backend not available: {sampler.backends.cupy_backend.REASON}")])
BACKENDS = [name for name in sampler.available_backends() if name != "cupy"] + [pytest.param("cupy", marks=_CUPY_MARKS)]
SCHEDULES = ("raster", "chromatic")


def random_model(seed, n=3, num_labels=4, h=9, w=11, offsets="sparse:1,2", scale=1.0):
    g = np.random.default_rng(seed)
    offsets = sampler.parse_edges(offsets)
    scores = (scale * g.normal(size=(n, num_labels, h, w))).astype(np.float32)
    theta = (scale * g.normal(size=(len(offsets), num_labels, num_labels))).astype(np.float32)
    labels = g.integers(0, num_labels, size=(n, h, w)).astype(np.uint8)
    return scores, labels, theta, offsets


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_train_step_is_sweeps_then_pair_counts(schedule, backend):
    s, y, t, d = random_model(1)
    keys, step = np.array([7, 3, 9]), np.array([4, 0, 11])
    kw = dict(seed=5, keys=keys, backend=backend, schedule=schedule)
    before = y.copy()
    labels, counts = sampler.train_step(s, y, t, d, sweeps=3, step=step, **kw)
    expected = y
    for k in range(3):  # sweep k of image n uses step[n] + k
        expected = sampler.sweep(s, expected, t, d, step=step + k, **kw)
    assert np.array_equal(y, before) and labels.dtype == np.uint8 and np.array_equal(labels, expected)
    assert counts.dtype == np.int64 and np.array_equal(counts, stats.pair_counts(expected, d, 4))


@pytest.mark.parametrize("n", [1, 5])  # numba: fewer images than threads (colour-parallel kernel), and more
@pytest.mark.parametrize("num_labels, offsets, h, w", [
    (2, "window:1", 6, 7), (20, "sparse:1,2,4,8,16,32", 23, 37), (40, [[0, 2], [2, 1], [1, -3]], 9, 10),
    (5, [[0, 1], [9, 0], [3, -12]], 4, 5)])  # offsets longer than the image: edges of some classes only
def test_numba_counts_the_last_sweep_as_it_draws(n, num_labels, offsets, h, w):
    """The fused count (each edge when its later end is drawn) is stats.pair_counts exactly, and
    the labels are numpy_backend's."""
    s, y, t, d = random_model(2, n=n, num_labels=num_labels, h=h, w=w, offsets=offsets)
    bases = np.stack([rng.image_bases(3, np.arange(n), np.full(n, k, np.uint64)) for k in range(2)])
    got, expected = y.copy(), y.copy()
    counts = numba_backend.train_step(s, got, t, d, bases, "chromatic")
    reference = numpy_backend.sweep(s, numpy_backend.sweep(s, expected, t, d, bases[0], "chromatic"), t, d, bases[1],
                                    "chromatic")
    assert np.array_equal(got, reference)
    assert counts.dtype == np.int64 and np.array_equal(counts, stats.pair_counts(got, d, num_labels))


@pytest.mark.parametrize("backend", BACKENDS)
def test_pair_counts_of_every_backend(backend):
    _, y, _, d = random_model(3, n=4, num_labels=6, h=13, w=10, offsets=[[0, 1], [2, -3], [1, 4], [0, 12]])
    brute = np.zeros((len(d), 6, 6), np.int64)
    for c, (dy, dx) in enumerate(d.tolist()):
        for k, i, j in np.ndindex(y.shape):
            if i + dy < y.shape[1] and 0 <= j + dx < y.shape[2]:
                brute[c, y[k, i, j], y[k, i + dy, j + dx]] += 1
    counts = sampler.pair_counts(y, d, 6, backend=backend)
    assert counts.dtype == np.int64 and np.array_equal(counts, brute)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_marginals_are_numpy_backend_s(schedule, backend):
    s, _, t, d = random_model(4)
    kw = dict(burn_in=3, samples=4, seed=2, keys=[5, 6, 7], schedule=schedule)
    assert np.array_equal(sampler.marginals(s, t, d, backend=backend, **kw), sampler.marginals(s, t, d, backend="numpy", **kw))


def test_numba_count_is_numpy_s():
    _, y, _, _ = random_model(5)
    got, expected = np.zeros((3, 4, 9, 11), np.int32), np.zeros((3, 4, 9, 11), np.int32)
    for labels in (y, y[::-1].copy()):
        numba_backend.count(got, labels)
        numpy_backend.count(expected, labels)
    assert np.array_equal(got, expected)


def test_generic_operations_use_the_backend_s_own_sweep():
    """A backend with a sweep but no whole-chain operations: train_step and marginal_counts are
    built from that sweep (called once per row of bases), numpy_backend supplying the rest."""
    calls = []

    def own_sweep(scores, labels, theta, offsets, bases, schedule):
        calls.append(bases.copy())
        return numpy_backend.sweep(scores, labels, theta, offsets, bases, schedule)

    backend = types.SimpleNamespace(sweep=own_sweep)
    s, y, t, d = random_model(6)
    bases = np.stack([rng.image_bases(1, np.arange(3), np.full(3, k, np.uint64)) for k in range(4)])
    labels = y.copy()
    counts = backends.function(backend, "train_step")(s, labels, t, d, bases, "chromatic")
    assert len(calls) == 4 and all(np.array_equal(a, b) for a, b in zip(calls, bases))
    assert np.array_equal(counts, stats.pair_counts(labels, d, 4))
    calls.clear()
    marginal = backends.function(backend, "marginal_counts")(s, y.copy(), t, d, bases, 1, "chromatic")
    assert len(calls) == 4 and marginal.dtype == np.int32 and np.all(marginal.sum(axis=1) == 3)
    assert backends.function(numpy_backend, "train_step").func is generic.train_step


@pytest.mark.parametrize("change, name", [(dict(sweeps=0), "sweeps"), (dict(sweeps=1.5), "sweeps"),
                                          (dict(step=[1, 2]), "step"), (dict(schedule="spiral"), "schedule"),
                                          (dict(labels_max=True), "labels"), (dict(backend="tpu"), "backend")])
def test_train_step_rejects_bad_input(change, name):
    s, y, t, d = random_model(7)
    if change.pop("labels_max", False):
        y = y.copy()
        y[0, 0, 0] = 4
    with pytest.raises(ValueError) as e:
        sampler.train_step(s, y, t, d, **change)
    assert str(e.value).startswith(name)


def test_pair_counts_rejects_an_unknown_backend():
    _, y, _, d = random_model(8)
    with pytest.raises(ValueError, match="^backend"):
        sampler.pair_counts(y, d, 4, backend="tpu")
