"""Mean-field marginals with the CRF's own tables (the CRF-as-RNN-style baseline), written once
for any NumPy-like array module: NumPy (numpy_backend) and CuPy (cupy_backend). step is also the
forward pass of the unrolled mean-field loss (sampler/learning/unrolled_meanfield.py)."""
from . import gating, pair_field


def meanfield(xp, scores, theta, offsets, iterations, damping, weights=None, kernels=False):
    """(N, L, H, W) float32 damped Jacobi mean field from softmax(unaries):
    q <- (1 - damping) q + damping * softmax(z), where z adds to the unaries, for every edge
    (i, j = i + d_c) inside the image, sum_l' theta[c, l, l'] q_j(l') at i and
    sum_l q_i(l) theta[c, l, l'] at j (sampler/pair_field.py; with weights (N, K, H, W), theta
    (C, K, L, L) and the tables mixed per edge). float32 throughout: 2.6x faster than float64
    on the CPU, and the result is float32 anyway (the two differ by about 1e-6). kernels: the
    field by the Numba kernels (pair_field.Field)."""
    unary = scores.astype(xp.float32)
    theta = theta.astype(xp.float32)
    half = None if weights is None else gating.HALF * weights.astype(xp.float32)
    field = pair_field.Field(xp, theta, offsets, *scores.shape[2:], half, kernels)
    q = softmax(xp, unary)
    for _ in range(iterations):
        _, q = step(xp, unary, q, damping, field)
    return q


def step(xp, unary, q, damping, field):
    """One damped step in the arrays' dtype: (s, new q) with s = softmax(unary + field(q)), field
    a pair_field.Field."""
    s = softmax(xp, field.add(unary.copy(), q))
    return s, (1 - damping) * q + damping * s


def softmax(xp, z):
    """Softmax over the label axis (1) of (N, L, H, W)."""
    e = xp.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
