"""Models a user can ship: a training snapshot's learned weights without its chain store.

A training snapshot's CRF layer holds theta, the offsets it belongs to and one persistent
chain per training image (tens of MB); a deploy net needs only the first two. export_model
keeps every layer that has parameters, drops the chain store, and names the snapshot it came
from in the model (NetParameter.name), which is also how a later export recognises a file it
may replace. export_tables writes the same kind of model from a CNN model and tables made
without training (piecewise learning, experiments/compare).

A model records the scale it was trained at (training_scale: the image size and, where the data
gives it, the horizontal field of view) in a layer entry of that name without parameters: Caffe's
copy skips layers its net lacks and the weights readers look only at layers with parameters, so
the model loads as before, and segmenting brings an image of another size to that pixel scale
first (cnncrf).
"""
import json
from pathlib import Path

import numpy as np

import sampler
from data import staging
from data.dataset_dir import refuse_overlap

from .crf import DEPLOY, NAME, deploy_settings
from .weights import MODEL_BLOBS, ModelError, blob_array, read_netparameter

MARK = "exported from "
SCALE = "training_scale"  # the layer entry holding the training scale as JSON in its python_param.param_str


def is_exported(path):
    """True for a model export_model wrote (and may therefore replace)."""
    try:
        return read_netparameter(path).name.startswith(MARK)
    except (ModelError, OSError):
        return False


def export_model(snapshots, out, trained_at=None, scale_required=False):
    """Write the deploy model of one snapshot, or of several that hold different layers (the
    separate stage: the stage-1 CNN's and stage 2's CRF), to `out` (atomically); returns its
    size in bytes. trained_at: the training scale to record (training_scale()); None keeps the
    one an input records (an exported CNN model), if any: with scale_required, there must be one."""
    from caffe.proto import caffe_pb2

    snapshots = [snapshots] if isinstance(snapshots, (str, Path)) else list(snapshots)
    out = Path(out)
    _check_replaceable(out)
    refuse_overlap(out, snapshots)
    model = caffe_pb2.NetParameter()
    model.name = MARK + ", ".join(Path(s).name for s in snapshots)
    source, recorded = {}, {}
    for snapshot in snapshots:
        parsed = read_netparameter(snapshot)
        recorded[snapshot] = _scale_of(parsed, snapshot)
        for layer in parsed.layer:
            if not layer.blobs:
                continue
            if layer.name in source:
                raise ModelError(f"layer '{layer.name}' is in both {source[layer.name]} and {snapshot}; "
                                 f"give snapshots that hold different layers")
            source[layer.name] = snapshot
            kept = model.layer.add()
            kept.CopyFrom(layer)
            if layer.name == NAME:
                if len(layer.blobs) < MODEL_BLOBS:
                    raise ModelError(f"{snapshot}: layer '{NAME}' has {len(layer.blobs)} parameter blobs, "
                                     f"expected theta and offsets")
                del kept.blobs[MODEL_BLOBS:]
    if trained_at is not None and not _valid_scale(trained_at):
        raise ModelError(f"training scale {trained_at!r}: expected {{'height': H, 'width': W}} and optionally "
                         f"'hfov_deg'")
    scale = trained_at or _one_scale(recorded)
    if scale_required and not scale:
        raise ModelError(f"{out}: none of the snapshots records the image size they were trained at; give it "
                         f"(tools/export_model.py --trained-at WxH or --data TRAIN.txt)")
    _record_scale(model, scale)
    return _write(model, out)


def export_tables(cnn_model, theta, settings, out, origin):
    """Write a model of the CNN layers of `cnn_model` (an exported model) and a CRF layer holding
    theta (C, L, L) and the offsets of settings["edges"] (its param_str: the deploy layer's
    settings, where tools read the edge classes); `origin` says in the model's name how theta
    was made. Returns its size in bytes."""
    from caffe.proto import caffe_pb2

    out = Path(out)
    _check_replaceable(out)
    offsets = sampler.parse_edges(settings["edges"])
    theta = np.asarray(theta, dtype=np.float32)
    if theta.shape != (len(offsets), settings["num_labels"], settings["num_labels"]):
        raise ModelError(f"theta has shape {theta.shape}, the settings want "
                         f"{(len(offsets), settings['num_labels'], settings['num_labels'])}")
    model = caffe_pb2.NetParameter()
    model.name = f"{MARK}{Path(cnn_model).name} with {origin}"
    cnn = read_netparameter(cnn_model)
    for layer in cnn.layer:
        if layer.blobs and layer.name != NAME:
            model.layer.add().CopyFrom(layer)
    _record_scale(model, _scale_of(cnn, cnn_model))
    layer = model.layer.add()
    layer.name, layer.type = NAME, "Python"
    layer.python_param.module, layer.python_param.layer = DEPLOY
    layer.python_param.param_str = json.dumps(deploy_settings(settings))
    for array in (theta, offsets.astype(np.float32)):
        blob = layer.blobs.add()
        blob.shape.dim.extend(array.shape)
        blob.data.extend(array.ravel().tolist())
    return _write(model, out)


def gated_start(snapshot, tables, out):
    """Write the start of the gated stage from a stationary CRF stage's training snapshot: its CRF
    layer with theta (C, L, L) repeated as K = tables tables (C, K, L, L), the offsets and (Gibbs
    ML's) the chain store as they are. The pairwise branch's weights sum to 1 at every pixel (a softmax),
    so the gated model starts as the stationary one and its chains go on where they were.
    Returns the file's size in bytes."""
    from caffe.proto import caffe_pb2

    out = Path(out)
    _check_replaceable(out)
    refuse_overlap(out, [snapshot])
    layers = {layer.name: layer for layer in read_netparameter(snapshot).layer}
    if NAME not in layers or len(layers[NAME].blobs) < MODEL_BLOBS:
        raise ModelError(f"{snapshot}: has no CRF layer '{NAME}' with theta and offsets; give the separate stage's "
                         f"snapshot")
    theta = blob_array(layers[NAME].blobs[0])
    if theta.ndim != 3:
        raise ModelError(f"{snapshot}: layer '{NAME}' holds theta of shape {theta.shape}, not one stationary "
                         f"table per edge class (C, L, L)")
    model = caffe_pb2.NetParameter()
    model.name = f"{MARK}{Path(snapshot).name} as the start of {tables} tables per edge class"
    layer = model.layer.add()
    layer.CopyFrom(layers[NAME])
    tiled = np.repeat(theta[:, None], tables, axis=1)
    del layer.blobs[0].shape.dim[:]
    layer.blobs[0].shape.dim.extend(tiled.shape)
    del layer.blobs[0].data[:]
    layer.blobs[0].data.extend(tiled.ravel().tolist())
    return _write(model, out)


def training_scale(source):
    """The scale of a training split (.txt or .h5) to record: {"height", "width"} of its images and,
    where its dataset's meta.json gives the focal length (generated data), "hfov_deg"."""
    from data.hdf5 import image_shape

    _, height, width = image_shape(source)
    scale = {"height": height, "width": width}
    try:
        meta = json.loads((Path(source).parent / "meta.json").read_text())
    except (OSError, ValueError):
        return scale
    if isinstance(meta, dict) and meta.get("width") == width and isinstance(meta.get("focal_px"), (int, float)):
        scale["hfov_deg"] = round(float(np.degrees(2 * np.arctan(width / 2 / meta["focal_px"]))), 6)
    return scale


def recorded_scale(path):
    """The training scale a model records ({"height", "width"[, "hfov_deg"]}), or None."""
    return _scale_of(read_netparameter(path), path)


def _scale_of(net, path):
    entries = [layer for layer in net.layer if layer.name == SCALE]
    if not entries:
        return None
    text = entries[0].python_param.param_str
    try:
        scale = json.loads(text)
    except ValueError:
        scale = None
    if not _valid_scale(scale):
        raise ModelError(f"{path}: layer '{SCALE}' holds {text!r}, not a training scale "
                         f'({{"height": H, "width": W}} and optionally "hfov_deg")')
    return scale


def _valid_scale(scale):
    def positive(value, limit=float("inf"), kind=(int,)):
        return isinstance(value, kind) and not isinstance(value, bool) and 0 < value < limit
    return (isinstance(scale, dict) and set(scale) <= {"height", "width", "hfov_deg"}
            and positive(scale.get("height")) and positive(scale.get("width"))
            and ("hfov_deg" not in scale or positive(scale["hfov_deg"], 180, (int, float))))


def _one_scale(recorded):
    """The scale the inputs ({path: scale or None}) record; ModelError where two differ."""
    scales = {json.dumps(s, sort_keys=True): path for path, s in recorded.items() if s}
    if len(scales) > 1:
        (a, first), (b, second) = list(scales.items())[:2]
        raise ModelError(f"{first} records training at {a} but {second} at {b}; give snapshots of one scale")
    return json.loads(next(iter(scales))) if scales else None


def _record_scale(model, scale):
    if scale:
        entry = model.layer.add()
        entry.name = SCALE
        entry.python_param.param_str = json.dumps(scale, sort_keys=True)


def _check_replaceable(out):
    if out.exists() and not is_exported(out):
        raise ModelError(f"{out}: exists and is not a model exported by this tool; not replacing it")


def _write(model, out):
    """Serialise the NetParameter to `out` atomically; returns its size in bytes. No partial file
    outlives a failure, nor one a killed export left (data.staging)."""
    data = model.SerializeToString()
    staging.remove_stale_partials(out)
    partial = staging.partial_path(out)
    try:
        partial.write_bytes(data)
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return len(data)
