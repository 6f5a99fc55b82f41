#!/usr/bin/env python
"""Cost of one training step of each CRF learning layer, against one Gibbs sweep: seconds per
forward + backward of GibbsCRFLoss, PseudoLikelihoodLoss and MeanFieldLoss (pycaffe, CPU), at
the training setting, with the ratio to one sampler.sweep measured in the same run.

    python tools/bench_learning.py                  # L=20, sparse:1,2,4,8,16,32, batch 8, 120x160
    python tools/bench_learning.py --quick          # 30x40, 1 repeat: a smoke run
    python tools/bench_learning.py --iterations 3 --iterations 10
    python tools/bench_learning.py --threads 1      # Numba and BLAS on one core each

On a machine shared with other jobs, multithreaded OpenBLAS can stall waiting for a descheduled
thread (we saw the same products take 0.2 s to 4.6 s); --threads 1 gives steadier ratios.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sampler  # noqa: E402

NET = """force_backward: true
layer {{ name: "scores" type: "Input" top: "scores" input_param {{ shape {{ dim: {n} dim: {l} dim: {h} dim: {w} }} }} }}
layer {{ name: "label" type: "Input" top: "label" input_param {{ shape {{ dim: {n} dim: 1 dim: {h} dim: {w} }} }} }}
layer {{ name: "index" type: "Input" top: "index" input_param {{ shape {{ dim: {n} }} }} }}
layer {{ name: "crf" type: "Python" {bottoms} top: "loss" loss_weight: 1
        param {{ lr_mult: 1 decay_mult: 0 }} param {{ lr_mult: 0 decay_mult: 0 }}
        python_param {{ module: "{module}" layer: "{layer}" param_str: '{config}' }} }}
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--labels", type=int, default=20)
    p.add_argument("--edges", default="sparse:1,2,4,8,16,32")
    p.add_argument("--height", type=int, default=120)
    p.add_argument("--width", type=int, default=160)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--iterations", type=int, action="append", help="MeanFieldLoss T (repeatable; default 5, 10)")
    p.add_argument("--repeats", type=int, default=3, help="timed steps per row (median reported)")
    p.add_argument("--threads", type=int, help="Numba and BLAS threads (default: their defaults)")
    p.add_argument("--quick", action="store_true", help="30x40 images, 1 repeat, T = 2")
    args = p.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be positive")
    for name in ("labels", "height", "width", "batch", "repeats"):
        if getattr(args, name) < (2 if name == "labels" else 1):
            p.error(f"--{name} is too small")
    try:
        args.offsets = sampler.parse_edges(args.edges)
    except ValueError as e:
        p.error(f"--edges: {e}")
    if args.quick:
        args.height, args.width, args.repeats, args.iterations = 30, 40, 1, [2]
    args.iterations = args.iterations or [5, 10]
    if min(args.iterations) < 1:
        p.error("--iterations must be at least 1")
    return args


def inputs(args):
    g = np.random.default_rng(0)
    scores = g.normal(size=(args.batch, args.labels, args.height, args.width)).astype(np.float32)
    theta = (0.3 * g.normal(size=(len(args.offsets), args.labels, args.labels))).astype(np.float32)
    return scores, scores.argmax(axis=1).astype(np.uint8), theta


def seconds_per_sweep(args):
    scores, labels, theta = inputs(args)
    times = []
    for step in range(args.repeats + 1):  # the first compiles and warms caches
        start = time.perf_counter()
        labels = sampler.sweep(scores, labels, theta, args.offsets, step=step)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def layer_net(args, module, layer, extra):
    import caffe

    config = {"num_labels": args.labels, "edges": args.offsets.tolist(), "num_images": args.batch, **extra}
    bottoms = 'bottom: "scores" bottom: "label"' + (' bottom: "index"' if layer == "GibbsCRFLoss" else "")
    text = NET.format(n=args.batch, l=args.labels, h=args.height, w=args.width, bottoms=bottoms, module=module,
                      layer=layer, config=json.dumps(config))
    with tempfile.NamedTemporaryFile("w", suffix=".prototxt") as f:
        f.write(text)
        f.flush()
        net = caffe.Net(f.name, caffe.TRAIN)
    scores, labels, theta = inputs(args)
    net.blobs["scores"].data[...] = scores
    net.blobs["label"].data[...] = labels[:, None]
    net.blobs["index"].data[...] = np.arange(args.batch)
    net.params["crf"][0].data[...] = theta
    return net


def seconds_per_step(net, repeats):
    """Medians of (forward, backward) seconds, after one untimed step."""
    forward, backward = [], []
    for _ in range(repeats + 1):
        net.clear_param_diffs()
        start = time.perf_counter()
        net.forward()
        middle = time.perf_counter()
        net.backward()
        forward.append(middle - start)
        backward.append(time.perf_counter() - middle)
    return statistics.median(forward[1:]), statistics.median(backward[1:])


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("GLOG_minloglevel", "2")
    import caffe

    import numba
    import threadpoolctl

    caffe.set_mode_cpu()
    if args.threads:
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
        threadpoolctl.threadpool_limits(args.threads, user_api="blas")
    blas = max((p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"), default=None)
    print(f"batch {args.batch}, {args.height}x{args.width}, L={args.labels}, {len(args.offsets)} edge classes "
          f"({args.edges}); backend {sampler.backends.available_backends()[0]}; median of {args.repeats}; "
          f"numba threads {numba.get_num_threads()}, BLAS threads {blas}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    sweep = seconds_per_sweep(args)
    print(f"\n{'step':<34}{'forward s':>11}{'backward s':>12}{'total s':>10}{'x sweep':>9}")
    print(f"{'one Gibbs sweep (sampler.sweep)':<34}{'':>11}{'':>12}{sweep:>10.3f}{1:>9.1f}", flush=True)
    rows = [("GibbsCRFLoss (1 sweep)", "layers.crf_loss", "GibbsCRFLoss", {}),
            ("PseudoLikelihoodLoss", "layers.pl_loss", "PseudoLikelihoodLoss", {})]
    rows += [(f"MeanFieldLoss T={t}", "layers.meanfield_loss", "MeanFieldLoss", {"iterations": t})
             for t in args.iterations]
    for name, module, layer, extra in rows:
        forward, backward = seconds_per_step(layer_net(args, module, layer, extra), args.repeats)
        total = forward + backward
        print(f"{name:<34}{forward:>11.3f}{backward:>12.3f}{total:>10.3f}{total / sweep:>9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
