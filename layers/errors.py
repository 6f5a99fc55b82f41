"""Make the layers' errors visible under `caffe train`.

A Python exception leaving a layer's setup/reshape/forward/backward aborts the `caffe` tool
(std::terminate on boost::python::error_already_set) without printing it, so each method
prints the error to stderr before re-raising; pycaffe callers still get the exception.
"""
import functools
import sys
import traceback

from .blobs import BlobError
from .params import ParamError

METHODS = ("setup", "reshape", "forward", "backward")


def reports_errors(cls):
    """Class decorator: wrap METHODS of a caffe.Layer subclass."""
    for name in METHODS:
        setattr(cls, name, _reported(getattr(cls, name)))
    return cls


def _reported(method):
    @functools.wraps(method)
    def wrapper(self, *args):
        try:
            return method(self, *args)
        except (BlobError, ParamError) as e:
            print(f"{type(e).__name__}: {e}", file=sys.stderr, flush=True)
            raise
        except Exception:
            traceback.print_exc()  # a bug, not bad input: the traceback is the useful part
            sys.stderr.flush()
            raise
    return wrapper
