"""Speed of sampler.sweep (tools/bench_sampler.py): Mpixel-sweeps/s per backend, schedule and
edge set against the CPU's arithmetic bound, whole-chain operations, image-dependent factors
against the stationary model, a paired comparison with another commit's sampler, the GPU
roofline, and how a sweep's time grows with pixels, labels and edge classes (log-log exponents).
Every function prints its table to stdout.
"""
import os
import statistics
import time

import numpy as np

import sampler

EDGE_SETS = ("window:1", "window:2", "window:3", "sparse:1,2,4,8", "sparse:1,2,4,8,16,32")  # the last: the default CRF
GATED_TABLES = 2  # K of the image-dependent row
GATED_TARGET = 1.6  # issue 21: a K = 2 sweep costs at most 1.6x the stationary one


def model_inputs(edges, n, num_labels, h, w):
    """(offsets, scores, theta, argmax labels): the benchmark's random model, the same every call."""
    g = np.random.default_rng(0)
    offsets = sampler.parse_edges(edges)
    scores = g.normal(size=(n, num_labels, h, w)).astype(np.float32)
    theta = (0.3 * g.normal(size=(len(offsets), num_labels, num_labels))).astype(np.float32)
    return offsets, scores, theta, scores.argmax(axis=1).astype(np.uint8)


def seconds_per_sweep(backend, schedule, edges, n, num_labels, h, w, repeats, cores=None):
    """Median wall time of one sweep, after one untimed sweep (compilation, caches). If a list is
    given as cores, appends the median of process CPU time / wall time: the cores this process
    actually got (below the thread count on a machine busy with other jobs)."""
    offsets, scores, theta, labels = model_inputs(edges, n, num_labels, h, w)
    times, used = [], []
    for step in range(repeats + 1):
        start, cpu = time.perf_counter(), time.process_time()
        labels = sampler.sweep(scores, labels, theta, offsets, step=step, backend=backend, schedule=schedule)
        times.append(time.perf_counter() - start)
        used.append((time.process_time() - cpu) / times[-1])
    if cores is not None:
        cores.append(statistics.median(used[1:]))
    return statistics.median(times[1:])


def exponent(xs, times):
    return np.polyfit(np.log(xs), np.log(times), 1)[0]


def run(args):
    """The whole benchmark for the parsed command line `args` (tools/bench_sampler.py)."""
    if args.baseline:
        return against_baseline(args)
    if args.gated:
        gated_versus_stationary(args)
        return
    backends = args.backend or sampler.available_backends()
    schedules = args.schedule or ["chromatic", "raster"]
    n, num_labels, h, w = args.batch, args.labels, args.height, args.width
    pixels = n * h * w
    threads = None
    if "numba" in backends:
        import numba
        if args.threads:
            numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
        threads = numba.get_num_threads()
    print(f"batch {n}, {h}x{w}, L={num_labels}, {args.repeats} timed sweeps per cell (median); "
          f"numba threads {threads}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"chain store: N*H*W = {args.store_images}*{h}*{w} bytes = {args.store_images * h * w / 2**20:.1f} MiB "
          f"(batch of {n}: {sampler.ChainStore(n, h, w, num_labels).nbytes} bytes)")
    print(f"\n{'edges':<22}{'C':>4}{'colours':>8}  {'backend':<8}{'schedule':<10}{'s/sweep':>10}{'Mpix-sweeps/s':>15}"
          f"{'cores used':>12}")
    table = {}
    for edges in EDGE_SETS:
        offsets = sampler.parse_edges(edges)
        for backend in backends:
            for schedule in schedules:
                if backend == "numpy" and schedule == "raster" and args.quick:
                    continue
                repeats = 1 if (backend, schedule) == ("numpy", "raster") else args.repeats
                cores = []
                t = seconds_per_sweep(backend, schedule, edges, n, num_labels, h, w, repeats, cores)
                table[edges, backend, schedule] = t
                print(f"{edges:<22}{len(offsets):>4}{sampler.colouring(offsets)[2]:>8}  {backend:<8}{schedule:<10}"
                      f"{t:>10.4f}{pixels / t / 1e6:>15.2f}{cores[0]:>12.2f}", flush=True)
    if "numba" in backends and "chromatic" in schedules:
        arithmetic_bound(args, table, threads)
        whole_chain(args)
        gated_versus_stationary(args)
    if "numpy" in backends and "numba" in backends and "chromatic" in schedules:
        print("\nspeed-up of numba chromatic over numpy chromatic (same inputs, this run; target >= 25x):")
        for edges in EDGE_SETS:
            print(f"  {edges:<22}{table[edges, 'numpy', 'chromatic'] / table[edges, 'numba', 'chromatic']:8.1f}x")
    if "cupy" in backends and "chromatic" in schedules:
        cupy_roofline(args, table)
    scaling(args, backends[0] if "numba" not in backends else "numba")


def against_baseline(args):
    """Numba chromatic sweeps of the default CRF, this sampler and the one in args.baseline taking
    turns on the same inputs (a busy machine slows both alike): median wall and process CPU time."""
    import numba

    from .baseline import load
    if args.threads:
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    baseline = load(args.baseline)
    n, num_labels, h, w = args.batch, args.labels, args.height, args.width
    offsets, scores, theta, labels = model_inputs(EDGE_SETS[-1], n, num_labels, h, w)
    samplers = {"baseline": baseline, "this": sampler}
    first = {name: module.sweep(scores, labels, theta, offsets, backend="numba") for name, module in samplers.items()}
    wall, cpu = {name: [] for name in samplers}, {name: [] for name in samplers}
    for step in range(1, 2 * args.repeats + 1):
        for name in (samplers if step % 2 else reversed(list(samplers))):
            start, clock = time.perf_counter(), time.process_time()
            samplers[name].sweep(scores, labels, theta, offsets, step=step, backend="numba")
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - clock)
    pixels = n * h * w
    print(f"numba chromatic, {EDGE_SETS[-1]}, batch {n}, {h}x{w}, L={num_labels}, {numba.get_num_threads()} threads, "
          f"{2 * args.repeats} sweeps each, alternating; first sweeps identical: "
          f"{np.array_equal(first['baseline'], first['this'])}")
    for name in samplers:
        t, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"  {name:<9} {pixels / t / 1e6:7.2f} Mpix-sweeps/s   {c / pixels * 1e9:7.1f} CPU ns per pixel-sweep")
    print(f"  speed-up: {statistics.median(wall['baseline']) / statistics.median(wall['this']):.2f}x wall, "
          f"{statistics.median(cpu['baseline']) / statistics.median(cpu['this']):.2f}x CPU time")
    cpu = {name: [] for name in samplers}
    for repeat in range(args.repeats):
        for name in (samplers if repeat % 2 else reversed(list(samplers))):
            clock = time.process_time()
            samplers[name].marginals(scores, theta, offsets, burn_in=5, samples=10, seed=repeat, backend="numba")
            cpu[name].append(time.process_time() - clock)
    print(f"marginals (burn_in 5, samples 10), {args.repeats} calls each, median process CPU time: "
          + ", ".join(f"{name} {statistics.median(cpu[name]):.3f} s" for name in samplers))


def whole_chain(args):
    """A learning step's sampling on the numba backend, default CRF: one sweep; train_step with one
    sweep (the pair counts made while the sweep draws); a sweep then pair_counts (a pass of its
    own, numba's or numpy's). Taking turns on the same inputs, median of args.repeats each."""
    n, num_labels, h, w = args.batch, args.labels, args.height, args.width
    offsets, scores, theta, labels = model_inputs(EDGE_SETS[-1], n, num_labels, h, w)
    kw = dict(backend="numba")
    ways = {
        "sweep": lambda step: sampler.sweep(scores, labels, theta, offsets, step=step, **kw),
        "train_step(sweeps=1)": lambda step: sampler.train_step(scores, labels, theta, offsets, step=step, **kw),
        "sweep + pair_counts": lambda step: sampler.pair_counts(
            sampler.sweep(scores, labels, theta, offsets, step=step, **kw), offsets, num_labels, **kw),
        "sweep + numpy pair_counts": lambda step: sampler.pair_counts(
            sampler.sweep(scores, labels, theta, offsets, step=step, **kw), offsets, num_labels, backend="numpy"),
    }
    times = {name: [] for name in ways}
    for step in range(args.repeats + 1):
        for name, way in ways.items():
            start = time.perf_counter()
            way(step)
            if step:
                times[name].append(time.perf_counter() - start)
    print(f"\nnumba, {EDGE_SETS[-1]}, batch {n}: a learning step's sampling (median ms, taking turns)")
    for name, t in times.items():
        print(f"  {name:<26}{statistics.median(t) * 1e3:8.2f}")


def gated_inputs(n, num_labels, h, w, per_class=GATED_TABLES):
    """(theta (C, K, L, L), weights (N, K, H, W)) of the image-dependent model at the default CRF:
    tables of model_inputs' scale, and weights a softmax over K of random logits (as a Softmax
    branch of the net makes them), the same every call."""
    g = np.random.default_rng(1)
    offsets = sampler.parse_edges(EDGE_SETS[-1])
    theta = (0.3 * g.normal(size=(len(offsets), per_class, num_labels, num_labels))).astype(np.float32)
    logits = g.normal(size=(n, per_class, h, w))
    weights = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return theta, weights.astype(np.float32)


def gated_versus_stationary(args):
    """Numba chromatic sweeps of the default CRF: the stationary model and image-dependent factors
    (GATED_TABLES tables per class mixed by per-pixel weights), taking turns on the same scores and
    labels; median wall time of 3 x args.repeats sweeps each, and their ratio (target: at most
    GATED_TARGET)."""
    n, num_labels, h, w = args.batch, args.labels, args.height, args.width
    offsets, scores, theta, labels = model_inputs(EDGE_SETS[-1], n, num_labels, h, w)
    tables, weights = gated_inputs(n, num_labels, h, w)
    ways = {"stationary": lambda step: sampler.sweep(scores, labels, theta, offsets, step=step, backend="numba"),
            f"K={GATED_TABLES}": lambda step: sampler.sweep(scores, labels, tables, offsets, step=step,
                                                           backend="numba", weights=weights)}
    times = {name: [] for name in ways}
    for step in range(3 * args.repeats + 1):  # the first sweep of each untimed (compilation, caches)
        for name in (ways if step % 2 else reversed(list(ways))):
            start = time.perf_counter()
            ways[name](step)
            if step:
                times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(t) for name, t in times.items()}
    print(f"\nnumba chromatic, {EDGE_SETS[-1]}, batch {n}: image-dependent factors against the stationary model "
          f"(median ms of {3 * args.repeats} sweeps each, taking turns)")
    for name, t in median.items():
        print(f"  {name:<26}{t * 1e3:8.2f}")
    ratio = median[f"K={GATED_TABLES}"] / median["stationary"]
    print(f"  ratio K={GATED_TABLES} / stationary   {ratio:6.2f}x (target <= {GATED_TARGET}x)")
    return ratio


def vector_bits():
    """The widest vector registers of this CPU, from LLVM's view of its features."""
    import llvmlite.binding as llvm
    features = llvm.get_host_cpu_features()
    return 512 if features.get("avx512f") else 256 if features.get("avx") else 128


def clock_ghz(iterations=100_000_000):
    """Cycles per second of one core: a chain of x = (x ^ i) * x takes 4 cycles an iteration
    (64-bit multiply latency 3, xor 1, on AMD Zen and Intel cores); thread CPU time, best of 3."""
    import numba

    @numba.njit
    def chain(n, x):
        for i in range(n):
            x = (x ^ i) * x
        return x

    chain(10, 3)
    best = min(_thread_seconds(chain, iterations, 3) for _ in range(3))
    return 4 * iterations / best / 1e9


def _thread_seconds(function, *args):
    start = time.thread_time()
    function(*args)
    return time.thread_time() - start


def arithmetic_bound(args, table, threads):
    """Numba chromatic throughput against cores * clock * lanes * 2 / (2 C L) (see the docstring)."""
    n, num_labels, h, w = args.batch, args.labels, args.height, args.width
    cores = min(threads, len(os.sched_getaffinity(0)))
    bits, ghz = vector_bits(), clock_ghz()
    lanes = bits // 32
    print(f"\nnumba against the arithmetic bound: {cores} cores x {ghz:.2f} GHz (measured) x {lanes} float32 "
          f"lanes ({bits}-bit vectors) x 2 additions per cycle / (2 C L additions per pixel-sweep)")
    print(f"{'edges':<22}{'C':>4}{'bound Mpix-sweeps/s':>21}{'reached':>10}")
    for edges in EDGE_SETS:
        classes = len(sampler.parse_edges(edges))
        bound = cores * ghz * 1e9 * lanes * 2 / (2 * classes * num_labels)
        reached = n * h * w / table[edges, "numba", "chromatic"]
        print(f"{edges:<22}{classes:>4}{bound / 1e6:>21.0f}{reached / bound:>10.1%}")


def device_copy_bandwidth(cp, nbytes=2**30, repeats=10):
    """Bytes moved per second (read + written) by a device-to-device cudaMemcpy of nbytes."""
    a, b = cp.ones(nbytes, dtype=cp.uint8), cp.empty(nbytes, dtype=cp.uint8)
    start, stop = cp.cuda.Event(), cp.cuda.Event()
    times = []
    for _ in range(repeats + 1):
        start.record()
        b.data.copy_from_device_async(a.data, nbytes)
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop) / 1e3)
    return 2 * nbytes / statistics.median(times[1:])


def cupy_roofline(args, table):
    """Chromatic sweeps with every array on the device (cupy_backend.Model), the inputs of
    seconds_per_sweep. Bytes that must move between DRAM and the chip per pixel-sweep: the L
    float32 scores read once (4L) and the uint8 label read once and written once (2). Not per
    pixel: theta (shared memory, C*L*L*4 bytes per block), the colour order (4*H*W bytes, shared
    by the batch, L2-resident), the random numbers (a hash of a counter: none), the per-image
    stream bases (8 bytes per image). Neighbour labels come from L2 (the batch's labels are
    N*H*W bytes). Roofline = measured copy bandwidth / (4L + 2) pixel-sweeps per second."""
    import cupy as cp
    from sampler import rng
    from sampler.backends import cupy_backend
    n, num_labels, h, w = args.batch, args.labels, args.height, args.width
    pixels, per_pixel = n * h * w, 4 * num_labels + 2
    bandwidth = device_copy_bandwidth(cp)
    roofline = bandwidth / per_pixel
    name = cp.cuda.runtime.getDeviceProperties(cp.cuda.runtime.getDevice())["name"].decode()
    print(f"\ncupy on the device ({name}): copy bandwidth {bandwidth / 1e9:.0f} GB/s, {per_pixel} bytes per "
          f"pixel-sweep (4L + 2), roofline {roofline / 1e9:.2f} Gpix-sweeps/s; targets: >= 50% of it for "
          f"window:1, >= 100x numba")
    print(f"{'edges':<22}{'C':>4}{'colours':>8}{'ms/sweep':>10}{'Gpix-sweeps/s':>15}{'roofline':>10}"
          f"{'float64 path':>14}{'x numba':>9}")
    for edges in EDGE_SETS:
        offsets, scores, theta, labels = model_inputs(edges, n, num_labels, h, w)
        model = cupy_backend.Model(scores, theta, offsets)
        labels = cp.asarray(labels)
        bases = cp.asarray(np.stack([rng.image_bases(0, np.arange(n), np.full(n, s, np.uint64))
                                     for s in range(args.repeats + 1)]))
        model.sweep(labels, bases[0])  # compiles, warms up
        model.counter.fill(0)
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        for s in range(1, args.repeats + 1):
            model.sweep(labels, bases[s])
        stop.record()
        stop.synchronize()
        t = cp.cuda.get_elapsed_time(start, stop) / 1e3 / args.repeats
        exact = int(model.counter.get()[0]) / (pixels * args.repeats)
        numba_t = table.get((edges, "numba", "chromatic"))
        speedup = f"{numba_t / t:>8.0f}x" if numba_t else f"{'-':>9}"
        print(f"{edges:<22}{len(offsets):>4}{sampler.colouring(offsets)[2]:>8}{t * 1e3:>10.3f}{pixels / t / 1e9:>15.2f}"
              f"{pixels / t / roofline:>10.1%}{exact:>14.3%}{speedup}", flush=True)
        del model, labels, bases


def scaling(args, backend):
    """Time of one chromatic sweep against each size factor, others at the defaults."""
    n, num_labels, h, w = args.batch, args.labels, args.height, args.width
    factors = (1, 2) if args.quick else (1, 2, 4)
    print(f"\nscaling ({backend}, chromatic): log-log exponent of s/sweep (1 = linear)")
    sides = [(h * f // 2, w * f // 2) for f in factors]
    t = [seconds_per_sweep(backend, "chromatic", "window:1", n, num_labels, a, b, args.repeats) for a, b in sides]
    print(f"  pixels        {[a * b for a, b in sides]}: {_fmt(t)} -> exponent {exponent([a * b for a, b in sides], t):.2f}")
    labels = [5 * f for f in factors] + ([40] if not args.quick else [])
    t = [seconds_per_sweep(backend, "chromatic", "window:1", n, k, h, w, args.repeats) for k in labels]
    print(f"  labels        {labels}: {_fmt(t)} -> exponent {exponent(labels, t):.2f}")
    windows = (1, 2) if args.quick else (1, 2, 3, 4)
    classes = [len(sampler.window(r)) for r in windows]
    t = [seconds_per_sweep(backend, "chromatic", f"window:{r}", n, num_labels, h, w, args.repeats) for r in windows]
    print(f"  edge classes  {classes}: {_fmt(t)} -> exponent {exponent(classes, t):.2f}")


def _fmt(times):
    return "[" + ", ".join(f"{t:.4f}" for t in times) + "] s"

