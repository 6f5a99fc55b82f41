"""CPU backend: Numba kernels. Chromatic sweeps run in parallel over images (colours in turn
inside each) when the batch has at least as many images as threads, else over the blocks of
(image, pixels) of one colour at a time; raster sweeps are the same kernel with one pixel per group.

Layout, chosen for speed (see tools/bench_sampler.py):
- labels live in a padded copy per image, a margin of R = max |offset| filled with the
  "outside" label L, so a neighbour is one load at a fixed flat offset, without bounds tests;
- the pairwise tables are stacked as (2C, L + 1, L) float32 (widened, exactly, as they are added
  to the float64 logits): row 2c = theta[c] transposed (the term of i + d_c), row 2c + 1 =
  theta[c] (the term of i - d_c), then a zero row for the outside label; so each neighbour adds
  one contiguous L-vector;
- pixels go in blocks of BLOCK pixels of one colour: the logits of a block are accumulated
  neighbour class by neighbour class (independent additions, so no chain of dependent adds),
  and exp runs over the whole block at once.
Same float64 arithmetic, in the same order, as numpy_backend (adding a zero row is what it does
for outside neighbours too), so both usually give identical labels.
"""
import math

import numba
import numpy as np
from numba import njit, prange

from .. import grid
from ..colouring import schedule_plan

SAMPLE, IMPROVE = 0, 1
BLOCK = 64  # pixels of one colour handled together
CHUNK = 16  # blocks per parallel task in _chromatic (1024 pixels)


def available():
    return True


# --- rng.py and kernelmath.py, restated for Numba ----------------------------------------------
# Numba's on-disk cache (cache=True) checks only the file that defines a cached function, yet a
# kernel carries compiled copies of the functions and constants it uses from other files. So
# every function and constant the kernels use is defined in this file: any edit here recompiles,
# and nothing else can make the cache stale. tests/test_sampler_basics.py checks these against
# rng.py and kernelmath.py bit for bit, and that no kernel uses another module.

_GAMMA, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_INV53 = 2.0 ** -53
_COEFFICIENTS = tuple(1.0 / math.factorial(k) for k in range(11))


@njit(cache=True)
def _mix(z):
    """rng.mix on a uint64 scalar."""
    z = z + _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def _uniform(base, pixel):
    """rng.uniform for one uint64 base and pixel."""
    return (_mix(base ^ pixel) >> np.uint64(11)) * _INV53


@njit(cache=True)
def _exp_neg(x):
    """kernelmath.exp_neg on a float64 scalar: the same operations in the same order."""
    y = max(x, -64.0) * (1.0 / 256.0)
    p = _COEFFICIENTS[10]
    for k in range(9, -1, -1):
        p = p * y + _COEFFICIENTS[k]
    for _ in range(8):
        p = p * p
    return p


# --- layout ------------------------------------------------------------------------------------

@njit(cache=True)
def _stacked(forward, backward):
    """(2C, L + 1, L) tables, in the order numpy_backend adds them; row L is zero (outside)."""
    num_classes, num_labels = forward.shape[0], forward.shape[1]
    tables = np.zeros((2 * num_classes, num_labels + 1, num_labels), dtype=forward.dtype)
    for c in range(num_classes):
        tables[2 * c, :num_labels] = forward[c]
        tables[2 * c + 1, :num_labels] = backward[c]
    return tables


@njit(cache=True)
def _geometry(offsets, order, h, w):
    """(margin, padded width, (2C,) flat neighbour steps, padded flat index of each pixel of order)."""
    margin = 0
    for c in range(offsets.shape[0]):
        margin = max(margin, abs(offsets[c, 0]), abs(offsets[c, 1]))
    pw = w + 2 * margin
    steps = np.empty(2 * offsets.shape[0], dtype=np.int64)
    for c in range(offsets.shape[0]):
        steps[2 * c] = offsets[c, 0] * pw + offsets[c, 1]
        steps[2 * c + 1] = -steps[2 * c]
    where = np.empty(order.shape[0], dtype=np.int64)
    for k in range(order.shape[0]):
        y, x = divmod(order[k], w)
        where[k] = (y + margin) * pw + x + margin
    return margin, pw, steps, where


@njit(cache=True)
def _pad(labels, margin, pw, outside, padded):
    """padded (flat, (H + 2 margin) * pw) = labels (H, W) framed by the outside label."""
    padded[:] = outside
    for y in range(labels.shape[0]):
        start = (y + margin) * pw + margin
        padded[start:start + labels.shape[1]] = labels[y]


@njit(cache=True)
def _unpad(padded, margin, pw, labels):
    for y in range(labels.shape[0]):
        start = (y + margin) * pw + margin
        labels[y] = padded[start:start + labels.shape[1]]


# --- one block of pixels -------------------------------------------------------------------------

@njit(cache=True)
def _logits(unary, padded, tables, steps, order, where, first, size, z):
    """z[j, l] = u_i(l) + sum_c theta[c, l, y_{i+d}] + theta[c, y_{i-d}, l] for the pixels
    i = order[first + j], j < size, in numpy_backend's order of additions.

    Tables four at a time (one load and store of z per four rows), each for the whole block
    before the next (so consecutive additions to one z[j, l] are far apart)."""
    num_labels, num_tables = unary.shape[0], tables.shape[0]
    for l in range(num_labels):  # row by row: L rows at once are L pages, too many for the TLB at L = 64
        ul = unary[l]
        for j in range(size):
            z[j, l] = ul[order[first + j]]
    for k in range(0, num_tables - 3, 4):
        ta, tb, tc, td = tables[k], tables[k + 1], tables[k + 2], tables[k + 3]
        sa, sb, sc, sd = steps[k], steps[k + 1], steps[k + 2], steps[k + 3]
        for j in range(size):
            q, zj = where[first + j], z[j]  # q + s >= 0: uint64 spares the negative-index fix-up
            a, b = ta[padded[np.uint64(q + sa)]], tb[padded[np.uint64(q + sb)]]
            c, d = tc[padded[np.uint64(q + sc)]], td[padded[np.uint64(q + sd)]]
            for l in range(num_labels):
                zj[l] = (((zj[l] + a[l]) + b[l]) + c[l]) + d[l]
    for k in range(num_tables - num_tables % 4, num_tables):
        ta, sa = tables[k], steps[k]
        for j in range(size):
            a, zj = ta[padded[np.uint64(where[first + j] + sa)]], z[j]
            for l in range(num_labels):
                zj[l] += a[l]


@njit(cache=True)
def _scratch(num_labels):
    """Per-task work arrays: logits (BLOCK, L); weights transposed (L, BLOCK), so that the draw
    runs across the block's pixels; and rows for the draw's lane sums, threshold, cumsum, count."""
    return np.zeros((BLOCK, num_labels)), np.zeros((num_labels, BLOCK)), np.zeros((7, BLOCK))


@njit(cache=True)
def _row_max(z):
    """max of a row of logits in 4 independent chains (max is exact in any order)."""
    num_labels = z.shape[0]
    m0 = m1 = m2 = m3 = z[0]
    for l in range(0, num_labels - 3, 4):
        m0, m1, m2, m3 = max(m0, z[l]), max(m1, z[l + 1]), max(m2, z[l + 2]), max(m3, z[l + 3])
    for l in range(num_labels - num_labels % 4, num_labels):
        m0 = max(m0, z[l])
    return max(max(m0, m1), max(m2, m3))


@njit(cache=True)
def _draws(z, w, aux, size, base, order, first):
    """Inverse-CDF draws for the block (numpy_backend.draw): w = exp_neg(z - row max); label = the
    first l with cumsum(w) > u * lane_sum(w), i.e. the number of l with cumsum(w) <= u * lane_sum(w)
    (cumsum never decreases); if rounding leaves none, the first l of largest weight. Loops over
    the block's pixels are innermost, so they vectorise."""
    num_labels = w.shape[0]
    for j in range(size):
        zj = z[j]
        top = _row_max(zj)
        for l in range(num_labels):
            w[l, j] = zj[l] - top
    lanes, threshold, acc, count = aux[:4], aux[4], aux[5], aux[6]
    lanes[:, :size] = 0.0
    for l in range(num_labels):  # kernelmath.lane_sum: w[l] into lane l % 4, in order
        lane, wl = lanes[l % 4], w[l]
        for j in range(size):
            wl[j] = _exp_neg(wl[j])
            lane[j] += wl[j]
    for j in range(size):
        threshold[j] = _uniform(base, np.uint64(order[first + j]))
    for j in range(size):
        threshold[j] *= (lanes[0, j] + lanes[1, j]) + (lanes[2, j] + lanes[3, j])
    acc[:size] = 0.0
    count[:size] = 0.0
    for l in range(num_labels):
        wl = w[l]
        for j in range(size):
            acc[j] += wl[j]
            count[j] += acc[j] <= threshold[j]


@njit(cache=True)
def _draw(z, u):
    """_draws for one pixel (raster sweeps), without the set-up of loops across pixels: the same
    operations in the same order, so the same label."""
    num_labels = z.shape[0]
    top = _row_max(z)
    for l in range(num_labels):
        z[l] = _exp_neg(z[l] - top)
    s0 = s1 = s2 = s3 = 0.0  # kernelmath.lane_sum: z[l] into lane l % 4, in order
    for l in range(0, num_labels - 3, 4):
        s0, s1, s2, s3 = s0 + z[l], s1 + z[l + 1], s2 + z[l + 2], s3 + z[l + 3]
    tail = num_labels - num_labels % 4
    s0 += z[tail] if tail < num_labels else 0.0
    s1 += z[tail + 1] if tail + 1 < num_labels else 0.0
    s2 += z[tail + 2] if tail + 2 < num_labels else 0.0
    threshold, acc = u * ((s0 + s1) + (s2 + s3)), 0.0
    for l in range(num_labels):
        acc += z[l]
        if acc > threshold:
            return l
    return np.argmax(z)


@njit(cache=True)
def _improve(z, current):
    """The first best label, but the current one unless strictly beaten."""
    best = current
    for l in range(z.shape[0]):
        if z[l] > z[best]:
            best = l
    return best


@njit(cache=True)
def _block(unary, padded, tables, steps, order, where, first, size, base, mode, scratch):
    """Resample (or ICM-improve) pixels order[first:first+size] of one colour; returns #changed."""
    z, w, aux = scratch
    _logits(unary, padded, tables, steps, order, where, first, size, z)
    if mode == SAMPLE and size > 1:
        _draws(z, w, aux, size, base, order, first)
    changed = 0
    for j in range(size):
        q = where[first + j]
        current = padded[q]
        if mode == IMPROVE:
            new = _improve(z[j], current)
        elif size == 1:
            new = _draw(z[0], _uniform(base, np.uint64(order[first])))
        else:
            new = int(aux[6, j])
            if new == z.shape[1]:
                new = np.argmax(w[:, j])
        padded[q] = new
        changed += new != current
    return changed


# --- sweeps --------------------------------------------------------------------------------------

@njit(parallel=True, cache=True)
def _chromatic(scores, labels, forward, backward, offsets, order, starts, bases, mode):
    """Groups (colours) in turn; within one, blocks of (image, pixels) in parallel. Returns #changes.

    One parallel region per colour: used when there are fewer images than threads.
    """
    n_images, num_labels, h, w = scores.shape
    tables = _stacked(forward, backward)
    margin, pw, steps, where = _geometry(offsets, order, h, w)
    padded = np.empty((n_images, (h + 2 * margin) * pw), dtype=np.uint8)
    for n in prange(n_images):
        _pad(labels[n], margin, pw, num_labels, padded[n])
    changed = 0
    for g in range(starts.shape[0] - 1):
        blocks = (starts[g + 1] - starts[g] + BLOCK - 1) // BLOCK
        total = n_images * blocks
        chunks = (total + CHUNK - 1) // CHUNK
        per_chunk = np.zeros(chunks, dtype=np.int64)
        for chunk in prange(chunks):
            scratch = _scratch(num_labels)
            local = 0  # not per_chunk[chunk] += ...: threads would share its cache line
            for item in range(chunk * CHUNK, min(total, (chunk + 1) * CHUNK)):
                n, b = divmod(item, blocks)
                first = starts[g] + b * BLOCK
                size = min(BLOCK, starts[g + 1] - first)
                local += _block(scores[n].reshape(num_labels, h * w), padded[n], tables, steps, order, where,
                                first, size, bases[n], mode, scratch)
            per_chunk[chunk] = local
        changed += per_chunk.sum()
    for n in prange(n_images):
        _unpad(padded[n], margin, pw, labels[n])
    return changed


@njit(parallel=True, cache=True)
def _chromatic_by_image(scores, labels, forward, backward, offsets, order, starts, bases, mode):
    """Same result as _chromatic, one parallel region per sweep: images in parallel, groups in
    turn inside each. Barriers cost far more than the work on a busy machine."""
    n_images, num_labels, h, w = scores.shape
    tables = _stacked(forward, backward)
    margin, pw, steps, where = _geometry(offsets, order, h, w)
    per_image = np.zeros(n_images, dtype=np.int64)
    for n in prange(n_images):
        scratch = _scratch(num_labels)
        padded = np.empty((h + 2 * margin) * pw, dtype=np.uint8)
        _pad(labels[n], margin, pw, num_labels, padded)
        unary = scores[n].reshape(num_labels, h * w)
        local = 0
        for g in range(starts.shape[0] - 1):
            for first in range(starts[g], starts[g + 1], BLOCK):
                size = min(BLOCK, starts[g + 1] - first)
                local += _block(unary, padded, tables, steps, order, where, first, size, bases[n], mode, scratch)
        _unpad(padded, margin, pw, labels[n])
        per_image[n] = local
    return per_image.sum()


@njit(parallel=True, cache=True)
def _conditionals(scores, labels, forward, backward, offsets, out):
    n_images, num_labels, h, w = scores.shape
    tables = _stacked(forward, backward)
    order = np.arange(h * w)
    margin, pw, steps, where = _geometry(offsets, order, h, w)
    for n in prange(n_images):
        z = _scratch(num_labels)[0]
        padded = np.empty((h + 2 * margin) * pw, dtype=np.uint8)
        _pad(labels[n], margin, pw, num_labels, padded)
        unary = scores[n].reshape(num_labels, h * w)
        for first in range(0, h * w, BLOCK):
            size = min(BLOCK, h * w - first)
            _logits(unary, padded, tables, steps, order, where, first, size, z)
            for j in range(size):
                zj = z[j]
                top = zj.max()
                norm = 0.0
                for l in range(num_labels):
                    norm += np.exp(zj[l] - top)
                norm = top + np.log(norm)
                for l in range(num_labels):
                    out[n, l, (first + j) // w, (first + j) % w] = zj[l] - norm


def _tables(theta):
    """(forward, backward): theta[c, l, j] as [c, j, l] and theta as is, both contiguous."""
    return np.ascontiguousarray(theta.transpose(0, 2, 1)), np.ascontiguousarray(theta)


def _scan(scores, labels, forward, backward, offsets, bases, mode, schedule):
    order, starts = schedule_plan(grid.key(offsets), labels.shape[1], labels.shape[2], schedule)
    by_image = schedule == "raster" or len(labels) >= numba.get_num_threads()
    return (_chromatic_by_image if by_image else _chromatic)(scores, labels, forward, backward, offsets, order, starts, bases, mode)


def sweep(scores, labels, theta, offsets, bases, schedule):
    _scan(scores, labels, *_tables(theta), offsets, bases, SAMPLE, schedule)
    return labels


def icm(scores, labels, theta, offsets, iterations):
    forward, backward = _tables(theta)
    unused = np.zeros(len(labels), dtype=np.uint64)
    for _ in range(iterations):
        if _scan(scores, labels, forward, backward, offsets, unused, IMPROVE, "chromatic") == 0:
            break
    return labels


def conditionals(scores, labels, theta, offsets):
    out = np.empty(scores.shape, dtype=np.float32)
    _conditionals(scores, labels, *_tables(theta), offsets, out)
    return out
