"""Segmenting depth maps into body parts with a trained model, from Python:

    import cnncrf
    model = cnncrf.load("prototxt/deploy_crf.prototxt", "runs/default/models/joint.caffemodel", "gibbs")
    labels, marginals = model.segment(depth)        # depth (H, W) metres, any size
    labels, marginals = model.segment(cnncrf.read_depth("frame.png"))   # 16-bit PNG in mm, EXR, .npy

labels (H, W) uint8 (data.labels.NAMES), marginals (20, H, W) float32. tools/segment.py and
tools/eval.py go through the same Model.
"""
from .depth import prepare, read_depth
from .model import Model, load
from .net import INFERENCE

__all__ = ["INFERENCE", "Model", "load", "prepare", "read_depth"]
