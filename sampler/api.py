"""Public functions: validate once (sampler/checks.py), then call the chosen backend.

Every function of the model takes `weights=`: None for the stationary model (theta (C, L, L)), or
(N, K, H, W) per-pixel weights with theta (C, K, L, L): image-dependent factors (sampler/gating.py).
"""
import numpy as np

from . import backends, checks, rng, stats
from .offsets import parse_edges

SCHEDULES = ("chromatic", "raster")


def sweep(scores, labels, theta, offsets, *, seed=0, keys=None, step=0, backend="auto",
          schedule="chromatic", weights=None):
    """One Gibbs sweep; returns new (N, H, W) uint8 labels (the input is not modified).

    Image n's result depends only on (seed, keys[n], step[n]) and its own inputs.
    """
    scores, theta, offsets, weights = checks.weighted_model(scores, theta, offsets, weights)
    n, num_labels, h, w = scores.shape
    labels = checks.labels(labels, (n, h, w), num_labels)
    bases = rng.image_bases(checks.seed(seed), checks.keys(keys, n), checks.steps(step, n))
    module = backends.resolve(backend)
    return module.sweep(scores, labels, theta, offsets, bases, checks.choice(schedule, "schedule", SCHEDULES),
                        **backends.weighted(weights))


def marginals(scores, theta, offsets, *, burn_in=20, samples=50, seed=0, keys=None, backend="auto",
              init=None, schedule="chromatic", weights=None):
    """(N, L, H, W) float32 label frequencies over `samples` sweeps after `burn_in` sweeps.

    Sweep s of image n uses step s; init None starts from the argmax of the unaries.
    """
    scores, theta, offsets, weights = checks.weighted_model(scores, theta, offsets, weights)
    n = scores.shape[0]
    labels = _init(scores, init)
    burn_in, samples = checks.count(burn_in, "burn_in"), checks.count(samples, "samples", 1)
    seed, keys = checks.seed(seed), checks.keys(keys, n)
    schedule = checks.choice(schedule, "schedule", SCHEDULES)
    bases = _sweep_bases(seed, keys, np.zeros(n, dtype=np.uint64), burn_in + samples)
    module = backends.resolve(backend)
    counts = backends.function(module, "marginal_counts")(scores, labels, theta, offsets, bases, burn_in, schedule,
                                                          **backends.weighted(weights))
    return (counts / np.float32(samples)).astype(np.float32)


def train_step(scores, labels, theta, offsets, *, sweeps=1, seed=0, keys=None, step=0, backend="auto",
               schedule="chromatic", weights=None):
    """One learning step's sampling: (new (N, H, W) uint8 labels, (C, L, L) int64 pair counts).

    `sweeps` sweeps from labels (not modified), sweep s of image n with step[n] + s, as calling
    sweep that often does; the counts are pair_counts of the final labels, summed over the batch,
    or with weights their weighted_pair_counts ((C, K, L, L) float64).
    """
    scores, theta, offsets, weights = checks.weighted_model(scores, theta, offsets, weights)
    n, num_labels, h, w = scores.shape
    labels = checks.labels(labels, (n, h, w), num_labels)
    sweeps = checks.count(sweeps, "sweeps", 1)
    bases = _sweep_bases(checks.seed(seed), checks.keys(keys, n), checks.steps(step, n), sweeps)
    module = backends.resolve(backend)
    counts = backends.function(module, "train_step")(scores, labels, theta, offsets, bases,
                                                     checks.choice(schedule, "schedule", SCHEDULES),
                                                     **backends.weighted(weights))
    return labels, counts


def conditionals(scores, labels, theta, offsets, *, backend="auto", weights=None):
    """(N, L, H, W) float32 log p(y_i = l | neighbours' labels)."""
    scores, theta, offsets, weights = checks.weighted_model(scores, theta, offsets, weights)
    n, num_labels, h, w = scores.shape
    labels = checks.labels(labels, (n, h, w), num_labels)
    return backends.function(backends.resolve(backend), "conditionals")(scores, labels, theta, offsets,
                                                                        **backends.weighted(weights))


def pseudo_log_likelihood(scores, labels, theta, offsets, *, backend="auto", weights=None):
    """(N,) float64: sum over pixels of log p(y_i | rest)."""
    logp = conditionals(scores, labels, theta, offsets, backend=backend, weights=weights)
    labels = np.asarray(labels).astype(np.intp)[:, None]
    return np.take_along_axis(logp, labels, 1).astype(np.float64).sum(axis=(1, 2, 3))


def energy(scores, labels, theta, offsets, *, weights=None):
    """(N,) float64 E(y); p(y) is proportional to exp(E(y))."""
    scores, theta, offsets, weights = checks.weighted_model(scores, theta, offsets, weights)
    n, num_labels, h, w = scores.shape
    return stats.energy(scores, checks.labels(labels, (n, h, w), num_labels), theta, offsets, weights)


def pair_counts(labels, offsets, num_labels, *, backend="auto"):
    """(C, L, L) int64 counts[c, y_i, y_{i+d_c}] summed over the (N, H, W) labellings given."""
    num_labels = checks.count(num_labels, "num_labels", 1)
    offsets = parse_edges(offsets)
    labels = _labellings(labels, num_labels)
    return backends.function(backends.resolve(backend), "pair_counts")(labels, offsets, num_labels)


def weighted_pair_counts(labels, weights, offsets, num_labels, *, backend="auto"):
    """(C, K, L, L) float64: sum over the edges of the (N, H, W) labellings of
    w_k(i, j) [y_i = l, y_{i+d_c} = l'], for weights (N, K, H, W)."""
    num_labels = checks.count(num_labels, "num_labels", 1)
    offsets = parse_edges(offsets)
    labels = _labellings(labels, num_labels)
    weights = checks.pixel_weights(weights, labels.shape)
    return backends.function(backends.resolve(backend), "weighted_pair_counts")(labels, weights, offsets, num_labels)


def weight_statistics(labels, theta, offsets):
    """(N, K, H, W) float64 dE/dweights[n, k, i] = 0.5 * sum over the edges e at pixel i of
    theta[c_e, k, y_e], for labels (N, H, W) and theta (C, K, L, L). The log-likelihood's gradient
    in the weights is weight_statistics(truth) - E_model[weight_statistics(y)]."""
    offsets = parse_edges(offsets)
    theta = checks.tables(theta, len(offsets))
    return stats.weight_statistics(_labellings(labels, theta.shape[2]), theta, offsets)


def icm(scores, theta, offsets, *, iterations=10, init=None, backend="auto", weights=None):
    """Iterated conditional modes (chromatic order) from init (None: argmax of unaries).

    Stops early when a full pass changes nothing, i.e. at a single-pixel local optimum.
    """
    scores, theta, offsets, weights = checks.weighted_model(scores, theta, offsets, weights)
    labels = _init(scores, init)
    iterations = checks.count(iterations, "iterations")
    return backends.function(backends.resolve(backend), "icm")(scores, labels, theta, offsets, iterations,
                                                               **backends.weighted(weights))


def meanfield(scores, theta, offsets, *, iterations=10, damping=0.5, backend="auto", weights=None):
    """(N, L, H, W) float32 mean-field marginals with the same tables.

    Parallel (Jacobi) updates from softmax(unaries), damped: q <- (1-damping) q + damping f(q),
    where f(q) is the softmax of unaries plus pairwise terms expected under q.
    """
    scores, theta, offsets, weights = checks.weighted_model(scores, theta, offsets, weights)
    iterations = checks.count(iterations, "iterations")
    if not 0 < damping <= 1:
        raise ValueError(f"damping: expected a number in (0, 1], got {damping!r}")
    module = backends.resolve(backend)
    return backends.function(module, "meanfield")(scores, theta, offsets, iterations, float(damping),
                                                  **backends.weighted(weights))


def _sweep_bases(seed, keys, steps, sweeps):
    """(sweeps, N) uint64: row s holds the stream bases of sweep s, image n at step steps[n] + s."""
    return np.stack([rng.image_bases(seed, keys, steps + np.uint64(s)) for s in range(sweeps)])


def _labellings(labels, num_labels):
    """Validated labels of any (N, H, W)."""
    shape = np.shape(labels)
    if len(shape) != 3:
        raise ValueError(f"labels: expected shape (N, H, W), got {shape}")
    return checks.labels(labels, shape, num_labels)


def _init(scores, init):
    n, num_labels, h, w = scores.shape
    if init is None:
        return scores.argmax(axis=1).astype(np.uint8)
    return checks.labels(init, (n, h, w), num_labels, name="init")
