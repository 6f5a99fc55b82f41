"""Public functions: validate once (sampler/checks.py), then call the chosen backend."""
import numpy as np

from . import backends, checks, rng, stats
from .offsets import parse_edges

SCHEDULES = ("chromatic", "raster")


def sweep(scores, labels, theta, offsets, *, seed=0, keys=None, step=0, backend="auto",
          schedule="chromatic"):
    """One Gibbs sweep; returns new (N, H, W) uint8 labels (the input is not modified).

    Image n's result depends only on (seed, keys[n], step[n]) and its own inputs.
    """
    scores, theta, offsets = checks.model(scores, theta, offsets)
    n, num_labels, h, w = scores.shape
    labels = checks.labels(labels, (n, h, w), num_labels)
    bases = rng.image_bases(checks.seed(seed), checks.keys(keys, n), checks.steps(step, n))
    module = backends.resolve(backend)
    return module.sweep(scores, labels, theta, offsets, bases, checks.choice(schedule, "schedule", SCHEDULES))


def marginals(scores, theta, offsets, *, burn_in=20, samples=50, seed=0, keys=None, backend="auto",
              init=None, schedule="chromatic"):
    """(N, L, H, W) float32 label frequencies over `samples` sweeps after `burn_in` sweeps.

    Sweep s of image n uses step s; init None starts from the argmax of the unaries.
    """
    scores, theta, offsets = checks.model(scores, theta, offsets)
    n = scores.shape[0]
    labels = _init(scores, init)
    burn_in, samples = checks.count(burn_in, "burn_in"), checks.count(samples, "samples", 1)
    seed, keys = checks.seed(seed), checks.keys(keys, n)
    schedule = checks.choice(schedule, "schedule", SCHEDULES)
    bases = _sweep_bases(seed, keys, np.zeros(n, dtype=np.uint64), burn_in + samples)
    module = backends.resolve(backend)
    counts = backends.function(module, "marginal_counts")(scores, labels, theta, offsets, bases, burn_in, schedule)
    return (counts / np.float32(samples)).astype(np.float32)


def train_step(scores, labels, theta, offsets, *, sweeps=1, seed=0, keys=None, step=0, backend="auto",
               schedule="chromatic"):
    """One learning step's sampling: (new (N, H, W) uint8 labels, (C, L, L) int64 pair counts).

    `sweeps` sweeps from labels (not modified), sweep s of image n with step[n] + s, as calling
    sweep that often does; the counts are pair_counts of the final labels, summed over the batch.
    """
    scores, theta, offsets = checks.model(scores, theta, offsets)
    n, num_labels, h, w = scores.shape
    labels = checks.labels(labels, (n, h, w), num_labels)
    sweeps = checks.count(sweeps, "sweeps", 1)
    bases = _sweep_bases(checks.seed(seed), checks.keys(keys, n), checks.steps(step, n), sweeps)
    module = backends.resolve(backend)
    counts = backends.function(module, "train_step")(scores, labels, theta, offsets, bases,
                                                     checks.choice(schedule, "schedule", SCHEDULES))
    return labels, counts


def conditionals(scores, labels, theta, offsets, *, backend="auto"):
    """(N, L, H, W) float32 log p(y_i = l | neighbours' labels)."""
    scores, theta, offsets = checks.model(scores, theta, offsets)
    n, num_labels, h, w = scores.shape
    labels = checks.labels(labels, (n, h, w), num_labels)
    return backends.function(backends.resolve(backend), "conditionals")(scores, labels, theta, offsets)


def pseudo_log_likelihood(scores, labels, theta, offsets, *, backend="auto"):
    """(N,) float64: sum over pixels of log p(y_i | rest)."""
    logp = conditionals(scores, labels, theta, offsets, backend=backend)
    labels = np.asarray(labels).astype(np.intp)[:, None]
    return np.take_along_axis(logp, labels, 1).astype(np.float64).sum(axis=(1, 2, 3))


def energy(scores, labels, theta, offsets):
    """(N,) float64 E(y); p(y) is proportional to exp(E(y))."""
    scores, theta, offsets = checks.model(scores, theta, offsets)
    n, num_labels, h, w = scores.shape
    return stats.energy(scores, checks.labels(labels, (n, h, w), num_labels), theta, offsets)


def pair_counts(labels, offsets, num_labels, *, backend="auto"):
    """(C, L, L) int64 counts[c, y_i, y_{i+d_c}] summed over the (N, H, W) labellings given."""
    num_labels = checks.count(num_labels, "num_labels", 1)
    offsets = parse_edges(offsets)
    shape = np.shape(labels)
    if len(shape) != 3:
        raise ValueError(f"labels: expected shape (N, H, W), got {shape}")
    labels = checks.labels(labels, shape, num_labels)
    return backends.function(backends.resolve(backend), "pair_counts")(labels, offsets, num_labels)


def icm(scores, theta, offsets, *, iterations=10, init=None, backend="auto"):
    """Iterated conditional modes (chromatic order) from init (None: argmax of unaries).

    Stops early when a full pass changes nothing, i.e. at a single-pixel local optimum.
    """
    scores, theta, offsets = checks.model(scores, theta, offsets)
    labels = _init(scores, init)
    iterations = checks.count(iterations, "iterations")
    return backends.function(backends.resolve(backend), "icm")(scores, labels, theta, offsets, iterations)


def meanfield(scores, theta, offsets, *, iterations=10, damping=0.5, backend="auto"):
    """(N, L, H, W) float32 mean-field marginals with the same tables.

    Parallel (Jacobi) updates from softmax(unaries), damped: q <- (1-damping) q + damping f(q),
    where f(q) is the softmax of unaries plus pairwise terms expected under q.
    """
    scores, theta, offsets = checks.model(scores, theta, offsets)
    iterations = checks.count(iterations, "iterations")
    if not 0 < damping <= 1:
        raise ValueError(f"damping: expected a number in (0, 1], got {damping!r}")
    module = backends.resolve(backend)
    return backends.function(module, "meanfield")(scores, theta, offsets, iterations, float(damping))


def _sweep_bases(seed, keys, steps, sweeps):
    """(sweeps, N) uint64: row s holds the stream bases of sweep s, image n at step steps[n] + s."""
    return np.stack([rng.image_bases(seed, keys, steps + np.uint64(s)) for s in range(sweeps)])


def _init(scores, init):
    n, num_labels, h, w = scores.shape
    if init is None:
        return scores.argmax(axis=1).astype(np.uint8)
    return checks.labels(init, (n, h, w), num_labels, name="init")
