"""Mean field unrolled as a recurrent net (CRF-as-RNN style, with arbitrary tables per edge class):
T damped steps from softmax(unaries) (sampler/mean_field.step, the one copy of the update), then
the log-likelihood of the labels under the final marginals, back-propagated exactly.

Forward: q_0 = softmax(u); for t = 1..T: s_t = softmax(u + field(q_{t-1})),
q_t = (1 - a) q_{t-1} + a s_t (a: damping). Objective: sum_i log q_T,i(y_i), the negated
softmax cross-entropy of the final marginals (equal to it when theta = 0, for any T).
Backward, from g = d/dq_T: for t = T..1, dz = softmax'(s_t) (a g), u and theta collect dz and
pair_field.theta_gradient(dz, q_{t-1}), and g <- (1 - a) g + field(dz) (the field is its own
adjoint); finally u collects softmax'(q_0) g. Cost: the forward is T fields (2C products of
an L x L table with L x HW per image); the backward T fields and T theta gradients (the same
number of multiply-adds again, as one larger product per image), 1.5-2.5x the forward's time in
tools/bench_learning.py; memory: 2T + 1 arrays the size of the scores. With image-dependent
factors (weights, sampler/gating.py) the field mixes K tables per edge, and the weights collect
pair_field.weights_gradient(dz, q_{t-1}) at every step.
"""
import numbers

import numpy as np

from .. import backends, checks, mean_field, pair_field

DTYPES = {"float32": np.float32, "float64": np.float64}


class UnrolledMeanField:
    """value (N,) float64, marginals (N, L, H, W), and gradients() of value.sum().

    dtype "float64" is for checking the gradients against finite differences; backend "cupy"
    (or "auto" where CuPy runs) keeps the arrays on the GPU, any other backend uses NumPy: "numba"
    (or "auto" on the CPU) with the field's Numba kernels (pair_field.Field), "numpy" without.
    weights (N, K, H, W) with theta (C, K, L, L): image-dependent factors.
    """

    def __init__(self, scores, labels, theta, offsets, *, iterations=10, damping=0.5, backend="auto",
                 dtype="float32", weights=None):
        dtype = DTYPES[checks.choice(dtype, "dtype", tuple(DTYPES))]
        checked, theta_checked, self.offsets, weights_checked = checks.weighted_model(scores, theta, offsets, weights)
        n, num_labels, h, w = checked.shape
        labels = checks.labels(labels, (n, h, w), num_labels)
        self.iterations = checks.count(iterations, "iterations", 1)
        if isinstance(damping, bool) or not isinstance(damping, numbers.Real) or not 0 < damping <= 1:
            raise ValueError(f"damping: expected a number in (0, 1], got {damping!r}")
        self.damping = float(damping)
        backend_name = backends.resolve(backend).__name__
        xp = self.xp = _array_module(backend_name)
        # checks.model returns float32 copies; the float64 path takes the validated input as given
        self.unary = xp.asarray(np.asarray(scores, dtype) if dtype == np.float64 else checked)
        self.theta = xp.asarray(np.asarray(theta, dtype) if dtype == np.float64 else theta_checked)
        self.half = None if weights is None else xp.asarray(
            dtype(0.5) * (np.asarray(weights, dtype) if dtype == np.float64 else weights_checked))
        self.field = pair_field.Field(xp, self.theta, self.offsets, h, w, self.half,
                                      kernels=backend_name.endswith(".numba_backend"))
        self.onehot = xp.asarray(labels)[:, None] == xp.arange(num_labels, dtype=xp.uint8)[:, None, None]

        q = mean_field.softmax(xp, self.unary)
        self.tape = []  # (q_{t-1}, s_t) per step
        for _ in range(self.iterations):
            s, q_next = mean_field.step(xp, self.unary, q, self.damping, self.field)
            self.tape.append((q, s))
            q = q_next
        self.q = q
        # log(max(q, tiny)), like Caffe's SoftmaxWithLoss: a marginal that underflows to 0 gives a
        # large finite loss and no gradient, not -inf
        self.floor = np.finfo(dtype).tiny
        log_q = xp.log(xp.maximum(q, self.floor))
        self.value = _host(xp, xp.where(self.onehot, log_q, 0).sum(axis=(1, 2, 3), dtype=xp.float64))

    @property
    def marginals(self):
        return _host(self.xp, self.q)

    def gradients(self):
        """(d_scores (N, L, H, W), d_theta (C, L, L)) of value.sum(), NumPy, in the chosen dtype;
        with weights, d_theta (C, K, L, L) and a third, d_weights (N, K, H, W)."""
        xp, a, half = self.xp, self.damping, self.half
        # d/dq_T of sum log max(q_T(y), tiny): 1 / q_T at the labels, 0 where clamped
        g = xp.where(self.onehot & (self.q >= self.floor), 1 / xp.maximum(self.q, self.floor), 0)
        g = g.astype(self.q.dtype)
        d_unary = xp.zeros_like(self.unary)
        d_theta = xp.zeros_like(self.theta)
        d_weights = None if half is None else xp.zeros_like(half)
        for q_before, s in reversed(self.tape):
            dz = _softmax_backward(xp, s, a * g)
            d_unary += dz
            d_theta += self.field.theta_gradient(dz, q_before)
            if half is not None:
                d_weights += self.field.weights_gradient(dz, q_before)
            g = self.field.add((1 - a) * g, dz)
        d_unary += _softmax_backward(xp, self.tape[0][0], g)
        if half is None:
            return _host(xp, d_unary), _host(xp, d_theta)
        return _host(xp, d_unary), _host(xp, d_theta), _host(xp, d_weights)


def _softmax_backward(xp, s, ds):
    """d/dz of sum(ds * softmax(z)) where s = softmax(z), over the label axis 1."""
    return s * (ds - (s * ds).sum(axis=1, keepdims=True))


def _array_module(backend_name):
    if backend_name.endswith(".cupy_backend"):
        import cupy
        return cupy
    return np


def _host(xp, array):
    return array if xp is np else array.get()
