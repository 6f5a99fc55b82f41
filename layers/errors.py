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
    """Class decorator: wrap the METHODS a caffe.Layer subclass defines itself (inherited ones
    were wrapped in their own class)."""
    for name in METHODS:
        if name in vars(cls):
            setattr(cls, name, _reported(vars(cls)[name]))
    return cls


def _reported(method):
    @functools.wraps(method)
    def wrapper(self, *args):
        try:
            return method(self, *args)
        except Exception as e:
            if not getattr(e, "reported", False):  # a subclass's method calling super()'s: print once
                if isinstance(e, (BlobError, ParamError)):
                    print(f"{type(e).__name__}: {e}", file=sys.stderr, flush=True)
                else:
                    traceback.print_exc()  # a bug, not bad input: the traceback is the useful part
                    sys.stderr.flush()
                e.reported = True
            raise
    return wrapper
