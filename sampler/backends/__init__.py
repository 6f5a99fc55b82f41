"""Backend registry. A backend is a module `sampler/backends/<name>_backend.py` with
`available() -> bool` (False where it cannot run, e.g. CuPy without a GPU) and any of the
operations below, with numpy_backend's signatures (NumPy arrays in and out). Dropping in
`cupy_backend.py` is enough to register "cupy" (and to make "auto" prefer it).

Single operations: sweep, icm, conditionals, count, pair_counts, weighted_pair_counts, meanfield;
numpy_backend supplies whichever a backend leaves out. The operations of the model take the
keyword `weights` only for image-dependent factors (weighted()). Whole-chain operations: train_step (k sweeps, then the
pair counts) and marginal_counts (burn-in, then label counts over the sweeps after it), so that
a backend can keep the chain where it computes (a GPU: one upload, one download); where a
backend leaves one out, generic.py builds it from that backend's own single operations.
"""
import functools
import importlib

from . import generic
from .generic import weighted  # noqa: F401 (the keyword arguments that pass weights on to an operation)

NAMES = ("cupy", "numba", "numpy")  # also the order "auto" prefers
WHOLE_CHAIN = ("train_step", "marginal_counts")


@functools.lru_cache(maxsize=None)
def _load(name):
    try:
        module = importlib.import_module(f"{__name__}.{name}_backend")
    except ImportError:
        return None
    return module if module.available() else None


def available_backends():
    """Names of the backends usable on this machine."""
    return [name for name in NAMES if _load(name) is not None]


def resolve(name):
    """The backend module for a name, or for "auto" the first available of NAMES."""
    if name == "auto":
        return _load(available_backends()[0])
    if name not in NAMES:
        raise ValueError(f"backend: expected 'auto' or one of {NAMES}, got {name!r}")
    module = _load(name)
    if module is None:
        raise ValueError(f"backend: {name!r} is not available here (available: {available_backends()})")
    return module


def function(module, name):
    """module.name; where the backend does not provide it, a whole-chain operation built from the
    backend's own single operations (generic.py), or numpy_backend's single operation."""
    own = getattr(module, name, None)
    if own is not None:
        return own
    if name in WHOLE_CHAIN:
        return functools.partial(getattr(generic, name), lambda single: function(module, single))
    return getattr(_load("numpy"), name)
