"""CPU backend: Numba kernels. Chromatic sweeps run in parallel over images (colours in turn
inside each) when the batch has at least as many images as threads, else over the
(image, pixel) pairs of one colour at a time; raster sweeps run in parallel over images.

Per pixel: the L logits in a per-chunk scratch array, the pairwise rows added from
tables laid out (c, neighbour label, l) so the inner loop over l is contiguous, then an
inverse-CDF draw. Same float64 arithmetic order as numpy_backend.
"""
import numba
import numpy as np
from numba import njit, prange

from .. import grid, kernelmath, rng
from ..colouring import schedule_plan

SAMPLE, IMPROVE = 0, 1
CHUNK = 1024  # (image, pixel) items per parallel task: amortises the scratch allocation

# Numba's cache does not notice edits to callees in other files: after changing rng.py or
# kernelmath.py, delete sampler/**/__pycache__.
_mix = njit(cache=True)(rng.mix)
_exp_neg = njit(cache=True)(kernelmath.exp_neg)


def available():
    return True


@njit(cache=True)
def _uniform(base, pixel):
    return (_mix(base ^ pixel) >> rng.S11) * rng.INV53


@njit(cache=True)
def _logits(scores, labels, forward, backward, offsets, n, y, x, z):
    """z[l] = u_i(l) + sum_c theta[c, l, y_{i+d}] + theta[c, y_{i-d}, l], in numpy_backend's order."""
    num_labels, h, w = z.shape[0], labels.shape[1], labels.shape[2]
    for l in range(num_labels):
        z[l] = scores[n, l, y, x]
    for c in range(offsets.shape[0]):
        dy, dx = offsets[c, 0], offsets[c, 1]
        if y + dy < h and 0 <= x + dx < w:  # dy >= 0 (canonical), so y + dy >= 0
            row = labels[n, y + dy, x + dx]
            for l in range(num_labels):
                z[l] += forward[c, row, l]
        if y - dy >= 0 and 0 <= x - dx < w:
            row = labels[n, y - dy, x - dx]
            for l in range(num_labels):
                z[l] += backward[c, row, l]


@njit(cache=True)
def _draw(z, u):
    """First l with cumsum(w) > u * lane_sum(w), w = exp_neg(z - max); if rounding leaves none,
    the first l of largest weight. Loops shaped so that they vectorise or run 4 chains at once."""
    num_labels = z.shape[0]
    m0 = m1 = m2 = m3 = z[0]  # max is exact in any order: 4 chains
    for l in range(0, num_labels - 3, 4):
        m0, m1, m2, m3 = max(m0, z[l]), max(m1, z[l + 1]), max(m2, z[l + 2]), max(m3, z[l + 3])
    for l in range(num_labels - num_labels % 4, num_labels):
        m0 = max(m0, z[l])
    top = max(max(m0, m1), max(m2, m3))
    for l in range(num_labels):
        z[l] = _exp_neg(z[l] - top)
    s0 = s1 = s2 = s3 = 0.0  # kernelmath.lane_sum; a missing tail term is + 0.0, exact
    for l in range(0, num_labels - 3, 4):
        s0, s1, s2, s3 = s0 + z[l], s1 + z[l + 1], s2 + z[l + 2], s3 + z[l + 3]
    tail = num_labels - num_labels % 4
    for l in range(tail, num_labels):
        if l - tail == 0:
            s0 += z[l]
        elif l - tail == 1:
            s1 += z[l]
        else:
            s2 += z[l]
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
def _update(scores, labels, forward, backward, offsets, bases, mode, n, p, z):
    """Resample (or ICM-improve) pixel p of image n; 1 if its label changed."""
    y, x = divmod(p, labels.shape[2])
    _logits(scores, labels, forward, backward, offsets, n, y, x, z)
    current = labels[n, y, x]
    if mode == SAMPLE:
        new = _draw(z, _uniform(bases[n], np.uint64(p)))
    else:
        new = _improve(z, current)
    labels[n, y, x] = new
    return 1 if new != current else 0


@njit(parallel=True, cache=True)
def _chromatic(scores, labels, forward, backward, offsets, order, starts, bases, mode):
    """Colours in turn; within one, all (image, pixel) items in parallel. Returns #changes.

    One parallel region per colour: used when there are fewer images than threads.
    """
    n_images, num_labels = scores.shape[0], scores.shape[1]
    changed = 0
    for g in range(starts.shape[0] - 1):
        first, size = starts[g], starts[g + 1] - starts[g]
        total = n_images * size
        chunks = (total + CHUNK - 1) // CHUNK
        per_chunk = np.zeros(chunks, dtype=np.int64)
        for chunk in prange(chunks):
            z = np.empty(num_labels)
            local = 0  # not per_chunk[chunk] += ...: threads would share its cache line
            for item in range(chunk * CHUNK, min(total, (chunk + 1) * CHUNK)):
                n = item // size
                local += _update(scores, labels, forward, backward, offsets, bases, mode,
                                 n, order[first + item - n * size], z)
            per_chunk[chunk] = local
        changed += per_chunk.sum()
    return changed


@njit(parallel=True, cache=True)
def _chromatic_by_image(scores, labels, forward, backward, offsets, order, starts, bases, mode):
    """Same result as _chromatic, one parallel region per sweep: images in parallel, colours in
    turn inside each. Barriers cost far more than the work on a busy machine."""
    n_images, num_labels = scores.shape[0], scores.shape[1]
    per_image = np.zeros(n_images, dtype=np.int64)
    for n in prange(n_images):
        z = np.empty(num_labels)
        local = 0
        for k in range(order.shape[0]):  # order lists colour 0's pixels, then colour 1's, ...
            local += _update(scores, labels, forward, backward, offsets, bases, mode, n, order[k], z)
        per_image[n] = local
    return per_image.sum()


@njit(parallel=True, cache=True)
def _raster(scores, labels, forward, backward, offsets, bases, mode):
    """Sequential raster scan per image (exact single-site Gibbs); images in parallel."""
    n_images, num_labels = scores.shape[0], scores.shape[1]
    for n in prange(n_images):
        z = np.empty(num_labels)
        for p in range(labels.shape[1] * labels.shape[2]):
            _update(scores, labels, forward, backward, offsets, bases, mode, n, p, z)


@njit(parallel=True, cache=True)
def _conditionals(scores, labels, forward, backward, offsets, out):
    n_images, num_labels, h, w = scores.shape
    for row in prange(n_images * h):
        n, y = divmod(np.int64(row), h)
        z = np.empty(num_labels)
        for x in range(w):
            _logits(scores, labels, forward, backward, offsets, n, y, x, z)
            top = z.max()
            norm = 0.0
            for l in range(num_labels):
                norm += np.exp(z[l] - top)
            norm = top + np.log(norm)
            for l in range(num_labels):
                out[n, l, y, x] = z[l] - norm


def _tables(theta):
    """(forward, backward): theta[c, l, j] as [c, j, l] and theta as is, both contiguous."""
    return np.ascontiguousarray(theta.transpose(0, 2, 1)), np.ascontiguousarray(theta)


def _chromatic_scan(scores, labels, forward, backward, offsets, bases, mode):
    order, starts = schedule_plan(grid.key(offsets), labels.shape[1], labels.shape[2], "chromatic")
    kernel = _chromatic_by_image if len(labels) >= numba.get_num_threads() else _chromatic
    return kernel(scores, labels, forward, backward, offsets, order, starts, bases, mode)


def sweep(scores, labels, theta, offsets, bases, schedule):
    forward, backward = _tables(theta)
    if schedule == "raster":
        _raster(scores, labels, forward, backward, offsets, bases, SAMPLE)
    else:
        _chromatic_scan(scores, labels, forward, backward, offsets, bases, SAMPLE)
    return labels


def icm(scores, labels, theta, offsets, iterations):
    forward, backward = _tables(theta)
    unused = np.zeros(len(labels), dtype=np.uint64)
    for _ in range(iterations):
        if _chromatic_scan(scores, labels, forward, backward, offsets, unused, IMPROVE) == 0:
            break
    return labels


def conditionals(scores, labels, theta, offsets):
    out = np.empty(scores.shape, dtype=np.float32)
    _conditionals(scores, labels, *_tables(theta), offsets, out)
    return out
