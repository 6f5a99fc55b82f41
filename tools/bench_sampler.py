#!/usr/bin/env python
"""Speed of sampler.sweep: Mpixel-sweeps/s per backend, schedule and edge set, and how the time
of one sweep grows with pixels, labels and edge classes (log-log exponents).

    python tools/bench_sampler.py            # L=20, 120x160, batch 16 (the training setting)
    python tools/bench_sampler.py --quick    # smaller and fewer repeats, a smoke run
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sampler  # noqa: E402

EDGE_SETS = ("window:1", "window:2", "window:3", "sparse:1,2,4,8")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", action="append", choices=sampler.available_backends(),
                   help="backend to time (repeatable; default: all available here)")
    p.add_argument("--schedule", action="append", choices=("chromatic", "raster"),
                   help="schedule to time (repeatable; default: both)")
    p.add_argument("--labels", type=int, default=20)
    p.add_argument("--height", type=int, default=120)
    p.add_argument("--width", type=int, default=160)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5, help="timed sweeps per cell (median reported)")
    p.add_argument("--store-images", type=int, default=5000, help="training images, for the chain-store size")
    p.add_argument("--threads", type=int, help="numba threads (default: numba's default)")
    p.add_argument("--quick", action="store_true", help="60x80 images, 2 repeats, no NumPy raster, short scaling")
    args = p.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be positive")
    for name in ("labels", "height", "width", "batch", "repeats", "store_images"):
        least = 2 if name == "labels" else 1
        if getattr(args, name) < least:
            p.error(f"--{name.replace('_', '-')} must be at least {least}")
    if args.quick:
        args.height, args.width, args.repeats = 60, 80, 2
    return args


def seconds_per_sweep(backend, schedule, edges, n, num_labels, h, w, repeats):
    """Median wall time of one sweep, after one untimed sweep (compilation, caches)."""
    g = np.random.default_rng(0)
    offsets = sampler.parse_edges(edges)
    scores = g.normal(size=(n, num_labels, h, w)).astype(np.float32)
    theta = (0.3 * g.normal(size=(len(offsets), num_labels, num_labels))).astype(np.float32)
    labels = scores.argmax(axis=1).astype(np.uint8)
    times = []
    for step in range(repeats + 1):
        start = time.perf_counter()
        labels = sampler.sweep(scores, labels, theta, offsets, step=step, backend=backend, schedule=schedule)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def exponent(xs, times):
    return np.polyfit(np.log(xs), np.log(times), 1)[0]


def main(argv=None):
    args = parse_args(argv)
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
    print(f"\n{'edges':<16}{'C':>4}{'colours':>8}  {'backend':<8}{'schedule':<10}{'s/sweep':>10}{'Mpix-sweeps/s':>15}")
    table = {}
    for edges in EDGE_SETS:
        offsets = sampler.parse_edges(edges)
        for backend in backends:
            for schedule in schedules:
                if backend == "numpy" and schedule == "raster" and args.quick:
                    continue
                repeats = 1 if (backend, schedule) == ("numpy", "raster") else args.repeats
                t = seconds_per_sweep(backend, schedule, edges, n, num_labels, h, w, repeats)
                table[edges, backend, schedule] = t
                print(f"{edges:<16}{len(offsets):>4}{sampler.colouring(offsets)[2]:>8}  {backend:<8}{schedule:<10}"
                      f"{t:>10.4f}{pixels / t / 1e6:>15.2f}", flush=True)
    if "numpy" in backends and "numba" in backends and "chromatic" in schedules:
        print("\nspeed-up of numba chromatic over numpy chromatic (same inputs, this run; target >= 25x):")
        for edges in EDGE_SETS:
            print(f"  {edges:<16}{table[edges, 'numpy', 'chromatic'] / table[edges, 'numba', 'chromatic']:8.1f}x")
    scaling(args, backends[0] if "numba" not in backends else "numba")


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


if __name__ == "__main__":
    main()
