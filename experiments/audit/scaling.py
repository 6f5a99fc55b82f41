"""Claim 5: a sweep's time grows linearly in pixels, labels and edge classes; the chain
store holds one byte per pixel.

Each factor is varied alone around a base case and the exponent of time ~ size**k is
fitted; the best of several repeats is kept. Sweeps run on one thread: the claim is about
the work done, and on a busy machine waiting for parallel threads swamps it (timings of one
case jump 30x). Fixed per-call costs push exponents below 1, so the test is an upper bound.
"""
import time

import numba
import numpy as np

import sampler

from .common import Result, loglog_slope, progress, random_model, verdict

NUMBER = "5"
CLAIM = "Time and memory grow linearly in pixels, labels and edge classes"
BASE = {"side": 128, "labels": 8, "classes": 2}
# Timing jitter on a shared machine moves fitted exponents by ~0.05; quadratic would be 2.
MAX_EXPONENT = 1.2


def sizes(quick):
    if quick:
        return {"side": [64, 128, 256], "labels": [4, 8, 16], "classes": [1, 2, 4]}
    return {"side": [64, 128, 256, 512, 1024], "labels": [4, 8, 16, 32, 64], "classes": [1, 2, 4, 8, 16]}


def sweep_seconds(side, labels, classes, repeats, rng):
    offsets = sampler.window(3)[:classes]
    scores, theta = random_model(rng, 1, labels, side, side, classes, 1.0, 0.5)
    state = np.zeros((1, side, side), np.uint8)
    best = np.inf
    for step in range(repeats + 1):  # the first call may compile
        start = time.perf_counter()
        state = sampler.sweep(scores, state, theta, offsets, seed=0, step=step)
        if step:
            best = min(best, time.perf_counter() - start)
    return best


def chain_bytes_ok():
    shapes = [(1, 8, 8), (3, 17, 5), (10, 64, 48)]
    return all(sampler.ChainStore(n, h, w, 4, seed=0).labels.nbytes == n * h * w for n, h, w in shapes)


def run(quick=False):
    rng = np.random.default_rng(5)
    repeats = 7 if quick else 15
    exponents, seconds = {}, {}
    grid = sizes(quick)
    cases = [(factor, value) for factor, values in grid.items() for value in values]
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        for factor, value in progress(cases, "claim 5: timing sweeps"):
            seconds.setdefault(factor, []).append(sweep_seconds(**{**BASE, factor: value}, repeats=repeats, rng=rng))
    finally:
        numba.set_num_threads(threads)
    for factor, values in grid.items():
        measure = np.square(values) if factor == "side" else values  # pixels, not side
        exponents[factor] = loglog_slope(measure, seconds[factor])
    memory = chain_bytes_ok()
    ok = memory and all(k <= MAX_EXPONENT for k in exponents.values())
    return Result(
        NUMBER, CLAIM,
        f"best-of-{repeats} one-thread sweep times, varying pixels ({grid['side'][0]}^2..{grid['side'][-1]}^2), "
        f"labels ({grid['labels'][0]}..{grid['labels'][-1]}), edge classes ({grid['classes'][0]}.."
        f"{grid['classes'][-1]}) from {BASE['side']}^2 px, {BASE['labels']} labels, {BASE['classes']} classes; "
        f"pass if every fitted exponent <= {MAX_EXPONENT} and ChainStore labels take N*H*W bytes",
        f"exponents: pixels {exponents['side']:.2f}, labels {exponents['labels']:.2f}, "
        f"classes {exponents['classes']:.2f}; chain bytes = N*H*W: {'yes' if memory else 'no'}",
        verdict(ok),
        {"sizes": grid, "seconds": seconds, "exponents": exponents, "chain_bytes_equal_pixels": memory},
    )
