#!/usr/bin/env python
"""Cost of one training step of each CRF learning layer, against one Gibbs sweep: seconds per
forward + backward of GibbsCRFLoss, PseudoLikelihoodLoss and MeanFieldLoss (pycaffe, CPU), at
the training setting, with the ratio to one sampler.sweep measured in the same run.

    python tools/bench_layers.py                  # L=20, sparse:1,2,4,8,16,32, batch 8, 120x160
    python tools/bench_layers.py --quick          # 30x40, 1 repeat: a smoke run
    python tools/bench_layers.py --iterations 3 --iterations 10
    python tools/bench_layers.py --threads 1      # Numba and BLAS on one core each

On a machine shared with other jobs, multithreaded OpenBLAS can stall waiting for a descheduled
thread (we saw the same products take 0.2 s to 4.6 s); --threads 1 gives steadier ratios.
"""
import os
import sys

from experiments import cli
from nets.crf import DEFAULT_EDGES


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--labels", type=cli.positive_int, default=20)
    p.add_argument("--edges", type=cli.edges, default=DEFAULT_EDGES)
    p.add_argument("--height", type=cli.positive_int, default=120)
    p.add_argument("--width", type=cli.positive_int, default=160)
    p.add_argument("--batch", type=cli.positive_int, default=8)
    p.add_argument("--iterations", type=cli.positive_int, action="append",
                   help="MeanFieldLoss T (repeatable; default 5, 10)")
    p.add_argument("--repeats", type=cli.positive_int, default=3, help="timed steps per row (median reported)")
    p.add_argument("--threads", type=cli.positive_int, help="Numba and BLAS threads (default: their defaults)")
    p.add_argument("--quick", action="store_true", help="30x40 images, 1 repeat, T = 2")
    args = p.parse_args(argv)
    if args.labels < 2:
        p.error("--labels: expected at least 2")
    if args.quick:
        args.height, args.width, args.repeats, args.iterations = 30, 40, 1, [2]

    def work():
        os.environ.setdefault("GLOG_minloglevel", "2")
        import caffe
        import numba
        import threadpoolctl

        from experiments.bench import layers

        caffe.set_mode_cpu()
        if args.threads:
            numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
            threadpoolctl.threadpool_limits(args.threads, user_api="blas")
        blas = max((p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"),
                   default=None)
        print(f"batch {args.batch}, {args.height}x{args.width}, L={args.labels}, edges {args.edges}; "
              f"median of {args.repeats}; numba threads {numba.get_num_threads()}, BLAS threads {blas}; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        layers.run((args.batch, args.labels, args.height, args.width), args.edges, args.iterations or [5, 10],
                   args.repeats, sys.stdout)

    return cli.run(p.prog, work)


if __name__ == "__main__":
    sys.exit(main())
