"""The project's Caffe nets: the unary CNN, the CRF layer, the train / deploy nets and solvers
of the three stages, and the helpers that build and run nets from Python (pycaffe)."""
import os

# Caffe's logging reads this once, when the library loads (so before anything imports caffe:
# every caffe import of the project comes after this package's): without it each net built
# prints its whole definition on stderr, burying a tool's output. A user's own setting wins.
os.environ.setdefault("GLOG_minloglevel", "2")
