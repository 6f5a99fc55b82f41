"""The numba backend's float32 draws: the rounding bounds they rest on hold, a label they prove
is the float64 label, they prove almost every label of an ordinary model, and sweeps equal
numpy_backend's bit for bit also where the float32 arithmetic proves nothing; for the stationary
model and for image-dependent factors (K tables per class mixed by per-pixel weights, negative
weights included: the kernels' fused multiply-adds and their checkpoint bound)."""
import numpy as np
import pytest
from numba import njit

import sampler
from sampler import grid, rng
from sampler.backends import numba_backend as nb
from sampler.colouring import schedule_plan


@njit
def _exp32_all(x, out):
    for i in range(x.shape[0]):
        out[i] = nb._exp32(x[i])


def test_exp32_relative_error_is_below_its_bound():
    """Every 37th float32 in [-64, 0] (30 million), the values where k = round(d log2 e) steps,
    and the ends."""
    last = np.float32(-64.0).view(np.uint32)
    x = np.arange(np.uint32(0x80000000), last + 1, 37, dtype=np.uint32).view(np.float32)
    steps = (np.arange(0, 93) + 0.5) * -np.log(2.0)
    near = np.concatenate([np.nextafter(steps.astype(np.float32), s) for s in (np.float32(0), np.float32(-np.inf))])
    x = np.concatenate([x, near, np.float32([0.0, -0.0, -64.0])]).astype(np.float32)
    out = np.empty_like(x)
    _exp32_all(x, out)
    error = np.abs(out / np.exp(x.astype(np.float64)) - 1)
    assert error.max() < nb._EXP32_ERROR
    assert error.max() > nb._EXP32_ERROR / 256  # the bound is not vacuous: within 8 bits of the truth


def _model(seed, num_labels, offsets, h, w, scale, per_class=0, n=1):
    """(scores, labels, theta, offsets, weights): per_class 0 the stationary model (weights None),
    else K = per_class tables per class and weights in [-0.5, 1.5)."""
    g = np.random.default_rng(seed)
    offsets = sampler.parse_edges(offsets)
    scores = (scale * g.normal(size=(n, num_labels, h, w))).astype(np.float32)
    shape = (len(offsets),) + ((per_class,) if per_class else ()) + (num_labels, num_labels)
    theta = (0.5 * scale * g.normal(size=shape)).astype(np.float32)
    labels = g.integers(0, num_labels, (n, h, w)).astype(np.uint8)
    weights = g.uniform(-0.5, 1.5, (n, per_class, h, w)).astype(np.float32) if per_class else None
    return scores, labels, theta, offsets, weights


class _Block:
    """One colour's first block of one image, laid out as the sweep kernels lay it out."""

    def __init__(self, scores, labels, theta, offsets, weights=None):
        _, self.num_labels, h, w = scores.shape
        self.tables = nb._stacked(*nb._tables(theta))
        self.lp = self.tables.shape[2]
        self.order, starts = schedule_plan(grid.key(offsets), h, w, "chromatic")
        margin, pw, self.steps, self.where = nb._geometry(offsets, self.order, h, w)
        self.halves = nb._frame(nb._weights(weights, labels)[0], margin, pw, self.steps,
                                nb._table_maxima(self.tables))
        self.padded = np.empty((h + 2 * margin) * pw, np.uint8)
        nb._pad(labels[0], margin, pw, self.num_labels, self.padded)
        self.unary = scores[0].reshape(self.num_labels, h * w)
        self.unaries = nb._unaries(scores, True)[0]
        self.size = min(nb.BLOCK, starts[1])
        self.scratch = nb._scratch(self.num_labels, self.lp)

    def logits32(self):
        z32, bounds = self.scratch[0], self.scratch[1]
        for j in range(0, self.size, 2):
            pair = (j, min(j + 1, self.size - 1))
            rows = (self.order[pair[0]] * self.num_labels, self.order[pair[1]] * self.num_labels)
            nb._logits32(self.unaries, rows, self.num_labels, self.padded, self.tables.reshape(-1),
                         self.tables.shape[1] * self.lp, self.lp, self.steps,
                         (self.where[pair[0]], self.where[pair[1]]), z32.reshape(-1), j * self.lp, bounds, j,
                         self.halves)
        return z32[:self.size, :self.num_labels], bounds[:self.size]

    def logits64(self):
        z = self.scratch[4]
        nb._logits(self.unary, self.padded, self.tables, self.steps, self.order, self.where, 0, self.size, z,
                   self.halves)
        return z[:self.size].copy()

    def draws32(self, base):
        self.logits32()
        aux = self.scratch[3]
        nb._draws32(self.scratch[0], self.scratch[1], self.scratch[2], aux, self.size, base, self.order, 0,
                    self.num_labels)
        return aux[7, :self.size].astype(int), aux[8, :self.size] != 0


CASES = [(2, "window:1", 1.0, 0), (5, [[0, 2], [2, 1], [1, -3]], 3.0, 0), (20, "sparse:1,2,4,8,16,32", 1.0, 0),
         (20, "window:2", 30.0, 0), (40, "sparse:1,2", 2.0, 0),  # L = 40: two passes of 32 labels
         (2, "window:1", 1.0, 2), (5, [[0, 2], [2, 1], [1, -3]], 3.0, 3), (20, "sparse:1,2,4,8,16,32", 1.0, 2),
         (20, "window:2", 30.0, 1), (40, "sparse:1,2", 2.0, 2)]  # the last number: K (0: stationary)


@pytest.mark.parametrize("num_labels, offsets, scale, per_class", CASES, ids=lambda c: str(c))
def test_float32_logits_are_within_their_bound_of_the_float64_ones(num_labels, offsets, scale, per_class):
    for seed in range(3):
        block = _Block(*_model(seed, num_labels, offsets, 37, 45, scale, per_class))
        z32, bounds = block.logits32()
        gap = np.abs(z32.astype(np.float64) - block.logits64())
        assert np.all(gap <= nb._ERROR32 * bounds[:, None] + nb._TINY32)


@pytest.mark.parametrize("num_labels, offsets, scale, per_class", CASES, ids=lambda c: str(c))
def test_a_proven_float32_draw_is_the_float64_draw(num_labels, offsets, scale, per_class):
    proven_total = drawn = 0
    for seed in range(20):
        block = _Block(*_model(seed, num_labels, offsets, 29, 33, scale, per_class))
        z64 = block.logits64()
        base = rng.image_bases(seed, np.arange(1), np.zeros(1, np.uint64))[0]
        labels, proven = block.draws32(base)
        for j in np.flatnonzero(proven):
            u = rng.uniform(np.array([base]), [block.order[j]])[0]
            assert labels[j] == nb._draw(z64[j].copy(), u)
        proven_total, drawn = proven_total + proven.sum(), drawn + block.size
    assert proven_total >= 0.98 * drawn  # the float64 draw is the exception (about 0.2% here)


def test_nothing_is_proven_where_the_rounding_bound_is_too_large():
    """Scores of 1e6: float32 logits err by more than the draw can absorb; every pixel takes the
    float64 path, and the sweep is numpy_backend's all the same."""
    for per_class in (0, 2):
        scores, labels, theta, offsets, weights = _model(0, 6, "window:1", 20, 24, 1.0, per_class)
        scores = (scores * 1e6).astype(np.float32)
        base = rng.image_bases(0, np.arange(1), np.zeros(1, np.uint64))[0]
        assert not _Block(scores, labels, theta, offsets, weights).draws32(base)[1].any()
        a = sampler.sweep(scores, labels, theta, offsets, backend="numpy", step=1, weights=weights)
        assert np.array_equal(a, sampler.sweep(scores, labels, theta, offsets, backend="numba", step=1,
                                               weights=weights))


def test_overflowing_weighted_logits_prove_nothing():
    """Weights and tables near float32's largest value: the float32 products overflow (inf, and
    inf - inf = NaN in the sums), the bound says so, and every label comes from float64."""
    scores, labels, theta, offsets, weights = _model(1, 4, "window:1", 12, 14, 1.0, 2)
    theta = (theta * 1e30).astype(np.float32)
    weights = (weights * 1e30).astype(np.float32)
    base = rng.image_bases(0, np.arange(1), np.zeros(1, np.uint64))[0]
    block = _Block(scores, labels, theta, offsets, weights)
    z32, bounds = block.logits32()
    assert not np.all(np.isfinite(z32)) and not block.draws32(base)[1].any()
    a = sampler.sweep(scores, labels, theta, offsets, backend="numpy", step=1, weights=weights)
    assert np.array_equal(a, sampler.sweep(scores, labels, theta, offsets, backend="numba", step=1, weights=weights))


@pytest.mark.parametrize("num_labels, offsets, scale, per_class", CASES, ids=lambda c: str(c))
def test_numba_chromatic_sweeps_equal_numpy_bit_for_bit(num_labels, offsets, scale, per_class):
    """Images whose colours leave odd-sized and partial blocks (25 x 31), a batch in parallel over
    images and one over the blocks of a colour (fewer images than threads), several steps."""
    for n in (1, 3):
        scores, labels, theta, offsets, weights = _model(num_labels + n, num_labels, offsets, 25, 31, scale,
                                                         per_class, n)
        for step in range(3):
            a = sampler.sweep(scores, labels, theta, offsets, backend="numpy", step=step, seed=7, weights=weights)
            assert np.array_equal(a, sampler.sweep(scores, labels, theta, offsets, backend="numba", step=step, seed=7,
                                                   weights=weights))
            labels = a


def test_transpose_moves_a_block_of_lanes():
    @njit
    def transpose(source, target):
        nb._transpose(source.reshape(-1), 3, 21, target.reshape(-1), 5, 19)

    source = np.arange(3 + 21 * nb.LANES, dtype=np.float32)
    target = np.full(5 + 19 * nb.LANES, -1, dtype=np.float32)
    transpose(source, target)
    block = source[3:].reshape(nb.LANES, 21)[:, :nb.LANES]
    assert np.array_equal(target[5:].reshape(nb.LANES, 19)[:, :nb.LANES], block.T)
    assert np.all(target[:5] == -1) and np.all(target[5:].reshape(nb.LANES, 19)[:, nb.LANES:] == -1)
