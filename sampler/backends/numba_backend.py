"""CPU backend: Numba kernels. Chromatic sweeps run in parallel over images (colours in turn
inside each) when the batch has at least as many images as threads, else over the blocks of
(image, pixels) of one colour at a time; raster sweeps are the same kernel with one pixel per group.

Layout, chosen for speed (see tools/bench_sampler.py):
- labels live in a padded copy per image, a margin of R = max |offset| filled with the
  "outside" label L, so a neighbour is one load at a fixed flat offset, without bounds tests;
- the pairwise tables are stacked as (2C, L + 1, Lp) float32, 64-byte aligned: row 2c =
  theta[c] transposed (the term of i + d_c), row 2c + 1 = theta[c] (the term of i - d_c), then a
  zero row for the outside label, each row zero-padded to Lp = a multiple of 2 x LANES labels;
- for chromatic sampling, each image's scores are transposed once per call to (H*W, L);
- pixels go in blocks of BLOCK pixels of one colour;
- image-dependent factors (weights, sampler/gating.py): K tables per stacked row (2C K rows),
  and per image and sweep the half weights framed like the labels (K blocks) and each pixel's
  "spread" (_pad_weights: the a-priori part of the float32 error bound).

Exactness: numpy_backend sums the logits and draws in float64; _logits and _draw restate that
arithmetic in its order of operations, and ICM, raster sweeps and conditionals use only them.
A chromatic sweep first works in float32 (_sample_block): each pixel's logits in LANES-wide
vectors held in registers, with a running bound on their rounding error (_logits32); then the
block's draws, across its pixels (_draws32), each with a proof that it is the float64 label
(the argument of cupy_kernels.cu's gibbs_pixel). The float64 arithmetic runs for the pixels
without a proof (about 0.2% on random inputs). So every label is numpy_backend's
(tests/test_sampler_basics.py, tests/test_sampler_certified.py). With weights, the float32
logits add each neighbour's K rows times their edge weights by fused multiply-adds, k by k,
and bound their error from checkpoints (_checkpoint_bound) rather than from every partial sum:
a weighted sweep at K = 2 costs about 1.5x a stationary one (tools/bench_sampler.py --gated).

The vectors are explicit (_vload, _vadd, ...: LLVM vector values, via Numba intrinsics) because
Numba turns LLVM's SLP vectoriser off, and its loop vectoriser re-checks aliasing for every table
row and leaves loops of L = 20 iterations scalar.

Beyond sweeps: train_step's last chromatic sweep also counts the sample's pairs, each edge as
its later end is drawn (_count_pairs), into one partial count per thread (with weights, a pass
of its own with one partial sum per image: weighted_pair_counts); count and pair_counts are
kernels too (marginal_counts is backends/generic.py's, with these).
"""
import functools
import math

import numba
import numpy as np
from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba import get_thread_id, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

from .. import grid
from ..colouring import colouring, schedule_plan

SAMPLE, IMPROVE = 0, 1
BLOCK = 128  # pixels of one colour handled together (64: 4% slower at the default CRF)
CHUNK = 8  # blocks per parallel task in _chromatic (1024 pixels)
LANES = 16  # float32 lanes of one explicit vector (64 bytes: a cache line, one AVX-512 register)
ALIGN = 64  # bytes; a vector load that straddles two cache lines costs two
UNARIES_BYTES = 16 * 2**20  # transposed scores at once, at most (glibc's mmap threshold: 32 MiB at most)


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


# --- explicit float32 vectors: LANES lanes in one LLVM vector value ----------------------------------

class _Float32Vector(types.Type):
    def __init__(self):
        super().__init__(name=f"float32x{LANES}")


_vector = _Float32Vector()
_IR_VECTOR = ir.VectorType(ir.FloatType(), LANES)
_I32, _I64 = ir.IntType(32), ir.IntType(64)


@register_model(_Float32Vector)
class _Float32VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _IR_VECTOR)


def _ir_pointer(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [index]), ir.PointerType(_IR_VECTOR))


def _ir_larger(builder, a, b):
    """The larger of a and b lane by lane, by compare and select (llvm.maxnum also handles NaN:
    a compare and a blend more; there are no NaN here)."""
    return builder.select(builder.fcmp_ordered(">", a, b), a, b)


@intrinsic
def _vload(typingctx, array, index):
    """array[index:index + LANES] of a 1-d float32 array, as one vector (no bounds check)."""
    def codegen(context, builder, signature, args):
        return builder.load(_ir_pointer(context, builder, signature.args[0], *args), align=4)
    return _vector(array, index), codegen


@intrinsic
def _vload_first(typingctx, array, index, count):
    """array[index:index + LANES] with the lanes from count on set to zero (they are read: the
    array must extend LANES past index)."""
    def codegen(context, builder, signature, args):
        values = builder.load(_ir_pointer(context, builder, signature.args[0], args[0], args[1]), align=4)
        lanes = ir.Constant(ir.VectorType(_I64, LANES), list(range(LANES)))
        count = builder.insert_element(ir.Constant(ir.VectorType(_I64, LANES), None), args[2], ir.Constant(_I32, 0))
        count = builder.shuffle_vector(count, count, ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES))
        return builder.select(builder.icmp_signed("<", lanes, count), values, ir.Constant(_IR_VECTOR, [0.0] * LANES))
    return _vector(array, index, types.int64), codegen


@intrinsic
def _vstore(typingctx, array, index, value):
    """array[index:index + LANES] = value."""
    def codegen(context, builder, signature, args):
        builder.store(args[2], _ir_pointer(context, builder, signature.args[0], args[0], args[1]), align=4)
        return context.get_dummy_value()
    return types.none(array, index, value), codegen


@intrinsic
def _vzero(typingctx):
    def codegen(context, builder, signature, args):
        return ir.Constant(_IR_VECTOR, [0.0] * LANES)
    return _vector(), codegen


@intrinsic
def _vadd(typingctx, a, b):
    def codegen(context, builder, signature, args):
        return builder.fadd(*args)
    return _vector(a, b), codegen


@intrinsic
def _vabs(typingctx, a):
    """|a|, lane by lane."""
    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_IR_VECTOR, [_IR_VECTOR]),
                                                  f"llvm.fabs.v{LANES}f32")
        return builder.call(function, list(args))
    return _vector(a), codegen


@intrinsic
def _vadd_abs(typingctx, total, a):
    """total + |a|, lane by lane."""
    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_IR_VECTOR, [_IR_VECTOR]),
                                                  f"llvm.fabs.v{LANES}f32")
        return builder.fadd(args[0], builder.call(function, [args[1]]))
    return _vector(total, a), codegen


@intrinsic
def _vbroadcast(typingctx, array, index):
    """array[index] of a 1-d float32 array in every lane (one broadcast load; no bounds check)."""
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        value = builder.load(builder.gep(data, [args[1]]), align=4)
        lanes = builder.insert_element(ir.Constant(_IR_VECTOR, None), value, ir.Constant(_I32, 0))
        return builder.shuffle_vector(lanes, lanes, ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES))
    return _vector(array, index), codegen


# An empty inline assembly statement hides a value from the optimiser, which would otherwise turn the
# sum of two broadcasts into a scalar sum and a broadcast (one instruction more than a vector sum
# with a broadcast operand). Only where one vector fits one register: AVX-512, on the host CPU.
_OPAQUE = not numba.config.CPU_NAME and bool(llvm_binding.get_host_cpu_features().get("avx512f"))


@intrinsic
def _vopaque(typingctx, a):
    """a, opaque to the optimiser (see _OPAQUE)."""
    def codegen(context, builder, signature, args):
        if not _OPAQUE:
            return args[0]
        return builder.asm(ir.FunctionType(_IR_VECTOR, [_IR_VECTOR]), "", "=v,0", list(args), False)
    return _vector(a), codegen


@intrinsic
def _vfma(typingctx, a, b, total):
    """total + a * b lane by lane, rounded once (llvm.fma: one instruction where the CPU has FMA)."""
    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_IR_VECTOR, [_IR_VECTOR] * 3),
                                                  f"llvm.fma.v{LANES}f32")
        return builder.call(function, list(args))
    return _vector(a, b, total), codegen


@intrinsic
def _vlargest_or_nan(typingctx, a, b):
    """The largest lane of a and b (as _vlargest), or NaN if a lane is NaN."""
    def codegen(context, builder, signature, args):
        largest = _ir_largest_lane(builder, *args)
        nan = [builder.fcmp_unordered("uno", value, value) for value in args]
        mask = builder.bitcast(builder.or_(*nan), ir.IntType(LANES))
        return builder.select(builder.icmp_unsigned("!=", mask, ir.Constant(ir.IntType(LANES), 0)),
                              ir.Constant(ir.FloatType(), float("nan")), largest)
    return types.float32(a, b), codegen


def _ir_largest_lane(builder, a, b):
    """The largest lane of a and b, by halving."""
    values, width = _ir_larger(builder, a, b), LANES
    while width > 1:
        width //= 2
        mask = ir.Constant(ir.VectorType(_I32, LANES), [(i + width) % LANES for i in range(LANES)])
        values = _ir_larger(builder, values, builder.shuffle_vector(values, values, mask))
    return builder.extract_element(values, ir.Constant(_I32, 0))


@intrinsic
def _vlargest(typingctx, a, b):
    """The largest lane of a and b."""
    def codegen(context, builder, signature, args):
        return _ir_largest_lane(builder, *args)
    return types.float32(a, b), codegen


@intrinsic
def _transpose(typingctx, source, at, stride, target, to, pitch):
    """target[to + l * pitch + j] = source[at + j * stride + l] for j, l < LANES: a LANES x LANES
    block transposed in registers (log2 LANES rounds of shuffles)."""
    def codegen(context, builder, signature, args):
        source, at, stride, target, to, pitch = args
        rows = [builder.load(_ir_pointer(context, builder, signature.args[0], source,
                                         builder.add(at, builder.mul(stride, ir.Constant(_I64, j)))), align=4)
                for j in range(LANES)]
        half = 1
        while half < LANES:  # exchange the half-blocks of size `half` between rows i and i + half
            low = [p if p // half % 2 == 0 else LANES + p - half for p in range(LANES)]
            high = [p + half if p // half % 2 == 0 else LANES + p for p in range(LANES)]
            for i in [i for i in range(LANES) if i // half % 2 == 0]:
                a, b = rows[i], rows[i + half]
                rows[i] = builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, LANES), low))
                rows[i + half] = builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, LANES), high))
            half *= 2
        for l in range(LANES):
            builder.store(rows[l], _ir_pointer(context, builder, signature.args[3], target,
                                               builder.add(to, builder.mul(pitch, ir.Constant(_I64, l)))), align=4)
        return context.get_dummy_value()
    return types.none(source, at, stride, target, to, pitch), codegen


@intrinsic
def _pow2(typingctx, k):
    """2**k, exactly, for an integral float32 k in -126..127 (its exponent bits)."""
    def codegen(context, builder, signature, args):
        biased = builder.add(builder.fptosi(args[0], _I32), ir.Constant(_I32, 127))
        return builder.bitcast(builder.shl(biased, ir.Constant(_I32, 23)), ir.FloatType())
    return types.float32(k), codegen


# --- the float32 draw's arithmetic ---------------------------------------------------------------------
# _exp32(d), d float32 in [-64, 0]: d = k ln2 + r with k = round(d log2 e), |r| < 0.35 (Cody-Waite:
# k * _LN2_HI is exact, the subtraction exact but possibly for one rounding); e^r by its Taylor
# polynomial of degree 6 (truncation < 2 u relative, u = 2**-24); times 2**k, exact. Relative
# error: r's roundings < 0.8 u, Horner's 12 roundings < 12 u e^0.35 / e^-0.35 < 25 u, the rounded
# coefficients < 0.1 u: < 28 u < 2**-19, so _EXP32_ERROR = 2**-18 holds twice over
# (tests/test_sampler_basics.py measures it).
_F32_COEFFICIENTS = tuple(np.float32(1.0 / math.factorial(k)) for k in range(7))
_LOG2E32, _HALF32 = np.float32(1.4426950408889634), np.float32(0.5)
_LN2_HI32 = np.float32(0.693359375)  # 355 / 512: 9 bits, so k * _LN2_HI32 is exact for |k| < 2**15
_LN2_LO32 = np.float32(math.log(2.0) - 0.693359375)
_LOWEST32 = np.float32(-64.0)
_EXP32_ERROR = 2.0 ** -18
# Relative error of a float32 weight against the float64 one, beside the logits' own error 2E:
# _EXP32_ERROR, the rounding of d to float32 (|d| <= 64: 64 u = 2**-18), exp_neg's own 2e-12.
_WEIGHT32 = np.float32(_EXP32_ERROR + 2.0 ** -17)
_ERROR32 = np.float32(1.001 * 2.0 ** -24)  # per unit of the error sums: u, the float64 sum's own
# 2**-53 and the rounding of the error sums themselves
_TINY32 = np.float32(2.0 ** -100)  # absolute (subnormal) rounding of the logits
_ULP32 = np.float32(2.0 ** -23)  # 2 u: a float32 rounding, with room for the float64 one beside it
_SLACK32 = np.float32(2.0 ** -19)  # rounding of u, of the threshold and of the tests themselves
_MARGIN32 = np.float32(1.03)  # (e^x - 1) / x and the float32 total's own error, for x <= 0.011
_MAX_REL32 = np.float32(0.01)  # beyond this the first-order bounds are not claimed
_ZERO32, _ONE32, _TWO32, _INF32 = np.float32(0.0), np.float32(1.0), np.float32(2.0), np.float32(np.inf)
_SLACK20, _UNDERFLOW32, _SPREAD32 = np.float32(2.0 ** -20), np.float32(2.0 ** -70), np.float32(1 + 2.0 ** -10)


@njit(cache=True)
def _exp32(d):
    """exp(d) for float32 d in [-64, 0], relative error below _EXP32_ERROR."""
    k = np.floor(d * _LOG2E32 + _HALF32)
    r = (d - k * _LN2_HI32) - k * _LN2_LO32
    p = _F32_COEFFICIENTS[6]
    for i in range(5, -1, -1):
        p = p * r + _F32_COEFFICIENTS[i]
    return p * _pow2(k)


# --- layout ------------------------------------------------------------------------------------

@njit(cache=True)
def _aligned_empty(rows, columns):
    """(rows, columns) float32 whose data starts on an ALIGN-byte boundary."""
    buffer = np.empty(rows * columns + ALIGN // 4, dtype=np.float32)
    start = ((ALIGN - buffer.ctypes.data % ALIGN) % ALIGN) // 4
    return buffer[start:start + rows * columns].reshape(rows, columns)


@njit(cache=True)
def _aligned_zeros(rows, columns):
    out = _aligned_empty(rows, columns)
    out[:] = 0.0
    return out


@njit(cache=True)
def _stacked(forward, backward):
    """(2C K, L + 1, Lp) tables in the order numpy_backend adds them (table (2c + 0 or 1) K + k:
    forward or backward table k of class c; K = 1 without weights), row L zero (outside), rows
    zero-padded to Lp (a multiple of 2 x LANES), aligned."""
    num_classes, per_class, num_labels = forward.shape[0], forward.shape[1], forward.shape[2]
    lp = -(-num_labels // (2 * LANES)) * 2 * LANES
    tables = _aligned_zeros(2 * num_classes * per_class * (num_labels + 1), lp)
    tables = tables.reshape(2 * num_classes * per_class, num_labels + 1, lp)
    for c in range(num_classes):
        for k in range(per_class):
            tables[2 * c * per_class + k, :num_labels, :num_labels] = forward[c, k]
            tables[(2 * c + 1) * per_class + k, :num_labels, :num_labels] = backward[c, k]
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
def _pad_weights(weights, margin, pw, steps, maxima, out):
    """out (flat, (K + 1) * (H + 2 margin) * pw), zeros: blocks k < K = 0.5 * weights[k] in float32
    (sampler/gating.py), framed like _pad's labels by zeros; block K = each pixel's spread, an upper
    bound on the sum over k and the even (forward) neighbour steps t of maxima[t K + k] *
    |w_k(i, i + steps[t])| (_checkpoint_bound): |w_k(i, j)| <= |h_k(i)| + max |h_k|, so
    sum over k of (sum over even t of maxima[t K + k]) * (|h_k(i)| + max |h_k|), K terms a pixel."""
    per_step, h, w = weights.shape
    size = out.shape[0] // (per_step + 1)
    spread = out[per_step * size:]
    for k in range(per_step):
        largest, total = _ZERO32, _ZERO32
        for t in range(0, steps.shape[0], 2):
            total += maxima[t * per_step + k]
        for y in range(h):
            start = k * size + (y + margin) * pw + margin
            for x in range(w):
                out[start + x] = _HALF32 * weights[k, y, x]
                largest = max(largest, abs(out[start + x]))
        for y in range(h):
            start = (y + margin) * pw + margin
            for x in range(start, start + w):
                spread[x] += total * (abs(out[k * size + x]) + largest)


@njit(cache=True)
def _frame(weights, margin, pw, steps, maxima):
    """One image's _pad_weights array for weights (K, H, W), or an empty one for K = 0 (no weights):
    made inside each kernel's parallel region (a region of its own costs more than the work)."""
    per_step, h, w = weights.shape
    out = np.zeros((per_step + 1) * (h + 2 * margin) * pw if per_step else 0, dtype=np.float32)
    if per_step:
        _pad_weights(weights, margin, pw, steps, maxima, out)
    return out


@njit(cache=True)
def _table_maxima(tables):
    """(tables,) float32: the largest |entry| of each stacked table."""
    out = np.zeros(tables.shape[0], dtype=np.float32)
    for t in range(tables.shape[0]):
        for value in tables[t].ravel():
            out[t] = max(out[t], abs(value))
    return out


@njit(cache=True)
def _unpad(padded, margin, pw, labels):
    for y in range(labels.shape[0]):
        start = (y + margin) * pw + margin
        labels[y] = padded[start:start + labels.shape[1]]


# --- float64: numpy_backend's arithmetic ------------------------------------------------------------

@njit(cache=True)
def _logits(unary, padded, tables, steps, order, where, first, size, z, halves):
    """z[j, l] = u_i(l) + sum_c theta[c, l, y_{i+d}] + theta[c, y_{i-d}, l] for the pixels
    i = order[first + j], j < size, in numpy_backend's order of additions; with halves (the
    image's padded weights, _pad_weights; empty without weights), _weighted_terms.

    Tables four at a time (one load and store of z per four rows), each for the whole block
    before the next (so consecutive additions to one z[j, l] are far apart)."""
    num_labels, num_tables = unary.shape[0], tables.shape[0]
    for l in range(num_labels):  # row by row: L rows at once are L pages, too many for the TLB at L = 64
        ul = unary[l]
        for j in range(size):
            z[j, l] = ul[order[first + j]]
    if halves.shape[0] != 0:
        _weighted_terms(padded, tables, steps, where, first, size, z, halves)
        return
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
def _weighted_terms(padded, tables, steps, where, first, size, z, halves):
    """z[j] += w_k(i, i + s) * table[y_{i+s}] for the pixels i = where[first + j] (padded), the
    2C neighbour steps s in stacking order and k = 0..K-1 inside each: numpy_backend's float64
    arithmetic (the float32 weight times the float32 entry is exact in float64)."""
    num_labels, per_step = z.shape[1], tables.shape[0] // steps.shape[0]
    size_k = halves.shape[0] // (per_step + 1)
    for t in range(steps.shape[0]):
        step = steps[t]
        for k in range(per_step):
            table, at = tables[t * per_step + k], k * size_k
            for j in range(size):
                q = where[first + j]  # q + step >= 0: uint64 spares the negative-index fix-up
                weight = np.float64(halves[at + q] + halves[np.uint64(at + q + step)])
                row, zj = table[padded[np.uint64(q + step)]], z[j]
                for l in range(num_labels):
                    zj[l] += weight * row[l]


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
def _draw(z, u):
    """numpy_backend.draw for one row of float64 logits (overwritten with the weights): the
    first l with cumsum(w) > u * lane_sum(w), w = exp_neg(z - max); else the first l of
    largest weight."""
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


# --- float32, certified ---------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _logits32(source, rows, num_labels, padded, flat, stride, lp, steps, q, z, at, bounds, j, halves):
    """z[at:at + Lp], z[at + Lp:at + 2 Lp] = the float32 logits of two pixels (their unaries:
    source[rows[i]:rows[i] + L]; their padded indices q[i]): the unaries plus the 2C table rows
    (flat: the raveled tables, stride apart), in stacking order, two vectors a pixel at a time.
    With halves (_pad_weights; empty without weights), the K rows of each neighbour, each times
    its edge weight by a fused multiply-add (rounded once, like an addition), k by k (the own half
    weights stay in registers), and bounds from _checkpoint_bound.
    bounds[j], bounds[j + 1] = the largest over labels of the sum over the additions of |the
    partial sum|, which bounds the rounding error (each addition errs by at most u of its result).
    Two pixels share the neighbour steps and overlap their additions.

    Flat arrays and offsets rather than a view per pixel: Numba counts the references to a view,
    atomically, which costs more than the sums."""
    bounds[j] = bounds[j + 1] = _ZERO32
    per_step = flat.shape[0] // (stride * steps.shape[0])  # K (1 without weights)
    size_k = halves.shape[0] // (per_step + 1)  # one block of halves (_pad_weights), 0 without weights
    for c in range(0, lp, 2 * LANES):
        u, v, rest = rows[0] + c, rows[1] + c, num_labels - c
        a, b = _vload_first(source, u, rest), _vload_first(source, u + LANES, rest - LANES)
        x, y = _vload_first(source, v, rest), _vload_first(source, v + LANES, rest - LANES)
        error_a = error_b = error_x = error_y = _vzero()
        if halves.shape[0] == 0:
            for k in range(steps.shape[0]):  # q + step >= 0: uint64 spares the negative-index fix-up
                column, step = k * stride + c, steps[k]
                row, other = column + padded[np.uint64(q[0] + step)] * lp, column + padded[np.uint64(q[1] + step)] * lp
                a, b = _vadd(a, _vload(flat, row)), _vadd(b, _vload(flat, row + LANES))
                x, y = _vadd(x, _vload(flat, other)), _vadd(y, _vload(flat, other + LANES))
                error_a, error_b = _vadd_abs(error_a, a), _vadd_abs(error_b, b)
                error_x, error_y = _vadd_abs(error_x, x), _vadd_abs(error_y, y)
        else:  # error_*: the sums of squares of the checkpoints (_checkpoint_bound)
            error_a, error_b, error_x, error_y = _vfma(a, a, error_a), _vfma(b, b, error_b), _vfma(x, x, error_x), \
                _vfma(y, y, error_y)
            for k in range(per_step):
                h = k * size_k
                own, own_other = _vopaque(_vbroadcast(halves, h + q[0])), _vopaque(_vbroadcast(halves, h + q[1]))
                for t in range(0, steps.shape[0], 2):  # 2C steps: an even number
                    for odd in range(2):
                        step = steps[np.uint64(t + odd)]
                        row = (t + odd) * per_step * stride + k * stride + c
                        here = row + padded[np.uint64(q[0] + step)] * lp
                        there = row + padded[np.uint64(q[1] + step)] * lp
                        weight = _vadd(own, _vbroadcast(halves, h + q[0] + step))
                        weight_other = _vadd(own_other, _vbroadcast(halves, h + q[1] + step))
                        a, b = _vfma(weight, _vload(flat, here), a), _vfma(weight, _vload(flat, here + LANES), b)
                        x = _vfma(weight_other, _vload(flat, there), x)
                        y = _vfma(weight_other, _vload(flat, there + LANES), y)
                    error_a, error_b = _vfma(a, a, error_a), _vfma(b, b, error_b)
                    error_x, error_y = _vfma(x, x, error_x), _vfma(y, y, error_y)
        for offset, value in ((0, a), (LANES, b), (lp, x), (lp + LANES, y)):
            _vstore(z, at + c + offset, value)
        if halves.shape[0] == 0:
            bounds[j] = max(bounds[j], _vlargest(error_a, error_b))
            bounds[j + 1] = max(bounds[j + 1], _vlargest(error_x, error_y))
        else:
            checkpoints = per_step * steps.shape[0] // 2 + 1  # the unaries and every second sum of the 2C K
            for i, squares, p in ((j, _vlargest_or_nan(error_a, error_b), q[0]),
                                  (j + 1, _vlargest_or_nan(error_x, error_y), q[1])):
                bound = _checkpoint_bound(squares, checkpoints, halves[per_step * size_k + p])
                bounds[i] = bounds[i] if bound <= bounds[i] else bound  # NaN (an overflow) wins


@njit(cache=True, inline="always")
def _checkpoint_bound(squares, checkpoints, spread):
    """An upper bound on sum_m |a_m| over the partial sums a_m of a pixel's weighted logits (one
    label), for _logits32's order: a_{-1} the unary, then the fused multiply-adds m = 0..2C K - 1;
    squares = the sum of a_m^2 over the checkpoints (a_{-1} and every odd m), as fused
    multiply-adds accumulate it (each rounds down by at most u: no term is negative);
    spread >= the sum over the even m of |w_m| * the largest |entry| of table m (_pad_weights).

    An even m adds w_m r_m to a checkpoint, so |a_m| <= (|a_{m-1}| + |w_m| max |r_m|)(1 + u), and
    the sum is at most (1 + u)(2 sum over checkpoints |a_cp| + spread); Cauchy-Schwarz bounds the
    sum over the M checkpoints by sqrt(M squares) (tight when they are alike). Slack: 2 M u for
    the rounding of squares, 2**-20 for u and this bound's own, 2**-10 for spread's float32 sum,
    M 2**-70 for squares below the normal range. Not claimed (inf) when M u > 2**-10; NaN stays.

    numpy_backend adds in another order (t by t, k inside); its float64 partial sums are each at
    most |u| + spread + (the odd terms, each below |a_m| + |a_{m-1}|) <= 2 x this bound, so their
    own error, 2**-53 of their sum, stays below 2**-53 4 M (this bound): within _ERROR32's slack."""
    if checkpoints > 2**14:
        return _INF32
    count = np.float32(checkpoints)
    scale = count * (_ONE32 + count * _ULP32 + _SLACK20)
    return _TWO32 * np.sqrt(squares * scale) + spread * _SPREAD32 + count * _UNDERFLOW32


@njit(cache=True)
def _draws32(z, bounds, w, aux, size, base, order, first, num_labels):
    """Float32 inverse-CDF draws for pixels order[first:first + size], from their float32
    logits z (BLOCK + 1, Lp) and bounds (_logits32), each with a proof that it is
    numpy_backend.draw's label on the float64 logits (the argument of cupy_kernels.cu's
    gibbs_pixel):

    |z - z64| <= E = u * bound per label, so each float32 weight w errs relatively by at most
    rel = 2E + _WEIGHT32; every cumulative sum, and the total S, by A = S (1.03 rel + (L + 1) 2u);
    the float32 threshold t = u S by A + 2u S. If no cumulative sum lies within margin = 2A +
    _SLACK32 S of t, each float64 cumulative sum lies on the same side of the float64 threshold
    as its float32 one, so the float64 draw (the number of cumulative sums not above the
    threshold) is that count.

    Leaves in aux: 7 = the label (as a float), 8 = 1 where proven, else 0. Works across the
    pixels: w (Lp, BLOCK) = z transposed, in LANES x LANES blocks, then loops over the block's
    pixels innermost (they vectorise; across the labels they would need horizontal steps)."""
    lp, pitch = z.shape[1], w.shape[1]
    zf, wf = z.reshape(-1), w.reshape(-1)
    for j in range(0, size, LANES):
        for c in range(0, lp, LANES):
            _transpose(zf, j * lp + c, lp, wf, c * pitch + j, pitch)
    top, total, low, high, acc, below, at_most, label, sure = (aux[0], aux[1], aux[2], aux[3], aux[4], aux[5],
                                                                aux[6], aux[7], aux[8])
    top[:size] = -_INF32
    for l in range(num_labels):  # compare and select: max() also handles NaN, at a cost (there are none)
        wl = w[l]
        for j in range(size):
            top[j] = wl[j] if wl[j] > top[j] else top[j]
    total[:size] = _ZERO32
    for l in range(num_labels):
        wl = w[l]
        for j in range(size):
            d = wl[j] - top[j]
            wl[j] = _exp32(d if d > _LOWEST32 else _LOWEST32)
            total[j] += wl[j]
    cumulative = np.float32(num_labels + 1) * _ULP32
    for j in range(size):
        threshold = np.float32(_uniform(base, np.uint64(order[first + j]))) * total[j]
        rel = _TWO32 * (_ERROR32 * bounds[j] + _TINY32) + _WEIGHT32
        margin = total[j] * (_TWO32 * (_MARGIN32 * rel + cumulative) + _SLACK32)
        low[j], high[j] = threshold - margin, threshold + margin
        sure[j] = _ONE32 if rel <= _MAX_REL32 else _ZERO32
    acc[:size], below[:size], at_most[:size] = _ZERO32, _ZERO32, _ZERO32
    for l in range(num_labels):
        wl = w[l]
        for j in range(size):
            acc[j] += wl[j]
            below[j] += _ONE32 if acc[j] < low[j] else _ZERO32
            at_most[j] += _ONE32 if acc[j] <= high[j] else _ZERO32
    for j in range(size):
        proven = sure[j] != 0 and below[j] == at_most[j] and below[j] < num_labels
        label[j], sure[j] = below[j], _ONE32 if proven else _ZERO32


# --- one block of pixels -------------------------------------------------------------------------

@njit(cache=True)
def _scratch(num_labels, lp):
    """Per-task work arrays: float32 logits (BLOCK + 1, Lp: a spare row for _sample_block's odd
    one out), their bounds, the draw's weights (Lp, BLOCK) and rows (aux), all aligned; float64
    logits (BLOCK, L)."""
    return (_aligned_zeros(BLOCK + 1, lp), np.zeros(BLOCK + 1, dtype=np.float32), _aligned_zeros(lp, BLOCK),
            _aligned_zeros(9, BLOCK), np.zeros((BLOCK, num_labels)))


@njit(cache=True)
def _sample_block(unary, unaries, padded, tables, steps, order, where, first, size, base, scratch, halves):
    """Gibbs-sample pixels order[first:first+size] of one colour; returns #changed. unary:
    the image's scores (L, H*W); unaries: the same transposed and raveled (_unaries), or empty:
    then the block gathers its own; halves: _pad_weights' (empty without weights)."""
    z32, bounds, w, aux, z = scratch
    num_labels, lp = unary.shape[0], tables.shape[2]
    flat, stride, logits = tables.reshape(-1), tables.shape[1] * lp, z32.reshape(-1)
    gathered = unaries.shape[0] == 0
    if gathered:
        for l in range(num_labels):  # row by row: L rows at once are L pages, too many for the TLB at L = 64
            ul = unary[l]
            for j in range(size):
                z32[j, l] = ul[order[first + j]]
    source = logits if gathered else unaries
    for j in range(0, size, 2):  # an odd one out pairs with itself, into the next (spare) row
        pair = (first + j, first + min(j + 1, size - 1))
        rows = (j * lp, min(j + 1, size - 1) * lp) if gathered else (order[pair[0]] * num_labels,
                                                                     order[pair[1]] * num_labels)
        _logits32(source, rows, num_labels, padded, flat, stride, lp, steps, (where[pair[0]], where[pair[1]]),
                  logits, j * lp, bounds, j, halves)
    _draws32(z32, bounds, w, aux, size, base, order, first, num_labels)
    changed = 0
    for j in range(size):
        q = where[first + j]
        if aux[8, j] != 0:
            new = int(aux[7, j])
        else:  # not proven: the float64 arithmetic
            _logits(unary, padded, tables, steps, order, where, first + j, 1, z, halves)
            new = _draw(z[0], _uniform(base, np.uint64(order[first + j])))
        changed += new != padded[q]
        padded[q] = new
    return changed


@njit(cache=True)
def _unaries(scores, needed):
    """(N, H*W * L + LANES) float32: each image's scores (L, H*W) transposed to (H*W, L) and
    raveled, then LANES spare values, so that a pixel's unaries are contiguous (gathering them for
    a block of one colour reads every cache line of the scores once per colour: 14 against 5 ns
    a pixel at L = 20); (N, 0) if not needed."""
    n_images, num_labels, h, w = scores.shape
    out = np.empty((n_images, h * w * num_labels + LANES if needed else 0), dtype=np.float32)
    for n in range(n_images if needed else 0):
        unary, rows = scores[n].reshape(num_labels, h * w), out[n, :h * w * num_labels].reshape(h * w, num_labels)
        for p in range(h * w):
            for l in range(num_labels):
                rows[p, l] = unary[l, p]
    return out


@njit(cache=True)
def _block(unary, unaries, padded, tables, steps, order, where, first, size, base, mode, scratch, halves):
    """Resample (or ICM-improve) pixels order[first:first+size] of one colour; returns #changed."""
    if mode == SAMPLE and size > 1:
        return _sample_block(unary, unaries, padded, tables, steps, order, where, first, size, base, scratch, halves)
    z = scratch[4]
    _logits(unary, padded, tables, steps, order, where, first, size, z, halves)
    changed = 0
    for j in range(size):
        q = where[first + j]
        current = padded[q]
        if mode == IMPROVE:
            new = _improve(z[j], current)
        else:
            new = _draw(z[j], _uniform(base, np.uint64(order[first + j])))
        padded[q] = new
        changed += new != current
    return changed


@njit(cache=True)
def _count_pairs(padded, steps, where, first, size, earlier, counts):
    """counts[c, y_i, y_{i+d_c}] += 1 for the edges from pixels order[first:first+size] (just
    drawn) to the neighbours drawn before them in this sweep: tables earlier[1:1 + earlier[0]]
    (_earlier), so that a sweep counts each edge once, when its later end is drawn."""
    num_labels = counts.shape[1]
    for t in range(1, 1 + earlier[0]):  # table by table: each class's (L, L) counts stay in cache
        k = earlier[t]
        table, step = counts[k // 2], steps[k]
        for j in range(size):
            q = where[first + j]
            label, other = padded[q], padded[np.uint64(q + step)]
            if other < num_labels:
                if k % 2 == 0:  # table 2c: the neighbour i + d_c
                    table[label, other] += 1
                else:  # table 2c + 1: the neighbour i - d_c
                    table[other, label] += 1


# --- sweeps --------------------------------------------------------------------------------------

@njit(parallel=True, cache=True)
def _chromatic(scores, labels, forward, backward, offsets, order, starts, bases, mode, transpose, pairs, earlier,
               weights):
    """Groups (colours) in turn; within one, blocks of (image, pixels) in parallel. Returns #changes.
    With pairs (threads, C, L, L), each thread adds the pair counts of the edges it closes
    (_count_pairs; earlier: _earlier); with pairs (0, C, L, L), no counting. weights (N, K, H, W)
    with forward, backward (C, K, L, L), or (N, 0, H, W) with K = 1: no weights.

    One parallel region per colour: used when there are fewer images than threads.
    """
    n_images, num_labels, h, w = scores.shape
    tables = _stacked(forward, backward)
    margin, pw, steps, where = _geometry(offsets, order, h, w)
    unaries = _unaries(scores, transpose)
    padded = np.empty((n_images, (h + 2 * margin) * pw), dtype=np.uint8)
    maxima, per_step = _table_maxima(tables), weights.shape[1]
    halves = np.zeros((n_images, (per_step + 1) * padded.shape[1] if per_step else 0), dtype=np.float32)
    for n in prange(n_images):
        _pad(labels[n], margin, pw, num_labels, padded[n])
        if per_step:
            _pad_weights(weights[n], margin, pw, steps, maxima, halves[n])
    changed = 0
    for g in range(starts.shape[0] - 1):
        blocks = (starts[g + 1] - starts[g] + BLOCK - 1) // BLOCK
        total = n_images * blocks
        chunks = (total + CHUNK - 1) // CHUNK
        per_chunk = np.zeros(chunks, dtype=np.int64)
        for chunk in prange(chunks):
            scratch = _scratch(num_labels, tables.shape[2])
            local = 0  # not per_chunk[chunk] += ...: threads would share its cache line
            for item in range(chunk * CHUNK, min(total, (chunk + 1) * CHUNK)):
                n, b = divmod(item, blocks)
                first = starts[g] + b * BLOCK
                size = min(BLOCK, starts[g + 1] - first)
                local += _block(scores[n].reshape(num_labels, h * w), unaries[n], padded[n], tables, steps,
                                order, where, first, size, bases[n], mode, scratch, halves[n])
                if pairs.shape[0]:
                    _count_pairs(padded[n], steps, where, first, size, earlier[g], pairs[get_thread_id()])
            per_chunk[chunk] = local
        changed += per_chunk.sum()
    for n in prange(n_images):
        _unpad(padded[n], margin, pw, labels[n])
    return changed


@njit(parallel=True, cache=True)
def _chromatic_by_image(scores, labels, forward, backward, offsets, order, starts, bases, mode, transpose, pairs,
                        earlier, weights):
    """Same result as _chromatic, one parallel region per sweep: images in parallel, groups in
    turn inside each. Barriers cost far more than the work on a busy machine."""
    n_images, num_labels, h, w = scores.shape
    tables = _stacked(forward, backward)
    margin, pw, steps, where = _geometry(offsets, order, h, w)
    maxima = _table_maxima(tables)
    per_image = np.zeros(n_images, dtype=np.int64)
    for n in prange(n_images):
        scratch = _scratch(num_labels, tables.shape[2])
        padded = np.empty((h + 2 * margin) * pw, dtype=np.uint8)
        _pad(labels[n], margin, pw, num_labels, padded)
        halves = _frame(weights[n], margin, pw, steps, maxima)
        unary = scores[n].reshape(num_labels, h * w)
        unaries = _unaries(scores[n:n + 1], transpose)[0]
        local = 0
        for g in range(starts.shape[0] - 1):
            for first in range(starts[g], starts[g + 1], BLOCK):
                size = min(BLOCK, starts[g + 1] - first)
                local += _block(unary, unaries, padded, tables, steps, order, where, first, size, bases[n],
                                mode, scratch, halves)
                if pairs.shape[0]:
                    _count_pairs(padded, steps, where, first, size, earlier[g], pairs[get_thread_id()])
        _unpad(padded, margin, pw, labels[n])
        per_image[n] = local
    return per_image.sum()


@njit(parallel=True, cache=True)
def _conditionals(scores, labels, forward, backward, offsets, out, weights):
    n_images, num_labels, h, w = scores.shape
    tables = _stacked(forward, backward)
    order = np.arange(h * w)
    margin, pw, steps, where = _geometry(offsets, order, h, w)
    maxima = _table_maxima(tables)
    for n in prange(n_images):
        z = np.zeros((BLOCK, num_labels))
        padded = np.empty((h + 2 * margin) * pw, dtype=np.uint8)
        _pad(labels[n], margin, pw, num_labels, padded)
        halves = _frame(weights[n], margin, pw, steps, maxima)
        unary = scores[n].reshape(num_labels, h * w)
        for first in range(0, h * w, BLOCK):
            size = min(BLOCK, h * w - first)
            _logits(unary, padded, tables, steps, order, where, first, size, z, halves)
            for j in range(size):
                zj = z[j]
                top = zj.max()
                norm = 0.0
                for l in range(num_labels):
                    norm += np.exp(zj[l] - top)
                norm = top + np.log(norm)
                for l in range(num_labels):
                    out[n, l, (first + j) // w, (first + j) % w] = zj[l] - norm


@njit(parallel=True, cache=True)
def _count(counts, labels):
    for n in prange(labels.shape[0]):
        for p in range(labels.shape[1]):
            counts[n, labels[n, p], p] += 1


@njit(parallel=True, cache=True)
def _pair_counts(labels, offsets, pairs):
    """pairs[thread, c, y_i, y_{i+d_c}] += 1 over the edges of labels (N, H, W); pairs
    (threads, C, L, L): one partial sum per thread, no atomics."""
    n_images, h, w = labels.shape
    for n in prange(n_images):
        counts = pairs[get_thread_id()]
        for c in range(offsets.shape[0]):
            dy, dx = offsets[c, 0], offsets[c, 1]  # dy >= 0 (canonical)
            for y in range(max(0, h - dy)):
                for x in range(max(0, -dx), min(w, w - dx)):
                    counts[c, labels[n, y, x], labels[n, y + dy, x + dx]] += 1


@njit(parallel=True, cache=True)
def _weighted_pair_counts(labels, weights, offsets, out):
    """out[n, c, k, y_i, y_{i+d_c}] += w_k(i, i + d_c) over the edges of labels (N, H, W) with
    weights (N, K, H, W); out (N, C, K, L, L) float64: one partial sum per image, each in a fixed
    order, so the total does not depend on the threads."""
    n_images, h, w = labels.shape
    for n in prange(n_images):
        for c in range(offsets.shape[0]):
            dy, dx = offsets[c, 0], offsets[c, 1]  # dy >= 0 (canonical)
            for k in range(weights.shape[1]):
                counts, a = out[n, c, k], weights[n, k]
                for y in range(max(0, h - dy)):
                    for x in range(max(0, -dx), min(w, w - dx)):
                        weight = _HALF32 * a[y, x] + _HALF32 * a[y + dy, x + dx]  # sampler/gating.py
                        counts[labels[n, y, x], labels[n, y + dy, x + dx]] += np.float64(weight)


def _tables(theta):
    """(forward, backward) (C, K, L, L): theta[c, k, l, j] as [c, k, j, l] and theta as is, both
    contiguous; theta (C, L, L) as K = 1."""
    tables = theta[:, None] if theta.ndim == 3 else theta
    return np.ascontiguousarray(tables.transpose(0, 1, 3, 2)), np.ascontiguousarray(tables)


def _weights(weights, labels):
    """The kernels' weights argument: as given, or (N, 0, H, W) for none."""
    return np.zeros((len(labels), 0) + labels.shape[1:], dtype=np.float32) if weights is None else weights


def _scan(scores, labels, forward, backward, offsets, bases, mode, schedule, count=False, weights=None):
    """One sweep (or ICM pass); returns (#labels changed, (C, L, L) int64 pair counts of the new
    labels if count, counted as the sweep closes each edge: chromatic sweeps without weights only)."""
    order, starts = schedule_plan(grid.key(offsets), labels.shape[1], labels.shape[2], schedule)
    by_image = schedule == "raster" or len(labels) >= numba.get_num_threads()
    # transposed unaries for the float32 draws; malloc reuses a freed buffer below UNARIES_BYTES,
    # a bigger one is new pages every call (8 ms a sweep at 1024 x 1024, L = 8)
    size = scores[0].nbytes if by_image else scores.nbytes
    transpose = mode == SAMPLE and schedule == "chromatic" and size <= UNARIES_BYTES
    num_labels = scores.shape[1]
    pairs = _partial_counts(labels.size, len(offsets), num_labels, count)
    earlier = _earlier(grid.key(offsets)) if count else np.zeros((0, 2 * len(offsets) + 1), dtype=np.int64)
    kernel = _chromatic_by_image if by_image else _chromatic
    changed = kernel(scores, labels, forward, backward, offsets, order, starts, bases, mode, transpose, pairs, earlier,
                     _weights(weights, labels))
    return changed, pairs.sum(axis=0, dtype=np.int64)


def _partial_counts(pixels, num_classes, num_labels, needed=True):
    """(threads, C, L, L) zeros: one partial pair count per thread, int32 (a smaller table to
    increment at random) unless a count could reach 2**31 (that many pixels)."""
    threads = numba.get_num_threads() if needed else 0
    return np.zeros((threads, num_classes, num_labels, num_labels), dtype=np.int32 if pixels < 2**31 else np.int64)


@functools.lru_cache(maxsize=64)
def _earlier(offsets_key):
    """(K, 2C + 1) int64: row g = the number m of tables whose neighbour of a pixel of colour g has
    a colour drawn before g, then those m tables (colours go in order; colour(i + d) = colour(i)
    + a dy + b dx mod K)."""
    offsets = np.array(offsets_key, dtype=np.int64).reshape(-1, 2)
    a, b, k = colouring(offsets)
    step = np.stack([a * offsets[:, 0] + b * offsets[:, 1], -(a * offsets[:, 0] + b * offsets[:, 1])], axis=1).ravel()
    out = np.zeros((k, len(step) + 1), dtype=np.int64)
    for g in range(k):
        tables = np.flatnonzero((g + step) % k < g)
        out[g, 0], out[g, 1:1 + len(tables)] = len(tables), tables
    return out


def sweep(scores, labels, theta, offsets, bases, schedule, weights=None):
    _scan(scores, labels, *_tables(theta), offsets, bases, SAMPLE, schedule, weights=weights)
    return labels


def train_step(scores, labels, theta, offsets, bases, schedule, weights=None):
    """Sweeps and pair counts (backends/generic.py's train_step). The last chromatic sweep counts
    each edge as it draws its later end: about what a pass of its own costs on one thread, and
    no parallel region to start, which on a busy machine costs milliseconds (bench_sampler.py).
    With weights the weighted counts take a pass of their own (weighted_pair_counts: float sums
    in an order that does not depend on the threads)."""
    forward, backward = _tables(theta)
    fused = schedule == "chromatic" and weights is None
    for s, row in enumerate(bases):
        counts = _scan(scores, labels, forward, backward, offsets, row, SAMPLE, schedule, fused and s == len(bases) - 1,
                       weights)[1]
    if weights is not None:
        return weighted_pair_counts(labels, weights, offsets, scores.shape[1])
    return counts if fused else pair_counts(labels, offsets, scores.shape[1])


def icm(scores, labels, theta, offsets, iterations, weights=None):
    forward, backward = _tables(theta)
    unused = np.zeros(len(labels), dtype=np.uint64)
    for _ in range(iterations):
        if _scan(scores, labels, forward, backward, offsets, unused, IMPROVE, "chromatic", weights=weights)[0] == 0:
            break
    return labels


def conditionals(scores, labels, theta, offsets, weights=None):
    out = np.empty(scores.shape, dtype=np.float32)
    _conditionals(scores, labels, *_tables(theta), offsets, out, _weights(weights, labels))
    return out


def count(counts, labels):
    """counts (N, L, H, W) int32 += one-hot(labels)."""
    n, num_labels, h, w = counts.shape
    _count(counts.reshape(n, num_labels, h * w), labels.reshape(n, h * w))


def pair_counts(labels, offsets, num_labels):
    """(C, L, L) int64 counts[c, y_i, y_{i+d_c}] of labels (N, H, W): sampler.stats.pair_counts."""
    pairs = _partial_counts(labels.size, len(offsets), num_labels)
    _pair_counts(labels, offsets, pairs)
    return pairs.sum(axis=0, dtype=np.int64)


def weighted_pair_counts(labels, weights, offsets, num_labels):
    """(C, K, L, L) float64: sampler.stats.weighted_pair_counts (up to the order of the float sums)."""
    out = np.zeros((len(labels), len(offsets), weights.shape[1], num_labels, num_labels))
    _weighted_pair_counts(labels, weights, offsets, out)
    return out.sum(axis=0)


def meanfield(scores, theta, offsets, iterations, damping, weights=None):
    """numpy_backend's, with the field by Numba kernels (sampler/field_kernels.py)."""
    from .. import mean_field  # here: field_kernels uses lbp_kernels, which imports this module

    return mean_field.meanfield(np, scores, theta, offsets, iterations, damping, weights, kernels=True)
