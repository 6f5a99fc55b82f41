"""GPU backend: CuPy with the CUDA kernels of cupy_kernels.cu (compiled by NVRTC on first use).

Importing this module never needs CuPy; `available()` is true only where CuPy imports, a CUDA
device is visible and the kernels compile (`REASON` says why not otherwise).

Registry functions (numpy_backend's signatures, NumPy in and out, one upload and one download
per call): sweep, icm, conditionals, meanfield, pair_counts, and the whole-chain operations
train_step and marginal_counts, which keep the chain on the device for all their sweeps and
count on the device too. `Model` is the device-resident form that the benchmark times: arrays
stay on the device across sweeps.

Chromatic sweep = one kernel launch per colour, all images of the batch in that launch
(grid-stride over (image, pixel of the colour)); each block first copies the pairwise tables
(2 x C x L x Lp float32: theta transposed for the forward neighbour and theta as is for the
backward one, rows padded to Lp = 4k floats for 16-byte loads, then the rows' max |entry|)
into shared memory. Scores are
re-ordered once per Model into colour-major pixel order, so a colour reads a contiguous slice
and every score is read from DRAM once per sweep. Uniforms come from sampler/rng.py's counter
hash computed on the device from the per-image base (N uint64 per sweep, no per-pixel host
randomness). The labels drawn are exactly numpy_backend.draw's float64 ones (see the .cu);
raster sweeps run one thread per image (exact but slow; for tests).

Image-dependent factors (weights, sampler/gating.py): K tables per class in the same layout, and
the halved weights (N, K, H*W) on the device in pixel order; each thread forms its edges' weights.
"""
import functools
import pathlib

import numpy as np

from .. import gating, grid
from .. import mean_field
from ..colouring import schedule_plan
from ..stats import weighted_pair_counts

SOURCE = pathlib.Path(__file__).with_name("cupy_kernels.cu")
OPTIONS = ("--std=c++17", "--fmad=false")  # no contraction into FMA: float64 bits as in NumPy
SAMPLE, SAMPLE_EXACT, IMPROVE = 0, 1, 2  # kernel modes; SAMPLE_EXACT skips the float32 fast path
BLOCK = 256
REASON = None  # why available() is False


def _cupy():
    import cupy
    return cupy


@functools.lru_cache(maxsize=None)
def available():
    global REASON
    try:
        cp = _cupy()
    except Exception as e:  # ImportError, or a broken CUDA install raising at import
        REASON = f"CuPy does not import ({type(e).__name__}: {e})"
        return False
    try:
        devices = cp.cuda.runtime.getDeviceCount()
    except Exception as e:
        REASON = f"no usable CUDA device ({type(e).__name__}: {e})"
        return False
    if devices < 1:
        REASON = "no CUDA device"
        return False
    try:
        _kernel(2, "gibbs_colour")
    except Exception as e:  # NVRTC missing or the source does not compile: say so, do not crash "auto"
        REASON = f"the CUDA kernels do not compile ({type(e).__name__}: {e})"
        return False
    return True


@functools.lru_cache(maxsize=None)
def _module(num_labels):
    """The kernels for L labels (L is a template parameter: logits live in registers)."""
    names = [f"{k}<{num_labels}>" for k in ("gibbs_colour", "gibbs_raster", "conditionals")]
    return _cupy().RawModule(code=SOURCE.read_text(), options=OPTIONS, name_expressions=names)


@functools.lru_cache(maxsize=None)
def _kernel(num_labels, name):
    if name in ("count_onehot", "pair_counts"):
        return _module(2).get_function(name)
    return _module(num_labels).get_function(f"{name}<{num_labels}>")


@functools.lru_cache(maxsize=None)
def _device_limits():
    runtime = _cupy().cuda.runtime
    device = runtime.getDevice()
    return tuple(runtime.deviceGetAttribute(getattr(runtime, f"cudaDevAttr{name}"), device) for name in
                 ("MultiProcessorCount", "MaxSharedMemoryPerBlockOptin", "MaxSharedMemoryPerMultiprocessor"))


def _grid(items, block, shared=0, per_sm=8):
    """Blocks for a grid-stride loop: enough to fill the device, no more (each block stages tables)."""
    sms, _, smem_per_sm = _device_limits()
    if shared:
        per_sm = max(1, min(per_sm, smem_per_sm // (shared + 1024)))
    return max(1, min(-(-items // block), sms * per_sm))


def _resident(kernel, block, shared):
    """Blocks of this kernel that fit on one SM at once (registers, shared memory), or 8 if unknown."""
    try:
        from cupy_backends.cuda.api import driver
        return max(1, driver.occupancyMaxActiveBlocksPerMultiprocessor(kernel.kernel.ptr, block, shared))
    except Exception:  # noqa: BLE001 - an estimate only; _grid also bounds it by shared memory
        return 8


def host_tables(theta):
    """(flat float32 tables, Lp): (2, C, L, Lp) theta[c].T then theta[c], rows zero-padded to Lp
    (a multiple of 4, for 16-byte loads), then (2, C, L) each row's max |entry| (for the error bound);
    theta (C, K, L, L): (2, C, K, L, Lp), then (2, C, K, L)."""
    tables_in = theta if theta.ndim == 4 else theta[:, None]
    num_classes, per_class, num_labels, _ = tables_in.shape
    lp = -(-num_labels // 4) * 4
    tables = np.zeros((2, num_classes, per_class, num_labels, lp), dtype=np.float32)
    tables[0, ..., :num_labels] = tables_in.transpose(0, 1, 3, 2)
    tables[1, ..., :num_labels] = tables_in
    return np.concatenate([tables.ravel(), np.abs(tables).max(axis=4).ravel()]), lp


class Model:
    """One model on the device: scores (colour-major for chromatic), padded tables, offsets.

    scores (N, L, H, W) float32, theta (C, L, L) float32 (NumPy or CuPy), offsets (C, 2) int;
    or theta (C, K, L, L) with weights (N, K, H, W) float32 (NumPy).
    """

    def __init__(self, scores, theta, offsets, schedule="chromatic", weights=None):
        cp = _cupy()
        scores = cp.asarray(scores, dtype=cp.float32)
        self.n, self.num_labels, self.h, self.w = n, num_labels, h, w = scores.shape
        if n * h * w >= 2**31:
            raise ValueError(f"scores: at most 2**31 - 1 pixels per batch on the GPU, got shape {scores.shape}")
        offsets = np.asarray(offsets, dtype=np.int64)
        self.num_classes, self.schedule = len(offsets), schedule
        self.offsets = cp.asarray(offsets.astype(np.int32))
        theta_host = cp.asnumpy(theta) if isinstance(theta, cp.ndarray) else np.asarray(theta)
        tables, self.lp = host_tables(theta_host)
        self.tables = cp.asarray(tables)
        self.per_class = 0 if weights is None else weights.shape[1]
        self.halves = cp.asarray(np.zeros(1, np.float32) if weights is None else gating.halves(weights))
        order, starts = schedule_plan(grid.key(offsets), h, w, schedule)
        self.starts = starts.tolist()
        flat = scores.reshape(n, num_labels, h * w)
        if schedule == "chromatic":
            self.order = cp.asarray(order.astype(np.int32))
            self.scores = cp.ascontiguousarray(cp.take(flat, self.order, axis=2))
        else:
            self.order, self.scores = None, cp.ascontiguousarray(flat)
        _, optin, _ = _device_limits()
        self.use_smem = tables.nbytes <= optin
        self.shared = tables.nbytes if self.use_smem else 0
        kernel = _kernel(num_labels, "gibbs_colour")
        # big tables: fewer blocks fit on an SM, so make each larger (as far as registers allow)
        self.block = min(512 if self.shared > 48 * 1024 else BLOCK, kernel.max_threads_per_block // 32 * 32)
        if self.shared > 48 * 1024:
            kernel.max_dynamic_shared_size_bytes = self.shared
        self.per_sm = _resident(kernel, self.block, self.shared)
        self.counter = cp.zeros(1, dtype=cp.int32)

    def sweep(self, labels, bases, mode=SAMPLE):
        """One sweep of labels (N, H, W) uint8 CuPy, in place; bases (N,) uint64 CuPy.

        Returns nothing (no synchronisation); self.counter accumulates the pixels that took
        the float64 path (sampling) or the labels changed (IMPROVE).
        """
        i32 = np.int32
        n, num_labels, h, w = self.n, self.num_labels, self.h, self.w
        common = (i32(n), i32(h), i32(w), i32(self.num_classes), i32(self.per_class), i32(self.lp))
        if self.schedule == "raster":
            kernel = _kernel(num_labels, "gibbs_raster")
            block = 32
            kernel((-(-n // block),), (block,), (self.scores, labels, self.tables, self.offsets, bases, self.halves,
                                                  *common, i32(mode), self.counter))
            return
        kernel, shared = _kernel(num_labels, "gibbs_colour"), self.shared
        for q0, q1 in zip(self.starts[:-1], self.starts[1:]):
            items = n * (q1 - q0)
            kernel((_grid(items, self.block, shared, self.per_sm),), (self.block,),
                   (self.scores, labels, self.tables, self.offsets, self.order, bases, self.halves, *common, i32(q0),
                    i32(q1 - q0), i32(self.use_smem), i32(mode), self.counter),
                   shared_mem=shared)

    def conditionals(self, labels):
        """(N, L, H, W) float32 CuPy log-conditionals; needs a raster-order Model (natural scores)."""
        cp = _cupy()
        assert self.schedule == "raster", "conditionals read scores in natural pixel order"
        n, num_labels, h, w = self.n, self.num_labels, self.h, self.w
        out = cp.empty((n, num_labels, h, w), dtype=cp.float32)
        i32 = np.int32
        _kernel(num_labels, "conditionals")((_grid(n * h * w, BLOCK),), (BLOCK,), (
            self.scores, labels, self.tables, self.offsets, self.halves, i32(n), i32(h), i32(w), i32(self.num_classes),
            i32(self.per_class), i32(self.lp), out))
        return out


def count_device(counts, labels):
    """counts (N, L, H, W) int32 CuPy += one-hot(labels (N, H, W) uint8 CuPy)."""
    n, num_labels, h, w = counts.shape
    _kernel(2, "count_onehot")((_grid(n * h * w, BLOCK),), (BLOCK,),
                               (counts, labels, np.int32(n), np.int32(num_labels), np.int64(h * w)))


def pair_counts_device(labels, offsets, num_labels):
    """(C, L, L) uint64 CuPy counts[c, y_i, y_{i+d_c}] of labels (N, H, W) uint8 CuPy."""
    cp = _cupy()
    n, h, w = labels.shape
    offsets = np.asarray(offsets, dtype=np.int64)
    out = cp.zeros((len(offsets), num_labels, num_labels), dtype=cp.uint64)
    bins = out.size * 4
    use_smem = bins <= 48 * 1024
    shared = bins if use_smem else 0
    i32 = np.int32
    _kernel(2, "pair_counts")((_grid(n * h * w, BLOCK, shared, per_sm=4),), (BLOCK,), (
        cp.ascontiguousarray(labels), cp.asarray(offsets.astype(np.int32)), i32(n), i32(h), i32(w),
        i32(len(offsets)), i32(num_labels), out, i32(use_smem)), shared_mem=shared)
    return out


# --- registry functions: NumPy in, NumPy out --------------------------------------------------

def sweep(scores, labels, theta, offsets, bases, schedule, weights=None):
    cp = _cupy()
    device = cp.asarray(labels)
    Model(scores, theta, offsets, schedule, weights).sweep(device, cp.asarray(bases))
    labels[...] = device.get()
    return labels


def train_step(scores, labels, theta, offsets, bases, schedule, weights=None):
    """len(bases) sweeps ((S, N) uint64, one row per sweep) of labels, in place, then their pair
    counts: one upload, the counts on the device, one download of labels and counts. With weights,
    the weighted counts are summed on the host after the download (float sums in a fixed order)."""
    cp = _cupy()
    model = Model(scores, theta, offsets, schedule, weights)
    device, bases = cp.asarray(labels), cp.asarray(bases)
    for row in bases:
        model.sweep(device, row)
    if weights is not None:
        labels[...] = device.get()
        return weighted_pair_counts(labels, weights, offsets, scores.shape[1])
    counts = pair_counts_device(device, offsets, scores.shape[1])
    labels[...] = device.get()
    return counts.get().astype(np.int64)


def marginal_counts(scores, labels, theta, offsets, bases, burn_in, schedule, weights=None):
    """(N, L, H, W) int32 label counts over sweeps burn_in.. of len(bases) sweeps, sweep s using
    bases[s] ((S, N) uint64): api.marginals' loop with the chain kept on the device."""
    cp = _cupy()
    model = Model(scores, theta, offsets, schedule, weights)
    device, bases = cp.asarray(labels), cp.asarray(bases)
    counts = cp.zeros(scores.shape, dtype=cp.int32)
    for s in range(len(bases)):
        model.sweep(device, bases[s])
        if s >= burn_in:
            count_device(counts, device)
    return counts.get()


def icm(scores, labels, theta, offsets, iterations, weights=None):
    cp = _cupy()
    model = Model(scores, theta, offsets, "chromatic", weights)
    device = cp.asarray(labels)
    unused = cp.zeros(len(labels), dtype=cp.uint64)
    for _ in range(iterations):
        model.counter.fill(0)
        model.sweep(device, unused, IMPROVE)
        if int(model.counter.get()[0]) == 0:  # one scalar download per pass
            break
    labels[...] = device.get()
    return labels


def conditionals(scores, labels, theta, offsets, weights=None):
    cp = _cupy()
    return Model(scores, theta, offsets, "raster", weights).conditionals(cp.asarray(labels)).get()


def pair_counts(labels, offsets, num_labels):
    """sampler.stats.pair_counts on the device: (C, L, L) int64 NumPy."""
    return pair_counts_device(_cupy().asarray(labels), offsets, num_labels).get().astype(np.int64)


def meanfield(scores, theta, offsets, iterations, damping, weights=None):
    cp = _cupy()
    weights = None if weights is None else cp.asarray(weights)
    return mean_field.meanfield(cp, cp.asarray(scores), cp.asarray(theta), offsets, iterations, damping, weights).get()
