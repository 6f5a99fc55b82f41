"""Trained weights: reading a .caffemodel, and loading it into a net only when it covers the
net and was trained with the net's CRF settings (Caffe itself copies by layer name, silently
leaves layers it does not find at their initial values, and aborts on a shape mismatch)."""
from pathlib import Path

import numpy as np

from .crf import NAME

MODEL_BLOBS = 2  # the CRF layer's theta and offsets; a training snapshot adds the chain store


class ModelError(ValueError):
    """Weights that do not fit, or a file that is not a model; the message names both sides."""


def read_netparameter(path, finite=True):
    """The NetParameter of a .caffemodel; with finite, refused when a parameter blob holds NaN or
    Inf (Caffe computes with them silently: the argmax of NaN scores is a label like any other).
    Every reader of weights (nets, exports, tables) comes through here."""
    from caffe.proto import caffe_pb2
    from google.protobuf.message import DecodeError

    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(Path(path).read_bytes())
    except DecodeError as e:
        raise ModelError(f"{path}: not a .caffemodel ({e})") from None
    if not any(layer.blobs for layer in net.layer):
        raise ModelError(f"{path}: holds no trained parameters")
    if finite:
        for layer in net.layer:
            for i, blob in enumerate(layer.blobs):
                values = np.asarray(blob.data, dtype=np.float32)
                bad = ~np.isfinite(values)
                if bad.any():
                    raise ModelError(f"{path}: layer '{layer.name}' blob {i} holds {values[bad][0]} "
                                     f"({bad.sum()} of {values.size} values not finite); did training diverge?")
    return net


def blob_array(blob):
    shape = tuple(blob.shape.dim) or (blob.num, blob.channels, blob.height, blob.width)
    return np.array(blob.data, dtype=np.float32).reshape(shape)


def check_weights(net, path):
    """Refuse weights that leave a learnable layer of `net` uninitialised, do not fit its shapes,
    are a training snapshot where a model is needed, or were trained with other edge classes."""
    trained = {layer.name: layer for layer in read_netparameter(path).layer if layer.blobs}
    missing = [name for name in net.params if name not in trained]
    if missing:
        raise ModelError(f"{path}: has no weights for layer(s) {missing} of the net, which would keep their "
                         f"initial values (layers with weights in the file: {sorted(trained)})")
    for name, blobs in net.params.items():
        have = [blob_array(b) for b in trained[name].blobs]
        if name == NAME and len(have) > MODEL_BLOBS and len(blobs) == MODEL_BLOBS:
            raise ModelError(f"{path}: is a training snapshot (layer '{name}' carries the chain store); export "
                             f"it first: tools/export_model.py {path} --out MODEL.caffemodel")
        want = [tuple(b.data.shape) for b in blobs]
        if name == NAME and have and tables_of(have[0].shape) != tables_of(want[0]):
            raise ModelError(f"{path}: was trained with {describe_tables(tables_of(have[0].shape))} but the net's CRF "
                             f"layer has {describe_tables(tables_of(want[0]))}; use the settings the model was "
                             f"trained with")
        if [a.shape for a in have] != want:
            raise ModelError(f"{path}: layer '{name}' has blobs {[a.shape for a in have]} but the net expects {want}")
        if name == NAME and not np.array_equal(have[1], blobs[1].data):
            raise ModelError(f"{path}: was trained with edge classes {have[1].astype(int).tolist()} but the net's "
                             f"CRF layer is set to {blobs[1].data.astype(int).tolist()}; use the settings the model "
                             f"was trained with")


def tables_of(theta_shape):
    """K of a gated model's theta (C, K, L, L); None for a stationary theta (C, L, L)."""
    return theta_shape[1] if len(theta_shape) == 4 else None


def model_tables(path):
    """K of a gated model's CRF layer; None for a stationary one or a model without a CRF layer."""
    layers = {l.name: l for l in read_netparameter(path).layer if l.blobs}
    return tables_of(blob_array(layers[NAME].blobs[0]).shape) if NAME in layers else None


def describe_tables(tables):
    return ("one stationary table per edge class (no param_str 'tables')" if tables is None else
            f"{tables} tables per edge class (image-dependent factors, param_str 'tables': {tables})")


def load_weights(net, path):
    """check_weights, then Caffe's copy."""
    check_weights(net, path)
    net.copy_from(str(path))


def crf_tables(path, layer=NAME):
    """(theta (C, L, L) or, gated, (C, K, L, L), offsets (C, 2) int64) of the CRF layer of a model:
    what it was trained with.
    The one reader of a model's tables (evaluation, figures, tools/plot_theta.py)."""
    layers = {l.name: l for l in read_netparameter(path).layer if l.blobs}
    if layer not in layers or len(layers[layer].blobs) < MODEL_BLOBS:
        raise ModelError(f"{path}: has no layer '{layer}' with theta and offsets (layers with weights: "
                         f"{sorted(layers)})")
    theta, offsets = (blob_array(b) for b in layers[layer].blobs[:MODEL_BLOBS])
    if theta.ndim not in (3, 4) or theta.shape[-1] != theta.shape[-2] or offsets.shape != (len(theta), 2):
        raise ModelError(f"{path}: layer '{layer}' has blobs of shapes {theta.shape} and {offsets.shape}, not "
                         f"theta (C, L, L) or (C, K, L, L) and its offsets (C, 2)")
    return theta, offsets.astype(np.int64)
