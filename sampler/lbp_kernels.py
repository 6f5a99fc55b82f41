"""Numba kernels of loopy belief propagation (sampler/belief_propagation.py), one image at a time,
its rows in parallel. lbp_reference.py computes the same in plain loops (the oracle).

A message into label m from a sender with cavity a (log domain) is
log sum_l exp(a(l) + theta(l, m)) = A + shift(m) + log sum_l e(l) T(l, m) with A = max a,
e = exp(a - A) <= 1 and T = exp(theta - shift), shift(m) = max_l theta(l, m): L exps, an L x L
multiply-add and L logs per message instead of L^2 exps. The cavities a and their maxima are
float64 (a sums 2C messages and the scores: hundreds, where float32 would lose ~1e-5); from
a - A on everything is float32: the kernels' exp (numba_backend._exp32, relative error < 2**-18)
and _log32 are polynomials the compiler vectorises, 16 lanes.

Range (why theta's spread is bounded, exp_tables): exponents are clamped at LOWEST = -87 (below,
_exp32's 2**k leaves float32's normal range) and T and the products e(l) T(l, m) underflow below
~e^-87; the sum keeps e(argmax) T(argmax, m) >= e^-R, R = the table's range (max - min), so
everything lost or clamped is below L e^(R - 87) relative: 2e-9 for R <= SPREAD = 64, far under
float32's 6e-8. Beyond SPREAD the kernels refuse (ValueError) rather than answer silently wrong.

Speed (one thread, 120x160, L = 20, sparse:1,2,4,8,16,32): an iteration took 117 ms with float64
arithmetic and a degree-10 exp, 79 ms now; the pair beliefs 113 ms, 101 ms now. What is left is
mostly the cavities' gather and the damped scatter (labels last in the messages, label-major in
the blocks: strided, scalar); tools/bench_lbp.py times inference and a learning step.
"""
import math

import numba
import numpy as np

from .backends.numba_backend import _exp32  # float32 exp on [-87, 0] (its 2**k: k >= -126)

SPREAD = 64.0
LOWEST = np.float32(-87.0)
TINY = np.float32(np.finfo(np.float32).tiny)
LOG_COEFFICIENTS = tuple(np.float32(1.0 / (2 * k + 1)) for k in range(5))  # 2 atanh(t) = log((1 + t) / (1 - t))
MANTISSA, ONE_BITS = (1 << 23) - 1, 127 << 23  # float32 bit fields: the fraction; the exponent of 1.0
TWO_23, EXPONENT_ZERO = 150 << 23, np.float32(2.0 ** 23 + 127)  # 2^23's bits; 2^23 + the exponent bias
LN2, SQRT2 = np.float32(math.log(2.0)), np.float32(math.sqrt(2.0))
ONE, HALF, TWO = np.float32(1.0), np.float32(0.5), np.float32(2.0)


def exp_tables(theta):
    """(T, shift): T[c, l, m] = exp(theta[c, l, m] - shift[c, m]), shift[c, m] = max_l theta[c, l, m];
    float32, sender's label first. For messages backward along an edge pass theta transposed."""
    theta = _checked(theta)
    shift = theta.max(axis=1)
    return (np.ascontiguousarray(np.exp(theta - shift[:, None, :]), dtype=np.float32),
            np.ascontiguousarray(shift, dtype=np.float32))


def iterate(unary, messages, theta, offsets, iterations, damping):
    """`iterations` damped parallel updates of messages (2, C, H, W, L) float32, in place, for
    unary (H, W, L) float64 (belief_propagation.py gives the layout and the update)."""
    forward, forward_shift = exp_tables(theta)
    backward, backward_shift = exp_tables(np.transpose(theta, (0, 2, 1)))
    total = np.empty(unary.shape)
    for _ in range(iterations):
        totals(unary, messages, total)
        _update(total, messages, forward, forward_shift, backward, backward_shift, offsets, np.float32(damping))


def pair_beliefs(unary, messages, theta, offsets):
    """(pairs (C, L, L) float64: each edge's pair belief summed per class, edge_term float64:
    sum over the edges of log Z_e - E_b[a_i(y_i) + a_j(y_j)], the pair beliefs' share of the Bethe
    log-partition)."""
    theta = _checked(theta)
    shift = theta.max(axis=(1, 2))
    table = np.exp(theta - shift[:, None, None]).astype(np.float32)
    total = np.empty(unary.shape)
    totals(unary, messages, total)
    h, num_labels = unary.shape[0], unary.shape[2]
    rows = np.zeros((h, len(offsets), num_labels, num_labels))
    terms = np.zeros(h)
    _pairs(total, messages, table, shift, offsets, rows, terms)
    return rows.sum(axis=0), terms.sum()


def _checked(theta):
    theta = np.asarray(theta, dtype=np.float64)
    spread = (theta.max(axis=(1, 2)) - theta.min(axis=(1, 2))).max(initial=0.0)
    if not spread <= SPREAD:
        raise ValueError(f"theta: the LBP kernels need each class's table within a range (max - min) of {SPREAD:g}, "
                         f"got {spread:g} (float32 exps would underflow); backend='numpy' computes it exactly")
    return theta


@numba.njit(parallel=True, cache=True)
def totals(unary, messages, total):
    """total[y, x] = unary[y, x] + every message into (y, x), float64."""
    _, num_classes, h, w, num_labels = messages.shape
    for y in numba.prange(h):
        for x in range(w):
            for l in range(num_labels):
                total[y, x, l] = unary[y, x, l]
            for d in range(2):
                for c in range(num_classes):
                    for l in range(num_labels):
                        total[y, x, l] += messages[d, c, y, x, l]


@numba.njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _log32(values, exponents, mantissas):
    """values <- log(values), in place, for positive normal float32s (error ~2 float32 roundings):
    values = f 2^k with f in [sqrt(1/2), sqrt(2)), log f = 2 atanh((f - 1) / (f + 1)) by 5 terms
    of its series (|t| < 0.18: the next term is below 2**-27). exponents, mantissas: float32
    scratch of the same length; k is read from the float whose bits are 2^23's with k + 127 in the
    mantissa, and error_model "numpy" drops the division's zero check: both would stop vectorisation."""
    bits = values.view(np.int32)
    exponent_bits, fraction_bits = exponents.view(np.int32), mantissas.view(np.int32)
    for m in range(len(values)):
        exponent_bits[m] = (bits[m] >> 23) | TWO_23
        fraction_bits[m] = (bits[m] & MANTISSA) | ONE_BITS
    for m in range(len(values)):
        f = mantissas[m]
        big = np.float32(f > SQRT2)
        f = f * (ONE - HALF * big)
        t = (f - ONE) / (f + ONE)
        t2 = t * t
        p = LOG_COEFFICIENTS[4]
        for j in range(3, -1, -1):
            p = p * t2 + LOG_COEFFICIENTS[j]
        values[m] = (exponents[m] - EXPONENT_ZERO + big) * LN2 + TWO * t * p


@numba.njit(cache=True)
def _cavities(total, y, x, into, cavity, above, k):
    """cavity[:, k] = a - max a (float32) for the cavity a = total[y, x] - into (float64); above[k] = max a."""
    num_labels = cavity.shape[0]
    top = -np.inf
    for l in range(num_labels):
        top = max(top, total[y, x, l] - into[l])
    for l in range(num_labels):
        cavity[l, k] = np.float32(total[y, x, l] - into[l] - top)
    above[k] = top


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _exps(block):
    """block <- exp(max(block, LOWEST)), in place (a flat float32 block)."""
    for q in range(len(block)):
        block[q] = _exp32(max(block[q], LOWEST))


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _messages(cavity, table, shift, out, exponents, mantissas):
    """out[m, k] = the message of sender k, of cavity[:, k] (a - max a, float32), at label m, less
    its maximum over m. Blocks are label-major (L, n) so that every loop runs over the n senders:
    long, contiguous, vectorised. cavity is overwritten; exponents, mantissas (L * n,): scratch."""
    num_labels, n = cavity.shape
    _exps(cavity.reshape(num_labels * n))
    out[:] = 0.0
    for m in range(num_labels):
        for l in range(num_labels):
            weight = table[l, m]
            for k in range(n):
                out[m, k] += cavity[l, k] * weight
    flat = out.reshape(num_labels * n)
    for q in range(num_labels * n):
        flat[q] = max(flat[q], TINY)
    _log32(flat, exponents, mantissas)
    best = cavity[0]  # scratch now
    best[:] = -np.inf
    for m in range(num_labels):
        for k in range(n):
            out[m, k] += shift[m]
            best[k] = max(best[k], out[m, k])
    for m in range(num_labels):
        for k in range(n):
            out[m, k] -= best[k]


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _update(total, messages, forward, forward_shift, backward, backward_shift, offsets, damping):
    """Both messages of every edge (i, j = i + d_c), a row of i's edges of one class at a time.
    Each edge owns its two slots ([0, c] at j, [1, c] at i) and reads only them and the totals:
    the update is parallel (every message from the previous iteration's) and race-free."""
    _, num_classes, h, w, num_labels = messages.shape
    keep = np.float32(1.0) - damping
    for y in numba.prange(h):
        size = num_labels * w
        cavities_i, cavities_j, new = np.empty(size, np.float32), np.empty(size, np.float32), np.empty(size, np.float32)
        exponents, mantissas, tops = np.empty(size, np.float32), np.empty(size, np.float32), np.empty(w)
        for c in range(num_classes):
            dy, dx = offsets[c, 0], offsets[c, 1]
            first, stop = max(0, -dx), min(w, w - dx)
            if y + dy >= h or stop <= first:
                continue
            n = stop - first
            at_i, at_j = cavities_i[:num_labels * n].reshape((num_labels, n)), cavities_j[:num_labels * n].reshape(
                (num_labels, n))
            into_j, into_i = messages[0, c, y + dy, first + dx:stop + dx], messages[1, c, y, first:stop]
            for k in range(n):  # the cavities, label-major, before either message is replaced
                _cavities(total, y, first + k, into_i[k], at_i, tops, k)
                _cavities(total, y + dy, first + dx + k, into_j[k], at_j, tops, k)
            for sender, table, shift, target in ((at_i, forward, forward_shift, into_j),
                                                 (at_j, backward, backward_shift, into_i)):
                block = new[:num_labels * n].reshape((num_labels, n))
                _messages(sender, table[c], shift[c], block, exponents[:num_labels * n], mantissas[:num_labels * n])
                for k in range(n):
                    for l in range(num_labels):
                        target[k, l] = keep * target[k, l] + damping * block[l, k]


@numba.njit(parallel=True, cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _pairs(total, messages, table, shift, offsets, rows, terms):
    """Per row y of i: rows[y, c] += the pair beliefs b(l, m) = e_i(l) T(l, m) e_j(m) / z of the
    edges (i, i + d_c), terms[y] += their log Z_e - E_b[a_i + a_j] (a: the two ends' cavities,
    d = a - max a, e = exp(d), T = exp(theta - max theta), z: the sum of the numerators, so
    log Z_e - E_b[a_i + a_j] = max theta + log z - E_b[d_i + d_j], without the cancellation of
    the a's hundreds). Label-major blocks of a row's edges, as in _update; sums in any order
    ("reassoc"), so that they vectorise."""
    _, num_classes, h, w, num_labels = messages.shape
    size = num_labels * w
    for y in numba.prange(h):
        buffers = np.empty((6, size), np.float32)
        z, expected, tops = np.empty(w, np.float32), np.empty(w, np.float32), np.empty(w)
        for c in range(num_classes):
            dy, dx = offsets[c, 0], offsets[c, 1]
            first, stop = max(0, -dx), min(w, w - dx)
            if y + dy >= h or stop <= first:
                continue
            n = stop - first
            d_i, d_j, e_i, e_j, by_row, by_column = [buffers[q, :num_labels * n].reshape((num_labels, n))
                                                     for q in range(6)]
            for k in range(n):
                _cavities(total, y, first + k, messages[1, c, y, first + k], d_i, tops, k)
                _cavities(total, y + dy, first + dx + k, messages[0, c, y + dy, first + dx + k], d_j, tops, k)
            e_i[:], e_j[:] = d_i, d_j
            _exps(e_i.reshape(num_labels * n))
            _exps(e_j.reshape(num_labels * n))
            by_row[:], by_column[:] = 0.0, 0.0  # sum_m T(l, m) e_j(m), sum_l e_i(l) T(l, m)
            for l in range(num_labels):
                for m in range(num_labels):
                    weight = table[c, l, m]
                    for k in range(n):
                        by_row[l, k] += weight * e_j[m, k]
                        by_column[m, k] += weight * e_i[l, k]
            z[:n], expected[:n] = 0.0, 0.0
            for l in range(num_labels):
                for k in range(n):
                    z[k] += e_i[l, k] * by_row[l, k]
                    expected[k] += d_i[l, k] * e_i[l, k] * by_row[l, k] + d_j[l, k] * e_j[l, k] * by_column[l, k]
            for k in range(n):
                terms[y] += shift[c] + math.log(max(z[k], TINY)) - expected[k] / z[k]
            for l in range(num_labels):
                for k in range(n):
                    e_i[l, k] /= z[k]
            for l in range(num_labels):
                for m in range(num_labels):
                    pair = np.float32(0.0)
                    for k in range(n):
                        pair += e_i[l, k] * e_j[m, k]
                    rows[y, c, l, m] += table[c, l, m] * pair
