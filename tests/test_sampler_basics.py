"""sampler: offsets, colourings, RNG, validation, determinism, statistics against brute force."""
import numpy as np
import pytest

import sampler
from sampler import grid, rng
from sampler.backends import numba_backend, numpy_backend
from sampler.colouring import schedule_plan

BACKENDS = sampler.available_backends()
SCHEDULES = ("raster", "chromatic")
EDGE_SETS = [sampler.window(r) for r in (1, 2, 3, 4)] + [
    sampler.sparse([1, 2, 4, 8]), sampler.sparse([1, 3, 9]), sampler.parse_edges([[0, 2], [2, 1], [1, -3]]),
    # the sets of the statistical tests
    sampler.parse_edges([[0, 1], [1, 0], [0, 2], [1, -2]]), sampler.parse_edges([[0, 1], [1, 0], [2, 1], [1, 1]]),
    sampler.parse_edges([[0, 1], [1, 0], [1, 1], [1, -1], [2, 1]])]


def random_model(seed, n=3, num_labels=4, h=6, w=7, offsets="window:2", scale=1.0):
    g = np.random.default_rng(seed)
    offsets = sampler.parse_edges(offsets)
    scores = g.normal(size=(n, num_labels, h, w)).astype(np.float32)
    theta = (scale * g.normal(size=(len(offsets), num_labels, num_labels))).astype(np.float32)
    labels = g.integers(0, num_labels, size=(n, h, w)).astype(np.uint8)
    return scores, labels, theta, offsets


# --- offsets -------------------------------------------------------------------------------

def test_window_and_sparse_are_canonical_and_complete():
    for r in (1, 2, 3):
        d = sampler.window(r)
        assert d.dtype == np.int64 and len(d) == ((2 * r + 1) ** 2 - 1) // 2
        assert all(dy > 0 or (dy == 0 and dx > 0) for dy, dx in d.tolist())
        assert max(np.abs(d).max(axis=1)) == r
    assert sampler.sparse([1, 2]).tolist() == [[0, 1], [1, 0], [1, 1], [1, -1], [0, 2], [2, 0], [2, 2], [2, -2]]


def test_parse_edges_forms():
    assert np.array_equal(sampler.parse_edges("window:2"), sampler.window(2))
    assert np.array_equal(sampler.parse_edges("sparse:1,2,4,8"), sampler.sparse([1, 2, 4, 8]))
    assert sampler.parse_edges([[0, 2], [2, 1]]).tolist() == [[0, 2], [2, 1]]


@pytest.mark.parametrize("spec, problem", [
    ([[0, -1]], "canonical"), ([[-1, 2]], "canonical"), ([[0, 1], [0, 1]], "duplicate"),
    ([[0, 0]], "(0, 0)"), ("window:0", "positive"), ("ring:2", "window:R"), ([[0.5, 1]], "integers"),
    ([1, 2, 3], "pairs"), ("sparse:1,1", "duplicate")])
def test_parse_edges_rejects(spec, problem):
    with pytest.raises(ValueError, match="offsets|edges|distances|radius") as e:
        sampler.parse_edges(spec)
    assert problem in str(e.value)


# --- colourings ------------------------------------------------------------------------------

@pytest.mark.parametrize("offsets", EDGE_SETS, ids=lambda d: f"C{len(d)}")
def test_colouring_is_valid(offsets):
    a, b, k = sampler.colouring(offsets)
    assert np.all((a * offsets[:, 0] + b * offsets[:, 1]) % k != 0)
    colours, k2 = sampler.colour_map(offsets, 20, 23)
    assert k2 == k and colours.shape == (20, 23) and set(np.unique(colours)) == set(range(k))
    for dy, dx in offsets.tolist():  # brute force: no edge inside the image joins equal colours
        xs = slice(max(0, -dx), 23 - max(0, dx))
        xt = slice(max(0, dx), 23 + min(0, dx))
        assert not np.any(colours[:20 - dy, xs] == colours[dy:, xt])


def test_colour_counts():
    # (R+1)^2 pixels within a (R+1)x(R+1) block are pairwise linked: these counts are optimal.
    assert [sampler.colouring(sampler.window(r))[2] for r in (1, 2, 3, 4)] == [4, 9, 16, 25]
    assert sampler.colouring(sampler.sparse([1, 2, 4, 8]))[2] == 5


# --- the documented hash ------------------------------------------------------------------

def _reference_uniform(seed, key, step, pixel):
    """rng.py's docstring, transcribed with Python integers."""
    mask = 2 ** 64 - 1

    def mix(z):
        z = (z + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)
    base = mix(mix(mix(seed) ^ (key & mask)) ^ step)
    return (mix(base ^ pixel) >> 11) * 2.0 ** -53


def test_rng_matches_its_documentation_in_numpy_and_numba():
    cases = [(0, 0, 0, 0), (7, 3, 11, 5), (2 ** 63 + 5, -1, 2 ** 64 - 1, 19199), (1, 2 ** 40, 3, 77)]
    for seed, key, step, pixel in cases:
        bases = rng.image_bases(seed, np.array([key], np.int64), np.array([step], np.uint64))
        expected = _reference_uniform(seed, key, step, pixel)
        assert rng.uniform(bases, [pixel])[0] == expected
        assert numba_backend._uniform(bases[0], np.uint64(pixel)) == expected


def test_uniforms_look_uniform():
    u = rng.uniform(rng.image_bases(3, np.arange(4), np.zeros(4, np.uint64))[:, None], np.arange(50000)[None])
    assert u.min() >= 0 and u.max() < 1
    counts = np.bincount((u.ravel() * 100).astype(int), minlength=100)
    expected = u.size / 100
    assert np.sum((counts - expected) ** 2 / expected) < 99 + 6 * np.sqrt(2 * 99)  # chi-square, 6 sd


# --- validation ------------------------------------------------------------------------------

def _bad_inputs():
    s, y, t, d = random_model(0)
    nan = s.copy()
    nan[0, 0, 0, 0] = np.nan
    inf = t.copy()
    inf[0, 0, 0] = np.inf
    big = y.copy()
    big[0, 0, 0] = 4
    return [
        (dict(scores=s.astype(np.int32)), "scores", "float"),
        (dict(scores=s[0]), "scores", "dimensions"),
        (dict(scores=nan), "scores", "NaN"),
        (dict(theta=inf), "theta", "NaN or Inf"),
        (dict(theta=t[:3]), "theta", "shape"),
        (dict(labels=y.astype(np.float32)), "labels", "integer"),
        (dict(labels=y[:2]), "labels", "shape"),
        (dict(labels=big), "labels", "0..3"),
        (dict(offsets=[[0, -1]] + d.tolist()[1:]), "offsets", "canonical"),
        (dict(keys=[1, 2]), "keys", "3 integers"),
        (dict(step=-1), "step", "non-negative"),
        (dict(seed=-3), "seed", "integer"),
        (dict(schedule="spiral"), "schedule", "chromatic"),
        (dict(backend="tpu"), "backend", "numba"),
    ]


@pytest.mark.parametrize("change, name, problem", _bad_inputs(), ids=lambda v: str(v)[:20])
def test_sweep_rejects_bad_input(change, name, problem):
    s, y, t, d = random_model(0)
    args = dict(scores=s, labels=y, theta=t, offsets=d) | change
    with pytest.raises(ValueError) as e:
        sampler.sweep(**args)
    assert str(e.value).startswith(name) and problem in str(e.value)


def test_other_functions_validate_too():
    s, y, t, d = random_model(0)
    bad = y.copy()
    bad[0, 0, 0] = 9
    for call in (lambda: sampler.energy(s, bad, t, d), lambda: sampler.conditionals(s, bad, t, d),
                 lambda: sampler.pseudo_log_likelihood(s, bad, t, d), lambda: sampler.pair_counts(bad, d, 4),
                 lambda: sampler.icm(s, t, d, init=bad), lambda: sampler.marginals(s, t, d, init=bad)):
        with pytest.raises(ValueError, match="labels|init"):
            call()
    with pytest.raises(ValueError, match="theta"):
        sampler.meanfield(s, t[:, :2], d)
    with pytest.raises(ValueError, match="samples"):
        sampler.marginals(s, t, d, samples=0)


# --- determinism and batch independence -----------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_sweep_is_reproducible_and_independent_of_batch_slot(backend, schedule):
    s, y, t, d = random_model(1, n=5, offsets="sparse:1,2")
    keys = np.array([10, 11, 12, 13, 14])
    kw = dict(backend=backend, schedule=schedule, seed=4)
    first = sampler.sweep(s, y, t, d, keys=keys, step=[3, 4, 5, 6, 7], **kw)
    assert np.array_equal(first, sampler.sweep(s, y, t, d, keys=keys, step=[3, 4, 5, 6, 7], **kw))
    perm = np.array([3, 0, 4, 2, 1])
    permuted = sampler.sweep(s[perm], y[perm], t, d, keys=keys[perm], step=np.array([3, 4, 5, 6, 7])[perm], **kw)
    assert np.array_equal(permuted, first[perm])
    alone = sampler.sweep(s[2:3], y[2:3], t, d, keys=[12], step=5, **kw)
    assert np.array_equal(alone[0], first[2])
    assert not np.array_equal(first, sampler.sweep(s, y, t, d, keys=keys, step=[3, 4, 5, 6, 8], **kw))
    assert not np.array_equal(first, sampler.sweep(s, y, t, d, keys=keys, step=[3, 4, 5, 6, 7],
                                                   backend=backend, schedule=schedule, seed=5))


def test_sweep_does_not_modify_its_input():
    s, y, t, d = random_model(2)
    before = y.copy()
    out = sampler.sweep(s, y, t, d)
    assert np.array_equal(y, before) and out.dtype == np.uint8 and out.shape == y.shape


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_numpy_and_numba_almost_always_agree(schedule):
    if "numba" not in BACKENDS:
        pytest.skip("numba not available")
    s, y, t, d = random_model(3, n=4, num_labels=6, h=20, w=24, offsets="window:2", scale=2.0)
    a = sampler.sweep(s, y, t, d, backend="numpy", schedule=schedule, step=9)
    b = sampler.sweep(s, y, t, d, backend="numba", schedule=schedule, step=9)
    assert np.mean(a == b) > 0.999  # identical arithmetic; a rare last-bit difference may propagate


def test_marginals_shape_and_normalisation():
    s, _, t, d = random_model(4)
    m = sampler.marginals(s, t, d, burn_in=2, samples=5)
    assert m.shape == s.shape and m.dtype == np.float32
    assert np.allclose(m.sum(axis=1), 1) and np.all((m * 5) == np.round(m * 5))
    assert np.array_equal(m, sampler.marginals(s, t, d, burn_in=2, samples=5))


# --- energy, conditionals, pair counts against brute force ---------------------------------

def _brute_energy(s, y, t, d):
    n, _, h, w = s.shape
    e = np.zeros(n)
    for k in range(n):
        for i in range(h):
            for j in range(w):
                e[k] += s[k, y[k, i, j], i, j]
                for c, (dy, dx) in enumerate(d.tolist()):
                    if 0 <= i + dy < h and 0 <= j + dx < w:
                        e[k] += t[c, y[k, i, j], y[k, i + dy, j + dx]]
    return e


def test_energy_and_pair_counts_match_brute_force():
    s, y, t, d = random_model(5, offsets=[[0, 2], [2, 1], [1, -1], [3, -2]])
    assert np.allclose(sampler.energy(s, y, t, d), _brute_energy(s, y, t, d), rtol=1e-6)
    counts = sampler.pair_counts(y, d, 4)
    brute = np.zeros_like(counts)
    for c, (dy, dx) in enumerate(d.tolist()):
        for k, i, j in np.ndindex(y.shape):
            if 0 <= i + dy < y.shape[1] and 0 <= j + dx < y.shape[2]:
                brute[c, y[k, i, j], y[k, i + dy, j + dx]] += 1
    assert counts.dtype == np.int64 and np.array_equal(counts, brute)
    # energy is linear in the sufficient statistics
    unary = np.take_along_axis(s, y[:, None].astype(int), 1).sum()
    assert np.isclose(unary + np.sum(counts * t), sampler.energy(s, y, t, d).sum(), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_conditionals_are_energy_differences(backend):
    s, y, t, d = random_model(6, n=2, offsets=[[0, 1], [2, 1], [1, -2]])
    logp = sampler.conditionals(s, y, t, d, backend=backend)
    assert logp.shape == s.shape and logp.dtype == np.float32
    assert np.allclose(np.exp(logp).sum(axis=1), 1, atol=1e-5)
    for k, i, j in [(0, 0, 0), (1, 3, 4), (0, 5, 6), (1, 2, 0)]:
        energies = []
        for l in range(4):
            z = y.copy()
            z[k, i, j] = l
            energies.append(sampler.energy(s, z, t, d)[k])
        expected = np.array(energies) - np.logaddexp.reduce(energies)
        assert np.allclose(logp[k, :, i, j], expected, atol=1e-4)
    pll = sampler.pseudo_log_likelihood(s, y, t, d, backend=backend)
    assert pll.shape == (2,) and np.allclose(
        pll, np.take_along_axis(logp, y[:, None].astype(int), 1).sum(axis=(1, 2, 3)), rtol=1e-5)


def test_backends_registry():
    assert "numpy" in BACKENDS and set(BACKENDS) <= {"numpy", "numba", "cupy"}
    with pytest.raises(ValueError, match="backend"):
        sampler.sweep(*random_model(0), backend="nope")


def test_numba_chromatic_kernels_agree():
    """Parallel over images or over the pixels of a colour, unaries transposed once or gathered
    by each block (for batches too big to copy): the same sweep, numpy_backend's."""
    if "numba" not in BACKENDS:
        pytest.skip("numba not available")
    s, y, t, d = random_model(8, n=3, num_labels=5, h=30, w=41, offsets="sparse:1,3")
    forward, backward = numba_backend._tables(t)
    order, starts = schedule_plan(grid.key(d), 30, 41, "chromatic")
    bases = rng.image_bases(1, np.arange(3), np.zeros(3, np.uint64))
    expected = numpy_backend.sweep(s, y.copy(), t, d, bases, "chromatic")
    no_counts, no_order = np.zeros((0, len(d), 5, 5), np.int32), np.zeros((0, 2 * len(d) + 1), np.int64)
    for kernel in (numba_backend._chromatic, numba_backend._chromatic_by_image):
        for transpose in (True, False):
            got = y.copy()
            changed = kernel(s, got, forward, backward, d, order, starts, bases, numba_backend.SAMPLE, transpose,
                             no_counts, no_order, np.zeros((3, 0, 30, 41), np.float32))
            assert np.array_equal(got, expected) and changed == np.sum(got != y), (kernel, transpose)


@pytest.mark.parametrize("offsets", ["window:1", "sparse:1,2,4,8,16,32", [[0, 2], [2, 1], [1, -3]]], ids=str)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_numba_sweeps_are_bit_identical_to_numpy(offsets, schedule):
    """Same float64 operations in the same order: labels agree exactly, also where offsets reach
    past the border (images smaller than the offsets) and with fewer images than threads."""
    if "numba" not in BACKENDS:
        pytest.skip("numba not available")
    for n, num_labels, h, w in [(3, 20, 23, 37), (1, 5, 3, 4)]:
        s, y, t, d = random_model(9, n=n, num_labels=num_labels, h=h, w=w, offsets=offsets, scale=1.5)
        for step in range(3):
            a = sampler.sweep(s, y, t, d, backend="numpy", schedule=schedule, step=step)
            b = sampler.sweep(s, y, t, d, backend="numba", schedule=schedule, step=step)
            assert np.array_equal(a, b)
            y = a


def test_numba_kernels_restate_exp_neg_exactly():
    x = np.concatenate([-np.logspace(-300, 3, 2000), -np.random.default_rng(0).exponential(8.0, 20000),
                        [0.0, -0.0, -64.0, -64.0000001, -1e300]])
    expected = sampler.kernelmath.exp_neg(x)
    assert all(numba_backend._exp_neg(v) == e for v, e in zip(x.tolist(), expected.tolist()))


def test_numba_kernels_use_only_their_own_file():
    """Numba's cache checks only the defining file, so a kernel calling into another module would
    keep stale code after that module changed: every jitted callee (and every intrinsic, whose
    code generator is compiled into the caller) must live in numba_backend."""
    import types
    from numba.core.extending import _Intrinsic
    from numba.core.registry import CPUDispatcher
    kernels = {k: v for k, v in vars(numba_backend).items() if isinstance(v, CPUDispatcher)}
    assert {"_mix", "_exp_neg", "_block", "_chromatic", "_chromatic_by_image"} <= set(kernels)
    for name, kernel in kernels.items():
        assert kernel.py_func.__module__ == numba_backend.__name__, name
        for used in kernel.py_func.__code__.co_names:
            value = vars(numba_backend).get(used)
            if isinstance(value, types.ModuleType):
                assert value is np, (name, used)
            elif isinstance(value, _Intrinsic):
                assert value._defn.__module__ == numba_backend.__name__, (name, used)
            elif callable(value) and not isinstance(value, type):
                assert value in (numba_backend.prange, numba_backend.get_thread_id) or (
                    isinstance(value, CPUDispatcher) and value.py_func.__module__ == numba_backend.__name__), (name, used)
