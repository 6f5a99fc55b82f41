#!/usr/bin/env python
"""Speed of sampler.sweep: Mpixel-sweeps/s per backend, schedule and edge set, and how the time
of one sweep grows with pixels, labels and edge classes (log-log exponents).

    python tools/bench_sampler.py            # L=20, 120x160, batch 16 (the training setting)
    python tools/bench_sampler.py --quick    # smaller and fewer repeats, a smoke run
    python tools/bench_sampler.py --gated --batch 8   # only image-dependent (K = 2) against stationary sweeps
    python tools/bench_sampler.py --backend cupy --backend numba --schedule chromatic \\
        --batch 64 --height 240 --width 320  # GPU: also on-device Gpixel-sweeps/s against the roofline
    git archive BASE sampler | tar -x -C /tmp/base && \\
        python tools/bench_sampler.py --baseline /tmp/base   # numba against commit BASE, paired

The cupy rows of the main table include copying the arrays to and from the device on every
sweep (sampler.sweep takes NumPy arrays); the roofline table keeps them on the device.

The numba rows are also set against the CPU's arithmetic bound: a sweep adds 2C table rows of
L labels per pixel, so at most cores * clock * lanes * 2 / (2 C L) pixel-sweeps per second, with
lanes = vector bits / 32 (float32; the kernels add float32 rows) and 2 vector additions per cycle
and core (two FP-add pipes, as on AMD Zen 2-5 and Intel since Skylake). Vector bits and cores
are read from the machine; the clock is measured (a chain of dependent multiplies).
"""
import sys

import sampler
from experiments import cli
from experiments.bench import baseline
from experiments.bench.sweeps import run


def parse_args(argv=None):
    p = cli.Parser(__doc__)  # usage errors on one line
    p.add_argument("--backend", action="append", choices=sampler.available_backends(),
                   help="backend to time (repeatable; default: all available here)")
    p.add_argument("--schedule", action="append", choices=("chromatic", "raster"),
                   help="schedule to time (repeatable; default: both)")
    p.add_argument("--labels", type=cli.positive_int, default=20)
    p.add_argument("--height", type=cli.positive_int, default=120)
    p.add_argument("--width", type=cli.positive_int, default=160)
    p.add_argument("--batch", type=cli.positive_int, default=16)
    p.add_argument("--repeats", type=cli.positive_int, default=5, help="timed sweeps per cell (median reported)")
    p.add_argument("--store-images", type=cli.positive_int, default=5000,
                   help="training images, for the chain-store size")
    p.add_argument("--threads", type=cli.positive_int, help="numba threads (default: numba's default)")
    p.add_argument("--quick", action="store_true", help="60x80 images, 2 repeats, no NumPy raster, short scaling")
    p.add_argument("--baseline", metavar="DIR", help="only time numba chromatic sweeps at the default CRF against "
                   "the sampler package in DIR/sampler (another commit's), alternating, same inputs")
    p.add_argument("--gated", action="store_true", help="only time numba chromatic sweeps at the default CRF with "
                   "image-dependent factors (K = 2) against stationary ones, alternating, and print their ratio")
    args = p.parse_args(argv)
    if args.labels < 2:
        p.error("--labels: expected at least 2")
    if args.quick:
        args.height, args.width, args.repeats = 60, 80, 2
    baseline.check(p, args.baseline)
    return args


def main(argv=None):
    args = parse_args(argv)
    return cli.run("bench_sampler.py", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
