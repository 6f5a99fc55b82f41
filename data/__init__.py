"""The body-part dataset: synthetic Kinect-like generator, real-format readers, HDF5 files."""
from . import labels
from .errors import DataError
from .generate import make_dataset, make_image
from .hdf5 import check_chain_indices, read_split

__all__ = ["labels", "DataError", "make_dataset", "make_image", "read_split", "check_chain_indices"]
