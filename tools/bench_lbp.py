#!/usr/bin/env python
"""Speed of loopy BP (Numba kernels): inference (10 iterations, node beliefs) per image and one
learning step (sampler.learning.loopy_bp: beliefs, pair beliefs, Bethe value) at batch 8, at
L = 20, 120x160, sparse:1,2,4,8,16,32, tables in -9..6 (like the piecewise ones).

    python tools/bench_lbp.py
    git archive BASE sampler | tar -x -C /tmp/base && \\
        python tools/bench_lbp.py --baseline /tmp/base   # against commit BASE, taking turns
"""
import importlib
import statistics
import sys
import time

import numpy as np

import sampler
from experiments import cli
from experiments.bench import baseline


def parse_args(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--height", type=cli.positive_int, default=120)
    p.add_argument("--width", type=cli.positive_int, default=160)
    p.add_argument("--batch", type=cli.positive_int, default=8, help="images of the learning step")
    p.add_argument("--repeats", type=cli.positive_int, default=3, help="timed calls each (median reported)")
    p.add_argument("--baseline", metavar="DIR", help="also time the sampler package in DIR/sampler")
    args = p.parse_args(argv)
    baseline.check(p, args.baseline)
    return args


def run(args):
    samplers = {"this": sampler}
    if args.baseline:
        samplers = {"baseline": baseline.load(args.baseline), **samplers}
    learners = {module: importlib.import_module(module.__name__ + ".learning.loopy_bp").loopy_bp
                for module in samplers.values()}
    g = np.random.default_rng(0)
    offsets = sampler.parse_edges("sparse:1,2,4,8,16,32")
    n, num_labels, h, w = args.batch, 20, args.height, args.width
    scores = g.normal(0, 3, (n, num_labels, h, w)).astype(np.float32)
    labels = g.integers(0, num_labels, (n, h, w)).astype(np.uint8)
    theta = g.uniform(-9, 6, (len(offsets), num_labels, num_labels)).astype(np.float32)
    calls = {"inference per image": lambda m: m.belief_propagation.lbp(scores[:1], theta, offsets, iterations=10),
             f"learning step, batch {n}": lambda m: learners[m](scores, labels, theta, offsets)}
    print(f"LBP, 10 iterations, L={num_labels}, {h}x{w}, {len(offsets)} edge classes; median of {args.repeats}, "
          f"taking turns")
    for name, call in calls.items():
        for module in samplers.values():  # compile (or load the cache) outside the timing: one image
            learners[module](scores[:1], labels[:1], theta, offsets, iterations=1)
        seconds = {label: [] for label in samplers}
        for repeat in range(args.repeats):
            for label in (samplers if repeat % 2 else reversed(list(samplers))):
                start = time.perf_counter()
                call(samplers[label])
                seconds[label].append(time.perf_counter() - start)
        medians = {label: statistics.median(s) for label, s in seconds.items()}
        print(f"  {name:<24}" + "   ".join(f"{label} {t:.3f} s" for label, t in medians.items())
              + (f"   speed-up {medians['baseline'] / medians['this']:.2f}x" if "baseline" in medians else ""))


def main(argv=None):
    args = parse_args(argv)
    return cli.run("bench_lbp.py", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
