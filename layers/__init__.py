"""Caffe Python layers: thin adapters from blobs to the `sampler` package."""
