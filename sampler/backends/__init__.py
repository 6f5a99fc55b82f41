"""Backend registry. A backend is a module `sampler/backends/<name>_backend.py` with
`available() -> bool` (False where it cannot run, e.g. CuPy without a GPU) and any of:
sweep, icm, conditionals, count, meanfield, with numpy_backend's signatures (NumPy arrays
in and out); numpy_backend supplies whatever a backend leaves out. Dropping in
`cupy_backend.py` is enough to register "cupy" (and to make "auto" prefer it).
"""
import functools
import importlib

NAMES = ("cupy", "numba", "numpy")  # also the order "auto" prefers


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
    """module.name, or the NumPy reference where the backend does not provide it."""
    return getattr(module, name, None) or getattr(_load("numpy"), name)
