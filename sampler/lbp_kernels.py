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

Speed (one thread, 120x160, L = 20, sparse:1,2,4,8,16,32): the messages are label-major
(belief_propagation.py), so the cavities and the damped writes run along contiguous rows, and the
L x L product and the pair sums are explicit FMA vectors (_product, _outer). Per block of 160
senders now: cavities 1 us, exps 1.4 us, product 0.9 us, logs 1.2 us, damped write 0.3 us (in
isolation, in cache). An iteration still takes ~65-70 ms: ~25 ms of it is memory (the messages,
74 MB, read by totals and by the cavities and written back each iteration), most of the rest
the exps, the logs and the maxima. The pair beliefs take ~150 ms, their sums (_outer) ~25 ms of
it (~370 ms as scalar reductions over label-major blocks). tools/bench_lbp.py times inference and
a learning step.
"""
import math

import numba
import numpy as np

from .backends.numba_backend import LANES, _exp32, _vbroadcast, _vfma, _vload, _vstore, _vzero

BLOCK = 2 * LANES  # senders per step of _product

SPREAD = 64.0
LOWEST = np.float32(-87.0)
TINY = np.float32(np.finfo(np.float32).tiny)
LOG_COEFFICIENTS = tuple(np.float32(1.0 / (2 * k + 1)) for k in range(5))  # 2 atanh(t) = log((1 + t) / (1 - t))
MANTISSA, ONE_BITS = (1 << 23) - 1, 127 << 23  # float32 bit fields: the fraction; the exponent of 1.0
TWO_23, EXPONENT_ZERO = 150 << 23, np.float32(2.0 ** 23 + 127)  # 2^23's bits; 2^23 + the exponent bias
LN2, SQRT2 = np.float32(math.log(2.0)), np.float32(math.sqrt(2.0))
ONE, HALF, TWO = np.float32(1.0), np.float32(0.5), np.float32(2.0)


def exp_tables(theta):
    """(T, shift): T[c, l * L + m] = exp(theta[c, l, m] - shift[c, m]), shift[c, m] = max_l theta[c, l, m];
    float32, sender's label first. For messages backward along an edge pass theta transposed."""
    theta = _checked(theta)
    shift = theta.max(axis=1)
    return (np.ascontiguousarray(np.exp(theta - shift[:, None, :]).reshape(len(theta), -1), dtype=np.float32),
            np.ascontiguousarray(shift, dtype=np.float32))


def iterate(unary, messages, theta, offsets, iterations, damping):
    """`iterations` damped parallel updates of messages (2, C, H, L, W) float32, in place, for
    unary (H, L, W) float64 (belief_propagation.py gives the layout and the update)."""
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
    h, num_labels = unary.shape[:2]
    rows = np.zeros((h, len(offsets), num_labels, num_labels))
    terms = np.zeros(h)
    _pairs(total, messages, table.reshape(len(table), -1), np.ascontiguousarray(table.transpose(0, 2, 1)).reshape(
        len(table), -1), shift, offsets, rows, terms)
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
    """total[y, :, x] = unary[y, :, x] + every message into (y, x), float64."""
    _, num_classes, h, num_labels, w = messages.shape
    for y in numba.prange(h):
        total[y] = unary[y]
        for d in range(2):
            for c in range(num_classes):
                for l in range(num_labels):
                    for x in range(w):
                        total[y, l, x] += messages[d, c, y, l, x]


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


@numba.njit(cache=True, error_model="numpy", fastmath={"nnan", "ninf"})
def _cavities(total, into, x, n, span, block, top):
    """block[l * span + k] = a(l) - max a (float32) for the cavity a = total[:, x + k] - into[:, x + k]
    (float64; total, into: one image row, (L, W)), k < n; 0 in the padding n <= k < span.
    top (float64, >= n): scratch."""
    num_labels = total.shape[0]
    top[:n] = -np.inf
    for l in range(num_labels):
        for k in range(n):
            top[k] = max(top[k], total[l, x + k] - into[l, x + k])
    for l in range(num_labels):
        row = block[l * span:(l + 1) * span]
        for k in range(n):
            row[k] = np.float32(total[l, x + k] - into[l, x + k] - top[k])
        row[n:] = 0.0


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _exps(block):
    """block <- exp(max(block, LOWEST)), in place (a flat float32 block)."""
    for q in range(len(block)):
        block[q] = _exp32(max(block[q], LOWEST))


@numba.njit(cache=True)
def _product(e, table, num_labels, span, out):
    """out[m * span + k] = sum_l e[l * span + k] table[l * L + m] (label-major blocks, span a multiple
    of BLOCK), summed in the order of l from 0 by fused multiply-adds. Per BLOCK senders, 4 labels m
    at a time: 8 accumulators in registers, enough to hide the FMA latency; past L a group repeats
    label L - 1 (the same sum, stored twice)."""
    last = num_labels - 1
    for k in range(0, span, BLOCK):
        for m0 in range(0, num_labels, 4):
            m1, m2, m3 = min(m0 + 1, last), min(m0 + 2, last), min(m0 + 3, last)
            a0, a1, a2, a3 = _vzero(), _vzero(), _vzero(), _vzero()
            b0, b1, b2, b3 = _vzero(), _vzero(), _vzero(), _vzero()
            for l in range(num_labels):
                low, high = _vload(e, l * span + k), _vload(e, l * span + k + LANES)
                row = l * num_labels
                t = _vbroadcast(table, row + m0)
                a0, b0 = _vfma(low, t, a0), _vfma(high, t, b0)
                t = _vbroadcast(table, row + m1)
                a1, b1 = _vfma(low, t, a1), _vfma(high, t, b1)
                t = _vbroadcast(table, row + m2)
                a2, b2 = _vfma(low, t, a2), _vfma(high, t, b2)
                t = _vbroadcast(table, row + m3)
                a3, b3 = _vfma(low, t, a3), _vfma(high, t, b3)
            _vstore(out, m0 * span + k, a0)
            _vstore(out, m0 * span + k + LANES, b0)
            _vstore(out, m1 * span + k, a1)
            _vstore(out, m1 * span + k + LANES, b1)
            _vstore(out, m2 * span + k, a2)
            _vstore(out, m2 * span + k + LANES, b2)
            _vstore(out, m3 * span + k, a3)
            _vstore(out, m3 * span + k + LANES, b3)


@numba.njit(cache=True)
def _outer(e_i, e_j, num_labels, span, out, lanes):
    """out[l * L + m] = sum_k e_i[l * span + k] e_j[m * span + k] (label-major blocks, span a multiple
    of BLOCK), LANES partial sums by fused multiply-adds, 4 labels m at a time (as _product);
    lanes (4 LANES): scratch."""
    last = num_labels - 1
    for l in range(num_labels):
        for m0 in range(0, num_labels, 4):
            m1, m2, m3 = min(m0 + 1, last), min(m0 + 2, last), min(m0 + 3, last)
            a0, a1, a2, a3 = _vzero(), _vzero(), _vzero(), _vzero()
            for k in range(0, span, LANES):
                x = _vload(e_i, l * span + k)
                a0 = _vfma(x, _vload(e_j, m0 * span + k), a0)
                a1 = _vfma(x, _vload(e_j, m1 * span + k), a1)
                a2 = _vfma(x, _vload(e_j, m2 * span + k), a2)
                a3 = _vfma(x, _vload(e_j, m3 * span + k), a3)
            _vstore(lanes, 0, a0)
            _vstore(lanes, LANES, a1)
            _vstore(lanes, 2 * LANES, a2)
            _vstore(lanes, 3 * LANES, a3)
            row = l * num_labels
            out[row + m0], out[row + m1] = lanes[:LANES].sum(), lanes[LANES:2 * LANES].sum()
            out[row + m2], out[row + m3] = lanes[2 * LANES:3 * LANES].sum(), lanes[3 * LANES:].sum()


@numba.njit(cache=True, error_model="numpy", fastmath={"contract", "nnan", "ninf"})
def _messages(cavity, table, shift, num_labels, span, out, exponents, mantissas, best):
    """out[m * span + k] = the message of sender k, of cavity[:, k] (a - max a, float32), at label m,
    before its maximum over m, best[k], is subtracted. Label-major blocks (L, span): every loop runs
    over the senders, contiguous and vectorised. cavity is overwritten; exponents, mantissas: scratch."""
    size = num_labels * span
    _exps(cavity[:size])
    _product(cavity, table, num_labels, span, out)
    flat = out[:size]
    for q in range(size):
        flat[q] = max(flat[q], TINY)
    _log32(flat, exponents[:size], mantissas[:size])
    best[:span] = -np.inf
    for m in range(num_labels):
        row = out[m * span:(m + 1) * span]
        for k in range(span):
            row[k] += shift[m]
            best[k] = max(best[k], row[k])


@numba.njit(cache=True, error_model="numpy")
def _damp(new, best, target, x, n, span, keep, damping):
    """target[:, x + k] <- keep target[:, x + k] + damping (new[:, k] - best[k]), k < n."""
    for l in range(target.shape[0]):
        row = new[l * span:(l + 1) * span]
        for k in range(n):
            target[l, x + k] = keep * target[l, x + k] + damping * (row[k] - best[k])


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _update(total, messages, forward, forward_shift, backward, backward_shift, offsets, damping):
    """Both messages of every edge (i, j = i + d_c), a row of i's edges of one class at a time.
    Each edge owns its two slots ([0, c] at j, [1, c] at i) and reads only them and the totals:
    the update is parallel (every message from the previous iteration's) and race-free."""
    _, num_classes, h, num_labels, w = messages.shape
    keep = np.float32(1.0) - damping
    size = num_labels * _padded(w)
    for y in numba.prange(h):
        at_i, at_j, new = np.empty(size, np.float32), np.empty(size, np.float32), np.empty(size, np.float32)
        exponents, mantissas = np.empty(size, np.float32), np.empty(size, np.float32)
        best, top = np.empty(_padded(w), np.float32), np.empty(w)
        for c in range(num_classes):
            dy, dx = offsets[c, 0], offsets[c, 1]
            first, stop = max(0, -dx), min(w, w - dx)
            if y + dy >= h or stop <= first:
                continue
            n = stop - first
            span = _padded(n)
            into_j, into_i = messages[0, c, y + dy], messages[1, c, y]
            _cavities(total[y], into_i, first, n, span, at_i, top)  # both before either message is replaced
            _cavities(total[y + dy], into_j, first + dx, n, span, at_j, top)
            _messages(at_i, forward[c], forward_shift[c], num_labels, span, new, exponents, mantissas, best)
            _damp(new, best, into_j, first + dx, n, span, keep, damping)
            _messages(at_j, backward[c], backward_shift[c], num_labels, span, new, exponents, mantissas, best)
            _damp(new, best, into_i, first, n, span, keep, damping)


@numba.njit(cache=True)
def _padded(n):
    """n rounded up to a multiple of BLOCK (_product's senders at a time)."""
    return -(-n // BLOCK) * BLOCK


@numba.njit(parallel=True, cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _pairs(total, messages, table, transposed, shift, offsets, rows, terms):
    """Per row y of i: rows[y, c] += the pair beliefs b(l, m) = e_i(l) T(l, m) e_j(m) / z of the
    edges (i, i + d_c), terms[y] += their log Z_e - E_b[a_i + a_j] (a: the two ends' cavities,
    d = a - max a, e = exp(d), T = exp(theta - max theta), z: the sum of the numerators, so
    log Z_e - E_b[a_i + a_j] = max theta + log z - E_b[d_i + d_j], without the cancellation of
    the a's hundreds). Label-major blocks of a row's edges, as in _update; sums in any order
    ("reassoc"), so that they vectorise. table, transposed: T and its transpose, flat (C, L * L)."""
    _, num_classes, h, num_labels, w = messages.shape
    size = num_labels * _padded(w)
    for y in numba.prange(h):
        d_i, d_j, e_i, e_j = np.empty(size, np.float32), np.empty(size, np.float32), np.empty(size, np.float32), \
            np.empty(size, np.float32)
        by_row, by_column = np.empty(size, np.float32), np.empty(size, np.float32)
        z, expected, top = np.empty(w, np.float32), np.empty(w, np.float32), np.empty(w)
        pairs, lanes = np.empty(num_labels * num_labels, np.float32), np.empty(4 * LANES, np.float32)
        for c in range(num_classes):
            dy, dx = offsets[c, 0], offsets[c, 1]
            first, stop = max(0, -dx), min(w, w - dx)
            if y + dy >= h or stop <= first:
                continue
            n = stop - first
            span = _padded(n)
            _cavities(total[y], messages[1, c, y], first, n, span, d_i, top)
            _cavities(total[y + dy], messages[0, c, y + dy], first + dx, n, span, d_j, top)
            e_i[:], e_j[:] = d_i, d_j
            _exps(e_i[:num_labels * span])
            _exps(e_j[:num_labels * span])
            _product(e_j, transposed[c], num_labels, span, by_row)  # sum_m T(l, m) e_j(m)
            _product(e_i, table[c], num_labels, span, by_column)  # sum_l e_i(l) T(l, m)
            z[:n], expected[:n] = 0.0, 0.0
            for l in range(num_labels):
                q = l * span
                for k in range(n):
                    z[k] += e_i[q + k] * by_row[q + k]
                    expected[k] += (d_i[q + k] * e_i[q + k] * by_row[q + k]
                                    + d_j[q + k] * e_j[q + k] * by_column[q + k])
            for k in range(n):
                terms[y] += shift[c] + math.log(max(z[k], TINY)) - expected[k] / z[k]
            for l in range(num_labels):
                q = l * span
                for k in range(n):
                    e_i[q + k] /= z[k]
                e_i[q + n:q + span] = 0.0  # the padding out of _outer's sums
            _outer(e_i, e_j, num_labels, span, pairs, lanes)
            for q in range(num_labels * num_labels):
                rows[y, c, q // num_labels, q % num_labels] += table[c, q] * pairs[q]
