"""The arithmetic of the draw, written out so every backend computes identical bits.

exp_neg(x) ~ exp(max(x, -64)) for x <= 0 (relative error < 2e-12): Taylor polynomial of
degree 10 at y = x / 256 in Horner form, then squared 8 times. Plain multiplies and adds in
this order (no fused multiply-add: CUDA code must use __dmul_rn/__dadd_rn or -fmad=false).
Clamping at -64 gives labels more than 64 nats below the mode probability ~1e-28 instead of
less: far below anything a sampler can see, and it keeps the polynomial in range.
numba_backend.py restates exp_neg for its kernels (Numba's cache sees only that file); a test
keeps the two identical, so change both together.
"""
import math

import numpy as np

COEFFICIENTS = tuple(1.0 / math.factorial(k) for k in range(11))


def exp_neg(x):
    """Elementwise on NumPy arrays; on float64 scalars when compiled by Numba."""
    y = np.maximum(x, -64.0) * (1.0 / 256.0)
    p = COEFFICIENTS[10]
    for k in range(9, -1, -1):
        p = p * y + COEFFICIENTS[k]
    for _ in range(8):
        p = p * p
    return p


def lane_sum(w):
    """Sum over the last axis in 4 interleaved lanes (lane j: w[j] + w[j+4] + ..., left to right),
    then (lane0 + lane1) + (lane2 + lane3): short dependency chains, and vectorisable in a kernel."""
    lanes = w[..., 0:4].copy() if w.shape[-1] >= 4 else np.pad(w, [(0, 0)] * (w.ndim - 1) + [(0, 4 - w.shape[-1])])
    for start in range(4, w.shape[-1], 4):
        block = w[..., start:start + 4]
        lanes[..., :block.shape[-1]] += block
    return (lanes[..., 0] + lanes[..., 1]) + (lanes[..., 2] + lanes[..., 3])
