"""The project's Caffe nets: the unary CNN, the CRF layer, the train / deploy nets and solvers
of the three stages, and the helpers that build and run nets from Python (pycaffe)."""
