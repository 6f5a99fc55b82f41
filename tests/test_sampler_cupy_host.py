"""The CuPy backend's parts that need no GPU: the registry falls back cleanly without it, the
CUDA source compiles with NVRTC (where the NVRTC library is installed), and the per-pixel maths
of cupy_kernels.cu, compiled for the CPU with g++, gives numpy_backend's sweeps bit for bit,
also with __expf's documented worst-case error injected. The device tests: test_sampler_cupy.py.
"""
import ctypes
import shutil
import subprocess
import sys

import numpy as np
import pytest

import sampler
from sampler import backends, gating, kernelmath, rng, stats
from sampler.backends import cupy_backend, numpy_backend
from sampler.colouring import schedule_plan
from sampler import grid

# --- registry ---------------------------------------------------------------------------------


@pytest.fixture
def fresh_registry():
    backends._load.cache_clear()
    yield
    backends._load.cache_clear()


def test_auto_prefers_cupy_when_available_and_numba_otherwise(monkeypatch, fresh_registry):
    monkeypatch.setattr(cupy_backend, "available", lambda: False)
    assert "cupy" not in sampler.available_backends()
    assert backends.resolve("auto").__name__.endswith(".numba_backend")
    with pytest.raises(ValueError, match="'cupy' is not available"):
        sampler.sweep(np.zeros((1, 2, 2, 2), np.float32), np.zeros((1, 2, 2), np.uint8),
                      np.zeros((1, 2, 2), np.float32), [[0, 1]], backend="cupy")
    backends._load.cache_clear()
    monkeypatch.setattr(cupy_backend, "available", lambda: True)
    assert sampler.available_backends()[0] == "cupy" and backends.resolve("auto") is cupy_backend
    # what cupy leaves out comes from numpy_backend
    assert backends.function(cupy_backend, "count") is numpy_backend.count


def test_available_is_false_with_a_reason_when_cupy_does_not_import(monkeypatch):
    def missing():
        raise ImportError("No module named 'cupy'")
    monkeypatch.setattr(cupy_backend, "_cupy", missing)
    monkeypatch.setattr(cupy_backend, "REASON", None)
    assert cupy_backend.available.__wrapped__() is False
    assert "CuPy does not import" in cupy_backend.REASON


def test_importing_sampler_does_not_import_cupy():
    code = "import sys, sampler, sampler.backends.cupy_backend; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --- the CUDA source compiles ------------------------------------------------------------------

def test_kernels_compile_with_nvrtc():
    """The backend's own compile (RawModule = NVRTC, same options and name expressions), for sm_90,
    without a GPU; skipped where CuPy or the NVRTC library is missing."""
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
    except Exception as e:  # CuPy absent, or libnvrtc not found
        pytest.skip(f"NVRTC not usable here ({type(e).__name__}: {e})")
    program = nvrtc.createProgram(cupy_backend.SOURCE.read_text(), "cupy_kernels.cu", [], [])
    names = [f"{k}<{L}>" for L in (2, 3, 20) for k in ("gibbs_colour", "gibbs_raster", "conditionals")]
    for name in names:
        nvrtc.addNameExpression(program, name)
    try:
        nvrtc.compileProgram(program, list(cupy_backend.OPTIONS) + ["--gpu-architecture=compute_90"])
    except Exception:
        pytest.fail(nvrtc.getProgramLog(program))
    ptx = nvrtc.getPTX(program).decode() if isinstance(nvrtc.getPTX(program), bytes) else nvrtc.getPTX(program)
    for name in ("count_onehot", "pair_counts"):
        assert f".entry {name}(" in ptx
    # --fmad=false: the float64 sampling arithmetic has no fused multiply-add
    sampling = [part for part in ptx.split(".entry")[1:] if "gibbs_colour" in part.split("(")[0]]
    assert sampling and not any("fma.rn.f64" in part for part in sampling)


# --- the per-pixel maths on the CPU ----------------------------------------------------------------

HARNESS = r"""
#include <cmath>
#include <cstring>
static float perturbed_expf(float x) {
  // __expf's documented worst case, 2 + floor(1.173 |x|) ulp, in a direction that varies with x
  float e = expf(x);
  unsigned bits;
  std::memcpy(&bits, &x, 4);
  const int k = 2 + (int)floorf(1.173f * fabsf(x));
  const float to = ((bits * 2654435761u) >> 31) ? INFINITY : 0.0f;
  for (int i = 0; i < k; ++i) e = nextafterf(e, to);
  return e;
}
#include KERNELS

template <int L>
static int sweep_t(const float* scores, u8* labels, const float* tables, const int* off, const int* order,
                   const long* starts, int colours, const u64* bases, const float* halves, int N, int H, int W, int C,
                   int K, int Lp, int mode) {
  // the colour kernel's work done one item after another: within a colour items are independent
  const long P = (long)H * W;
  const int CK = C * (K ? K : 1);
  const float* Tb = tables + (long)CK * L * Lp;
  const float* Rf = tables + 2 * (long)CK * L * Lp;
  int exact_total = 0;
  for (int g = 0; g < colours; ++g)
    for (int n = 0; n < N; ++n)
      for (long q = starts[g]; q < starts[g + 1]; ++q) {
        const int p = order[q], y = p / W, x = p - y * W;
        int exact = 0;
        labels[n * P + p] = (u8)gibbs_pixel<L>(scores + (long)n * L * P + q, P, labels + n * P, H, W, y, x, tables,
                                               Tb, Rf, Rf + CK * L, Lp, off, C, halves + (long)n * K * P, K,
                                               uniform(bases[n], (u64)p), mode, &exact);
        exact_total += exact;
      }
  return exact_total;
}

template <int L>
static int pixel_t(const float* s, long stride, const u8* lab, int H, int W, int y, int x, const float* tables,
                   int Lp, const int* off, int C, const float* hw, int K, double u, int mode, int* exact) {
  const int CK = C * (K ? K : 1);
  const float* Rf = tables + 2 * (long)CK * L * Lp;
  return gibbs_pixel<L>(s, stride, lab, H, W, y, x, tables, tables + (long)CK * L * Lp, Rf, Rf + CK * L, Lp, off, C,
                        hw, K, u, mode, exact);
}

#define DISPATCH(call) switch (L) { case 2: return call(2); case 3: return call(3); case 5: return call(5); \
                                    case 20: return call(20); default: return -1; }
extern "C" int sweep_host(int L, const float* scores, u8* labels, const float* tables, const int* off,
                          const int* order, const long* starts, int colours, const u64* bases, const float* halves,
                          int N, int H, int W, int C, int K, int Lp, int mode) {
#define SWEEP(l) sweep_t<l>(scores, labels, tables, off, order, starts, colours, bases, halves, N, H, W, C, K, Lp, mode)
  DISPATCH(SWEEP)
}
extern "C" int pixel_host(int L, const float* s, long stride, const u8* lab, int H, int W, int y, int x,
                          const float* tables, int Lp, const int* off, int C, const float* hw, int K, double u,
                          int mode, int* exact) {
#define PIXEL(l) pixel_t<l>(s, stride, lab, H, W, y, x, tables, Lp, off, C, hw, K, u, mode, exact)
  DISPATCH(PIXEL)
}
extern "C" double uniform_host(u64 base, u64 pixel) { return uniform(base, pixel); }
extern "C" double exp_neg_host(double x) { return exp_neg(x); }
"""


def _compile(directory, perturb):
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("no g++ here")
    source = directory / "harness.cpp"
    source.write_text(HARNESS)
    library = directory / f"harness{'_perturbed' if perturb else ''}.so"
    flags = [f'-DKERNELS="{cupy_backend.SOURCE}"'] + (["-DFAST_EXPF=perturbed_expf"] if perturb else [])
    subprocess.run([compiler, "-O2", "-std=c++17", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC",
                    *flags, "-o", str(library), str(source)], check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))
    P = ctypes.c_void_p
    i, d, ll, u64 = ctypes.c_int, ctypes.c_double, ctypes.c_long, ctypes.c_uint64
    lib.sweep_host.argtypes = [i, P, P, P, P, P, P, i, P, P, i, i, i, i, i, i, i]
    lib.pixel_host.argtypes = [i, P, ll, P, i, i, i, i, P, i, P, i, P, i, d, i, P]
    lib.uniform_host.argtypes, lib.uniform_host.restype = [u64, u64], d
    lib.exp_neg_host.argtypes, lib.exp_neg_host.restype = [d], d
    return lib


@pytest.fixture(scope="module", params=[False, True], ids=["expf", "worst-case-expf"])
def host(request, tmp_path_factory):
    return _compile(tmp_path_factory.mktemp("cupy_host"), request.param)


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def host_sweep(lib, scores, labels, theta, offsets, bases, schedule, mode=cupy_backend.SAMPLE, weights=None):
    """cupy_backend.Model's inputs built the same way, the kernel's work done by the harness."""
    n, num_labels, h, w = scores.shape
    order, starts = schedule_plan(grid.key(offsets), h, w, schedule)
    flat = scores.reshape(n, num_labels, h * w)
    permuted = np.ascontiguousarray(np.take(flat, order, axis=2))
    tables, lp = cupy_backend.host_tables(theta)
    halves = np.zeros(1, np.float32) if weights is None else gating.halves(weights)
    labels = labels.copy()
    keep = [permuted, tables, order.astype(np.int32), starts.astype(np.int64), offsets.astype(np.int32), bases]
    exact = lib.sweep_host(num_labels, _ptr(keep[0]), _ptr(labels), _ptr(keep[1]), _ptr(keep[4]), _ptr(keep[2]),
                           _ptr(keep[3]), len(starts) - 1, _ptr(bases), _ptr(halves), n, h, w, len(offsets),
                           0 if weights is None else weights.shape[1], lp, mode)
    assert exact >= 0
    return labels, exact


def test_rng_and_exp_neg_match_numpy(host):
    bases = rng.image_bases(2**63 + 5, np.array([-1, 7]), np.array([2**64 - 1, 3], np.uint64))
    for base in bases:
        for pixel in (0, 1, 19199, 2**40 + 3):
            assert host.uniform_host(int(base), pixel) == rng.uniform(base, [pixel])[0]
    x = np.concatenate([-np.geomspace(1e-12, 80, 2000), [0.0, -64.0, -63.999999]])
    assert np.array_equal([host.exp_neg_host(v) for v in x], kernelmath.exp_neg(x))


CASES = [  # (labels, edges, theta scale, H, W, K: 0 stationary, else tables per class mixed by weights)
    (2, "window:1", 1.0, 9, 11, 0), (3, "sparse:1,2", 2.0, 10, 9, 0), (5, [[0, 2], [2, 1], [1, -3]], 1.0, 8, 12, 0),
    (20, "window:2", 0.3, 12, 14, 0), (20, "window:1", 3.0, 12, 14, 0), (5, "window:3", 0.5, 11, 13, 0),
    (2, "window:1", 1.0, 9, 11, 2), (3, "sparse:1,2", 2.0, 10, 9, 3), (20, "window:2", 0.3, 12, 14, 2),
    (5, [[0, 2], [2, 1], [1, -3]], 1.0, 8, 12, 1)]


def weights_for(g, n, per_class, h, w):
    """None for K = 0, else weights around 0.5, some negative."""
    return g.normal(0.5, 0.7, (n, per_class, h, w)).astype(np.float32) if per_class else None


@pytest.mark.parametrize("schedule", ["chromatic", "raster"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"L{c[0]}-{c[1]}-x{c[2]}-K{c[5]}")
def test_kernel_maths_reproduces_numpy_sweeps_bit_for_bit(host, case, schedule):
    num_labels, edges, scale, h, w, per_class = case
    g = np.random.default_rng(num_labels)
    offsets = sampler.parse_edges(edges)
    n = 4
    scores = (2 * g.normal(size=(n, num_labels, h, w))).astype(np.float32)
    shape = (len(offsets),) + ((per_class,) if per_class else ()) + (num_labels, num_labels)
    theta = (scale * g.normal(size=shape)).astype(np.float32)
    labels = g.integers(0, num_labels, (n, h, w)).astype(np.uint8)
    weights = weights_for(g, n, per_class, h, w)
    exact_total = 0
    for step in range(3):
        bases = rng.image_bases(5, np.arange(n), np.full(n, step, np.uint64))
        expected = numpy_backend.sweep(scores, labels.copy(), theta, offsets, bases, schedule, weights=weights)
        for mode in (cupy_backend.SAMPLE, cupy_backend.SAMPLE_EXACT):
            got, exact = host_sweep(host, scores, labels, theta, offsets, bases, schedule, mode, weights)
            assert np.array_equal(got, expected), (mode, np.mean(got != expected))
            if mode == cupy_backend.SAMPLE:
                exact_total += exact
            else:
                assert exact == labels.size
        labels = expected
    assert exact_total < 0.05 * 3 * labels.size  # the float32 path decides almost every pixel


@pytest.mark.parametrize("per_class", [0, 2])
@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0])
def test_draw_is_exact_when_the_uniform_sits_at_a_decision_boundary(host, scale, per_class):
    """Uniforms placed on, and a few ulps or a few 1e-6 relative around, every cumulative sum: the
    certified float32 path must hand every doubtful case to float64, never decide it wrongly
    (with weights too: the products' rounding in the bound)."""
    g = np.random.default_rng(int(scale * 10))
    offsets = sampler.window(1)
    h = w = 3
    certified = fallback = 0
    for num_labels in (3, 20):
        for trial in range(15):
            scores = (2 * g.normal(size=(1, num_labels, h, w))).astype(np.float32)
            shape = (len(offsets),) + ((per_class,) if per_class else ()) + (num_labels, num_labels)
            theta = (scale * g.normal(size=shape)).astype(np.float32)
            labels = g.integers(0, num_labels, (1, h, w)).astype(np.uint8)
            pixel_weights = weights_for(g, 1, per_class, h, w)
            halves = np.zeros(1, np.float32) if pixel_weights is None else gating.halves(pixel_weights)
            model = numpy_backend._Model(scores, theta, offsets, pixel_weights)
            z = model.logits(model.padded(labels), np.array([4]))[0, 0]  # the centre pixel: 8 neighbours
            weights = kernelmath.exp_neg(z - z.max())
            total = kernelmath.lane_sum(weights)
            tables, lp = cupy_backend.host_tables(theta)
            off = offsets.astype(np.int32)
            flat_scores = np.ascontiguousarray(scores.reshape(-1))
            s = ctypes.c_void_p(flat_scores.ctypes.data + 4 * 4)  # scores[0, 0, 1, 1]
            us = []
            for boundary in np.cumsum(weights) / total:
                for rel in (0.0, 1e-7, -1e-7, 1e-6, -1e-6, 1e-5, -1e-5, 1e-4, -1e-4, 1e-3, -1e-3, 0.03, -0.03):
                    u = boundary * (1 + rel)
                    for ulps in (-2, -1, 0, 1, 2):
                        us.append(u + ulps * np.spacing(u))
            for u in us:
                if not 0 <= u < 1:
                    continue
                expected = numpy_backend.draw(z, np.float64(u))
                exact = ctypes.c_int(0)
                got = host.pixel_host(num_labels, s, h * w, _ptr(labels), h, w, 1, 1, _ptr(tables),
                                      lp, _ptr(off), len(offsets), _ptr(halves), per_class, float(u),
                                      cupy_backend.SAMPLE, ctypes.byref(exact))
                assert got == expected, (num_labels, trial, u)
                fallback += exact.value
                certified += 1 - exact.value
    assert certified > 0 and fallback > 0  # both paths were exercised


# --- the kernels and cupy_backend's Python, run on the CPU through a stand-in for CuPy --------------
# The kernels are compiled for the host with the CUDA names defined below; a launch runs one
# thread that does every item of the grid-stride loops (items of one launch are independent),
# or, for the one-thread-per-image raster kernel, every thread in turn. The stand-in CuPy is
# NumPy whose RawModule launches those. This checks argument order and types, the launch
# plumbing, colour order, shared-memory staging and the counters, not the device's scheduling.

EMULATION = r"""
#include <cmath>
#include <cstring>
struct dim3_ { unsigned x; };
static dim3_ threadIdx = {0}, blockIdx = {0}, blockDim = {1}, gridDim = {1};
struct float4 { float x, y, z, w; };
#define __global__
#define __device__
#define __shared__
static inline void __syncthreads() {}
template <class T> static inline T atomicAdd(T* p, T v) { T old = *p; *p += v; return old; }
float smem[1 << 17];
unsigned int hist[1 << 17];
#define EMULATE_KERNELS
#include KERNELS

static void one_thread() { threadIdx.x = blockIdx.x = 0; blockDim.x = gridDim.x = 1; }

#define INSTANTIATE(L) \
extern "C" void gibbs_colour_##L(int, int, const float* s, u8* lab, const float* t, const int* off, const int* order, \
                                 const u64* bases, const float* hw, int N, int H, int W, int C, int K, int Lp, \
                                 int q0, int count, int use_smem, int mode, int* counter) { \
  one_thread(); \
  gibbs_colour<L>(s, lab, t, off, order, bases, hw, N, H, W, C, K, Lp, q0, count, use_smem, mode, counter); } \
extern "C" void gibbs_raster_##L(int grid, int block, const float* s, u8* lab, const float* t, const int* off, \
                                 const u64* bases, const float* hw, int N, int H, int W, int C, int K, int Lp, \
                                 int mode, int* counter) { \
  blockDim.x = block; gridDim.x = grid; \
  for (int b = 0; b < grid; ++b) for (int i = 0; i < block; ++i) { \
    blockIdx.x = b; threadIdx.x = i; gibbs_raster<L>(s, lab, t, off, bases, hw, N, H, W, C, K, Lp, mode, counter); } } \
extern "C" void conditionals_##L(int, int, const float* s, const u8* lab, const float* t, const int* off, \
                                 const float* hw, int N, int H, int W, int C, int K, int Lp, float* out) { \
  one_thread(); conditionals<L>(s, lab, t, off, hw, N, H, W, C, K, Lp, out); }
INSTANTIATE(2) INSTANTIATE(3) INSTANTIATE(4) INSTANTIATE(5) INSTANTIATE(20)
extern "C" void count_onehot_(int, int, int* counts, const u8* labels, int N, int L, long P) {
  one_thread(); count_onehot(counts, labels, N, L, P); }
extern "C" void pair_counts_(int, int, const u8* labels, const int* off, int N, int H, int W, int C, int L, u64* out,
                             int use_smem) {
  one_thread(); pair_counts(labels, off, N, H, W, C, L, out, use_smem); }
"""


class _DeviceArray(np.ndarray):
    """NumPy standing in for a CuPy array."""

    def get(self):
        return np.array(self)


class _Kernel:
    max_threads_per_block = 1024

    def __init__(self, function):
        self.function, self.max_dynamic_shared_size_bytes = function, 0

    def __call__(self, grid, block, args, shared_mem=0):
        assert shared_mem <= max(48 * 1024, self.max_dynamic_shared_size_bytes) and block[0] <= 1024
        converted = [ctypes.c_int(grid[0]), ctypes.c_int(block[0])]
        for a in args:
            if isinstance(a, np.ndarray):
                assert a.flags.c_contiguous
                converted.append(ctypes.c_void_p(a.ctypes.data))
            else:
                converted.append({np.int32: ctypes.c_int, np.int64: ctypes.c_long,
                                  np.float32: ctypes.c_float}[type(a)](a))
        self.function(*converted)


def _fake_cupy(library):
    import types

    def wrap(a):
        return np.asarray(a).view(_DeviceArray)

    class RawModule:
        def __init__(self, code, options, name_expressions=()):
            assert code == cupy_backend.SOURCE.read_text() and "--fmad=false" in options

        def get_function(self, name):
            return _Kernel(getattr(library, name.replace("<", "_").replace(">", "") if "<" in name else name + "_"))

    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 1, getDevice=lambda: 0, deviceGetAttribute=lambda attribute, device: attribute,
        cudaDevAttrMultiProcessorCount=4, cudaDevAttrMaxSharedMemoryPerBlockOptin=227 * 1024,
        cudaDevAttrMaxSharedMemoryPerMultiprocessor=228 * 1024)
    runtime.getDeviceProperties = lambda device: {"name": b"emulated"}
    event = type("Event", (), {"record": lambda self: None, "synchronize": lambda self: None})
    cuda = types.SimpleNamespace(runtime=runtime, Event=event, get_elapsed_time=lambda start, stop: 1.0)
    fake = types.SimpleNamespace(
        ndarray=_DeviceArray, RawModule=RawModule, cuda=cuda,
        asarray=lambda a, dtype=None: a if isinstance(a, _DeviceArray) and dtype in (None, a.dtype) else wrap(
            np.array(a, dtype=dtype)),  # a host array is copied to the device
        asnumpy=lambda a: np.array(a), ascontiguousarray=lambda a: wrap(np.ascontiguousarray(a)),
        take=lambda a, i, axis: wrap(np.take(a, i, axis=axis)),
        zeros=lambda *a, **k: wrap(np.zeros(*a, **k)), empty=lambda *a, **k: wrap(np.empty(*a, **k)),
        concatenate=lambda a, axis: wrap(np.concatenate(a, axis=axis)))
    for name in ("float32", "float64", "int32", "uint8", "uint64", "exp"):
        setattr(fake, name, getattr(np, name))
    return fake


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("no g++ here")
    directory = tmp_path_factory.mktemp("cupy_emulation")
    (directory / "emulation.cpp").write_text(EMULATION)
    subprocess.run([compiler, "-O2", "-std=c++17", "-ffp-contract=off", "-fno-strict-aliasing", "-shared", "-fPIC",
                    f'-DKERNELS="{cupy_backend.SOURCE}"', "-o", str(directory / "emulation.so"),
                    str(directory / "emulation.cpp")], check=True, capture_output=True)
    return ctypes.CDLL(str(directory / "emulation.so"))


@pytest.fixture
def fake_cupy(emulated, monkeypatch):
    fake = _fake_cupy(emulated)
    caches = (cupy_backend._module, cupy_backend._kernel, cupy_backend._device_limits)
    for cache in caches:
        cache.cache_clear()
    monkeypatch.setattr(cupy_backend, "_cupy", lambda: fake)
    yield fake
    for cache in caches:
        cache.cache_clear()


EMULATED = [(2, "window:1", 1.0, 0), (3, "sparse:1,2", 2.0, 0), (5, [[0, 2], [2, 1], [1, -3]], 1.0, 0),
            (20, "window:3", 0.3, 0),  # tables of 80 KB in shared memory
            (3, "sparse:1,2", 2.0, 2), (20, "window:3", 0.3, 2)]  # K = 2: 160 KB


@pytest.mark.parametrize("schedule", ["chromatic", "raster"])
@pytest.mark.parametrize("case", EMULATED, ids=lambda c: f"L{c[0]}-{c[1]}-K{c[3]}")
def test_emulated_backend_sweeps_like_numpy(fake_cupy, case, schedule):
    num_labels, edges, scale, per_class = case
    g = np.random.default_rng(num_labels)
    offsets = sampler.parse_edges(edges)
    scores = (2 * g.normal(size=(3, num_labels, 9, 11))).astype(np.float32)
    shape = (len(offsets),) + ((per_class,) if per_class else ()) + (num_labels, num_labels)
    theta = (scale * g.normal(size=shape)).astype(np.float32)
    labels = g.integers(0, num_labels, (3, 9, 11)).astype(np.uint8)
    weights = weights_for(g, 3, per_class, 9, 11)
    kw = backends.weighted(weights)
    for step in range(2):
        bases = rng.image_bases(5, np.arange(3), np.full(3, step, np.uint64))
        expected = numpy_backend.sweep(scores, labels.copy(), theta, offsets, bases, schedule, **kw)
        got = cupy_backend.sweep(scores, labels.copy(), theta, offsets, bases, schedule, **kw)
        assert np.array_equal(got, expected)
        if not per_class:  # K = 1 with unit weights: the same sweep
            unit = cupy_backend.sweep(scores, labels.copy(), theta[:, None], offsets, bases, schedule,
                                      weights=np.ones((3, 1, 9, 11), np.float32))
            assert np.array_equal(unit, expected)
        labels = expected
    model = cupy_backend.Model(scores, theta, offsets, schedule, weights)
    lp = -(-num_labels // 4) * 4
    assert model.use_smem and model.shared == 4 * 2 * len(offsets) * max(1, per_class) * num_labels * (lp + 1)
    device = fake_cupy.asarray(labels)
    model.sweep(device, fake_cupy.asarray(bases), cupy_backend.SAMPLE_EXACT)
    assert int(model.counter.get()[0]) == labels.size  # every pixel, once


def test_emulated_backend_statistics_and_baselines(fake_cupy):
    g = np.random.default_rng(1)
    offsets = sampler.parse_edges("sparse:1,2")
    scores = (2 * g.normal(size=(3, 4, 10, 12))).astype(np.float32)
    theta = g.normal(size=(len(offsets), 4, 4)).astype(np.float32)
    labels = g.integers(0, 4, (3, 10, 12)).astype(np.uint8)
    assert np.array_equal(cupy_backend.pair_counts(labels, offsets, 4), sampler.pair_counts(labels, offsets, 4))
    many = g.integers(0, 50, (2, 10, 12)).astype(np.uint8)  # 24 * 50 * 50 bins: global atomics, not shared memory
    assert np.array_equal(cupy_backend.pair_counts(many, sampler.window(3), 50),
                          sampler.pair_counts(many, sampler.window(3), 50))
    assert np.allclose(cupy_backend.conditionals(scores, labels, theta, offsets),
                       numpy_backend.conditionals(scores, labels, theta, offsets), atol=1e-6)
    for iterations in (1, 2, 30):
        assert np.array_equal(cupy_backend.icm(scores, labels.copy(), theta, offsets, iterations),
                              numpy_backend.icm(scores, labels.copy(), theta, offsets, iterations))
    assert np.allclose(cupy_backend.meanfield(scores, theta, offsets, 5, 0.5),
                       numpy_backend.meanfield(scores, theta, offsets, 5, 0.5), atol=1e-6)
    # marginals with the chain on the device: api.marginals' numbers
    burn_in, samples = 2, 3
    bases = np.stack([rng.image_bases(4, np.arange(3), np.full(3, s, np.uint64)) for s in range(burn_in + samples)])
    counts = cupy_backend.marginal_counts(scores, scores.argmax(axis=1).astype(np.uint8), theta, offsets, bases,
                                          burn_in, "chromatic")
    expected = sampler.marginals(scores, theta, offsets, burn_in=burn_in, samples=samples, seed=4, backend="numpy")
    assert np.array_equal((counts / np.float32(samples)).astype(np.float32), expected)


def test_emulated_backend_with_weights(fake_cupy):
    """Conditionals, ICM, mean field, marginals and train_step with image-dependent factors:
    numpy_backend's numbers (train_step's weighted counts summed on the host)."""
    g = np.random.default_rng(5)
    offsets = sampler.parse_edges("sparse:1,2")
    scores = (2 * g.normal(size=(3, 4, 10, 12))).astype(np.float32)
    theta = g.normal(size=(len(offsets), 2, 4, 4)).astype(np.float32)
    labels = g.integers(0, 4, (3, 10, 12)).astype(np.uint8)
    weights = weights_for(g, 3, 2, 10, 12)
    assert np.allclose(cupy_backend.conditionals(scores, labels, theta, offsets, weights),
                       numpy_backend.conditionals(scores, labels, theta, offsets, weights), atol=1e-6)
    for iterations in (1, 30):
        assert np.array_equal(cupy_backend.icm(scores, labels.copy(), theta, offsets, iterations, weights),
                              numpy_backend.icm(scores, labels.copy(), theta, offsets, iterations, weights))
    assert np.allclose(cupy_backend.meanfield(scores, theta, offsets, 5, 0.5, weights),
                       numpy_backend.meanfield(scores, theta, offsets, 5, 0.5, weights), atol=1e-6)
    bases = np.stack([rng.image_bases(4, np.arange(3), np.full(3, s, np.uint64)) for s in range(5)])
    counts = cupy_backend.marginal_counts(scores, scores.argmax(axis=1).astype(np.uint8), theta, offsets, bases, 2,
                                          "chromatic", weights)
    expected = sampler.marginals(scores, theta, offsets, burn_in=2, samples=3, seed=4, backend="numpy",
                                 weights=weights)
    assert np.array_equal((counts / np.float32(3)).astype(np.float32), expected)
    got = labels.copy()
    counts = cupy_backend.train_step(scores, got, theta, offsets, bases[:2], "chromatic", weights)
    expected = sampler.train_step(scores, labels, theta, offsets, sweeps=2, seed=4, backend="numpy", weights=weights)
    assert np.array_equal(got, expected[0]) and np.array_equal(counts, expected[1])


@pytest.mark.parametrize("schedule", ["chromatic", "raster"])
def test_emulated_train_step_keeps_the_chain_on_the_device(fake_cupy, monkeypatch, schedule):
    """train_step: one upload of the labels, the sweeps and the pair counts on the device, one
    download of labels and counts; numpy_backend's sweeps and stats.pair_counts bit for bit."""
    g = np.random.default_rng(2)
    offsets = sampler.parse_edges("sparse:1,2")
    scores = (2 * g.normal(size=(3, 5, 10, 12))).astype(np.float32)
    theta = g.normal(size=(len(offsets), 5, 5)).astype(np.float32)
    labels = g.integers(0, 5, (3, 10, 12)).astype(np.uint8)
    bases = np.stack([rng.image_bases(4, np.arange(3), np.full(3, s, np.uint64)) for s in range(3)])
    expected = labels.copy()
    for row in bases:
        expected = numpy_backend.sweep(scores, expected, theta, offsets, row, schedule)
    uploads, downloads = [], []
    asarray, get = fake_cupy.asarray, _DeviceArray.get
    monkeypatch.setattr(fake_cupy, "asarray", lambda a, dtype=None: (
        uploads.append(a.shape) if not isinstance(a, _DeviceArray) else None) or asarray(a, dtype))
    monkeypatch.setattr(_DeviceArray, "get", lambda self: downloads.append(self.shape) or get(self))
    got = labels.copy()
    counts = cupy_backend.train_step(scores, got, theta, offsets, bases, schedule)
    assert np.array_equal(got, expected) and counts.dtype == np.int64
    assert np.array_equal(counts, stats.pair_counts(expected, offsets, 5))
    assert uploads.count(labels.shape) == 1 and uploads.count(bases.shape) == 1
    assert sorted(downloads) == sorted([labels.shape, (len(offsets), 5, 5)])


def test_emulated_backend_serves_the_public_functions(fake_cupy, monkeypatch, fresh_registry):
    """With cupy available, "auto" sends train_step, marginals and pair_counts to its own
    whole-chain and counting functions; results as numpy_backend's."""
    monkeypatch.setattr(cupy_backend, "available", lambda: True)
    assert backends.function(cupy_backend, "pair_counts") is cupy_backend.pair_counts
    assert backends.function(cupy_backend, "train_step") is cupy_backend.train_step
    assert backends.function(cupy_backend, "marginal_counts") is cupy_backend.marginal_counts
    g = np.random.default_rng(3)
    offsets = sampler.parse_edges("window:1")
    scores = g.normal(size=(2, 3, 8, 9)).astype(np.float32)
    theta = g.normal(size=(len(offsets), 3, 3)).astype(np.float32)
    labels = g.integers(0, 3, (2, 8, 9)).astype(np.uint8)
    for backend in ("auto", "numpy"):
        results = [sampler.train_step(scores, labels, theta, offsets, sweeps=2, step=[3, 1], backend=backend),
                   sampler.marginals(scores, theta, offsets, burn_in=1, samples=2, backend=backend),
                   sampler.pair_counts(labels, offsets, 3, backend=backend)]
        if backend == "auto":
            on_device = results
    for a, b in zip(on_device, results):
        for x, y in zip(a if isinstance(a, tuple) else [a], b if isinstance(b, tuple) else [b]):
            assert np.array_equal(x, y) and x.dtype == y.dtype


def test_benchmark_roofline_table_runs(fake_cupy, monkeypatch, capsys):
    import argparse

    from experiments.bench import sweeps as bench
    monkeypatch.setattr(bench, "device_copy_bandwidth", lambda cp: 2e12)
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    args = argparse.Namespace(batch=2, labels=3, height=12, width=16, repeats=2)
    bench.cupy_roofline(args, {("window:1", "numba", "chromatic"): 1.0})
    out = capsys.readouterr().out
    assert "14 bytes per pixel-sweep (4L + 2)" in out and "emulated" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(bench.EDGE_SETS)]
    assert [r[0] for r in rows] == list(bench.EDGE_SETS) and rows[0][-1] == "2000x"  # 1 s against 1 ms / 2 sweeps
