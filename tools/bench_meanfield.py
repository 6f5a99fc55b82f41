#!/usr/bin/env python
"""Speed of mean field on the CPU, the field by Numba kernels (backend numba: sampler/field_kernels.py)
against its NumPy form (backend numpy), taking turns: inference per image (10 iterations) and one
unrolled mean-field learning step (T = 5, value and gradients) at batch 8, stationary and with
image-dependent factors (K = 2), at L = 20, 120x160, sparse:1,2,4,8,16,32.

    python tools/bench_meanfield.py
"""
import statistics
import sys
import time

import numpy as np

import sampler
from experiments import cli
from sampler.learning import UnrolledMeanField

BACKENDS = ("numpy", "numba")


def parse_args(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--height", type=cli.positive_int, default=120)
    p.add_argument("--width", type=cli.positive_int, default=160)
    p.add_argument("--labels", type=cli.positive_int, default=20)
    p.add_argument("--batch", type=cli.positive_int, default=8, help="images of the learning step")
    p.add_argument("--repeats", type=cli.positive_int, default=3, help="timed calls each (median reported)")
    return p.parse_args(argv)


def learning_step(scores, labels, theta, offsets, backend, weights):
    UnrolledMeanField(scores, labels, theta, offsets, iterations=5, backend=backend, weights=weights).gradients()


def run(args):
    g = np.random.default_rng(0)
    offsets = sampler.parse_edges("sparse:1,2,4,8,16,32")
    n, num_labels, h, w = args.batch, args.labels, args.height, args.width
    scores = g.normal(0, 3, (n, num_labels, h, w)).astype(np.float32)
    labels = g.integers(0, num_labels, (n, h, w)).astype(np.uint8)
    stationary = g.normal(0, 0.3, (len(offsets), num_labels, num_labels)).astype(np.float32)
    models = {"stationary": (stationary, None),
              "K=2": (np.stack([stationary, -stationary], axis=1), g.uniform(0, 1, (n, 2, h, w)).astype(np.float32))}
    print(f"mean field, L={num_labels}, {h}x{w}, {len(offsets)} edge classes; median of {args.repeats}, taking turns")
    for model, (theta, weights) in models.items():
        one = None if weights is None else weights[:1]
        calls = {"inference per image": lambda b: sampler.meanfield(scores[:1], theta, offsets, iterations=10,
                                                                     backend=b, weights=one),
                 f"learning step, batch {n}": lambda b: learning_step(scores, labels, theta, offsets, b, weights)}
        for name, call in calls.items():
            call("numba")  # compile (or load the cache) outside the timing
            seconds = {backend: [] for backend in BACKENDS}
            for repeat in range(args.repeats):
                for backend in (BACKENDS if repeat % 2 else reversed(BACKENDS)):
                    start = time.perf_counter()
                    call(backend)
                    seconds[backend].append(time.perf_counter() - start)
            medians = {backend: statistics.median(s) for backend, s in seconds.items()}
            print(f"  {model:<10} {name:<24}" + "   ".join(f"{b} {t:.3f} s" for b, t in medians.items())
                  + f"   speed-up {medians['numpy'] / medians['numba']:.2f}x")


def main(argv=None):
    args = parse_args(argv)
    return cli.run("bench_meanfield.py", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
