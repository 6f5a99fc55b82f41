"""Numba kernels of loopy belief propagation (sampler/belief_propagation.py), one image at a time,
its rows in parallel. lbp_reference.py computes the same in plain loops.

A message into label m from a sender with cavity a (log domain) is
log sum_l exp(a(l) + theta(l, m)) = A + shift(m) + log sum_l e(l) T(l, m) with A = max a,
e = exp(a - A) <= 1 and T = exp(theta - shift), shift(m) = max_l theta(l, m): L exps, an L x L
multiply-add and L logs per message instead of L^2 exps, in float64.

Speed: the edges of one class along one row are done together in label-major blocks (L, n), so
every loop runs over the n senders, and exp and log are polynomials (_exp_neg, _log) that the
compiler vectorises; with libm's exp and log and one edge at a time an iteration was about 5x
slower. _exp_neg clamps its argument at -64 (e(l) below 1.6e-28 counts as 1.6e-28, nothing a
float32 message can show) and the sum is floored at the smallest normal float64 (a message more
than ~700 nats below its best label).
"""
import math

import numba
import numpy as np

from .backends.numba_backend import _exp_neg  # kernelmath.exp_neg, restated once for Numba

TINY = np.finfo(np.float64).tiny
LOG_COEFFICIENTS = tuple(1.0 / (2 * k + 1) for k in range(9))  # 2 atanh(t) = log((1 + t) / (1 - t))
MANTISSA, ONE = (1 << 52) - 1, 1023 << 52  # float64 bit fields: the fraction; the exponent of 1.0
TWO_52, EXPONENT_ZERO = 1075 << 52, 2.0 ** 52 + 1023  # 2^52's bits; 2^52 + the exponent bias
LN2, SQRT2 = math.log(2.0), math.sqrt(2.0)


def exp_tables(theta):
    """(T, shift): T[c, l, m] = exp(theta[c, l, m] - shift[c, m]), shift[c, m] = max_l theta[c, l, m];
    float64, sender's label first. For messages backward along an edge pass theta transposed."""
    theta = np.asarray(theta, dtype=np.float64)
    shift = theta.max(axis=1)
    return np.ascontiguousarray(np.exp(theta - shift[:, None, :])), np.ascontiguousarray(shift)


def iterate(unary, messages, theta, offsets, iterations, damping):
    """`iterations` damped parallel updates of messages (2, C, H, W, L) float32, in place, for
    unary (H, W, L) float64 (belief_propagation.py gives the layout and the update)."""
    forward, forward_shift = exp_tables(theta)
    backward, backward_shift = exp_tables(np.transpose(theta, (0, 2, 1)))
    total = np.empty(unary.shape)
    for _ in range(iterations):
        totals(unary, messages, total)
        _update(total, messages, forward, forward_shift, backward, backward_shift, offsets, damping)


def pair_beliefs(unary, messages, theta, offsets):
    """(pairs (C, L, L) float64: each edge's pair belief summed per class, edge_term float64:
    sum over the edges of log Z_e - E_b[a_i(y_i) + a_j(y_j)], the pair beliefs' share of the Bethe
    log-partition)."""
    theta = np.asarray(theta, dtype=np.float64)
    shift = theta.max(axis=(1, 2))
    table = np.ascontiguousarray(np.exp(theta - shift[:, None, None]))
    total = np.empty(unary.shape)
    totals(unary, messages, total)
    h, num_labels = unary.shape[0], unary.shape[2]
    rows = np.zeros((h, len(offsets), num_labels, num_labels))
    terms = np.zeros(h)
    _pairs(total, messages, table, shift, offsets, rows, terms)
    return rows.sum(axis=0), terms.sum()


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
def _log(values, exponents, mantissas):
    """values <- log(values), in place, for positive normal float64s (error ~1e-15 relative):
    values = f 2^k with f in [sqrt(1/2), sqrt(2)), log f = 2 atanh((f - 1) / (f + 1)) by 9 terms
    of its series. exponents, mantissas: float64 scratch of the same length; k is read from the
    float whose bits are 2^52's with k + 1023 in the mantissa (no integer-to-float conversion),
    and error_model "numpy" drops the division's zero check: both would stop vectorisation."""
    bits = values.view(np.int64)
    exponent_bits, fraction_bits = exponents.view(np.int64), mantissas.view(np.int64)
    for m in range(len(values)):
        exponent_bits[m] = (bits[m] >> 52) | TWO_52
        fraction_bits[m] = (bits[m] & MANTISSA) | ONE
    for m in range(len(values)):
        f = mantissas[m]
        big = f > SQRT2
        f = f * (1.0 - 0.5 * big)
        t = (f - 1.0) / (f + 1.0)
        t2 = t * t
        p = LOG_COEFFICIENTS[8]
        for j in range(7, -1, -1):
            p = p * t2 + LOG_COEFFICIENTS[j]
        values[m] = (exponents[m] - EXPONENT_ZERO + big) * LN2 + 2.0 * t * p


@numba.njit(cache=True, error_model="numpy")
def _messages(cavity, table, shift, out, scratch, exponents, mantissas):
    """out[m, k] = the message of sender k, of cavity[:, k], at label m, its maximum over m
    subtracted. Blocks are label-major (L, n) so that every loop runs over the n senders: long,
    contiguous, vectorised (maxima too). cavity is overwritten; scratch (n,), exponents and
    mantissas (L * n,): scratch."""
    num_labels, n = cavity.shape
    top = scratch
    top[:] = cavity[0]
    for l in range(1, num_labels):
        for k in range(n):
            top[k] = max(top[k], cavity[l, k])
    for l in range(num_labels):
        for k in range(n):
            cavity[l, k] = _exp_neg(cavity[l, k] - top[k])
    out[:] = 0.0
    for m in range(num_labels):
        for l in range(num_labels):
            weight = table[l, m]
            for k in range(n):
                out[m, k] += cavity[l, k] * weight
    flat = out.reshape(num_labels * n)
    for q in range(num_labels * n):
        flat[q] = max(flat[q], TINY)
    _log(flat, exponents, mantissas)
    best = scratch
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
    for y in numba.prange(h):
        cavities_i, cavities_j, new = np.empty(num_labels * w), np.empty(num_labels * w), np.empty(num_labels * w)
        scratch = np.empty(w)
        exponents, mantissas = np.empty(num_labels * w), np.empty(num_labels * w)
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
                for l in range(num_labels):
                    at_i[l, k] = total[y, first + k, l] - into_i[k, l]
                    at_j[l, k] = total[y + dy, first + dx + k, l] - into_j[k, l]
            for sender, table, shift, target in ((at_i, forward, forward_shift, into_j),
                                                 (at_j, backward, backward_shift, into_i)):
                block = new[:num_labels * n].reshape((num_labels, n))
                _messages(sender, table[c], shift[c], block, scratch[:n],
                          exponents[:num_labels * n], mantissas[:num_labels * n])
                for k in range(n):
                    for l in range(num_labels):
                        target[k, l] = (1.0 - damping) * target[k, l] + damping * block[l, k]


@numba.njit(parallel=True, cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _pairs(total, messages, table, shift, offsets, rows, terms):
    """Per row y of i: rows[y, c] += the pair beliefs b(l, m) = e_i(l) T(l, m) e_j(m) / z of the
    edges (i, i + d_c), terms[y] += their log Z_e - E_b[a_i + a_j] (a: the two ends' cavities,
    e = exp(a - max a), T = exp(theta - max theta), z: the sum of the numerators). Label-major
    blocks of a row's edges, as in _update; sums in any order ("reassoc"), so that they vectorise."""
    _, num_classes, h, w, num_labels = messages.shape
    size = num_labels * w
    for y in numba.prange(h):
        buffers = np.empty((6, size))
        z, log_z, expected, top_i, top_j = np.empty(w), np.empty(w), np.empty(w), np.empty(w), np.empty(w)
        exponents, mantissas = np.empty(w), np.empty(w)
        for c in range(num_classes):
            dy, dx = offsets[c, 0], offsets[c, 1]
            first, stop = max(0, -dx), min(w, w - dx)
            if y + dy >= h or stop <= first:
                continue
            n = stop - first
            a_i, a_j, e_i, e_j, by_row, by_column = [buffers[q, :num_labels * n].reshape((num_labels, n))
                                                     for q in range(6)]
            for k in range(n):
                for l in range(num_labels):
                    a_i[l, k] = total[y, first + k, l] - messages[1, c, y, first + k, l]
                    a_j[l, k] = total[y + dy, first + dx + k, l] - messages[0, c, y + dy, first + dx + k, l]
            top_i[:n], top_j[:n] = a_i[0], a_j[0]
            for l in range(1, num_labels):
                for k in range(n):
                    top_i[k], top_j[k] = max(top_i[k], a_i[l, k]), max(top_j[k], a_j[l, k])
            for l in range(num_labels):
                for k in range(n):
                    e_i[l, k], e_j[l, k] = _exp_neg(a_i[l, k] - top_i[k]), _exp_neg(a_j[l, k] - top_j[k])
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
                    expected[k] += a_i[l, k] * e_i[l, k] * by_row[l, k] + a_j[l, k] * e_j[l, k] * by_column[l, k]
            for k in range(n):
                z[k] = max(z[k], TINY)
                log_z[k] = z[k]
            _log(log_z[:n], exponents[:n], mantissas[:n])
            for k in range(n):
                terms[y] += top_i[k] + top_j[k] + shift[c] + log_z[k] - expected[k] / z[k]
            for l in range(num_labels):
                for k in range(n):
                    e_i[l, k] /= z[k]
            for l in range(num_labels):
                for m in range(num_labels):
                    pair = 0.0
                    for k in range(n):
                        pair += e_i[l, k] * e_j[m, k]
                    rows[y, c, l, m] += table[c, l, m] * pair
