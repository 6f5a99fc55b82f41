"""Models a user can ship: a training snapshot's learned weights without its chain store.

A training snapshot's CRF layer holds theta, the offsets it belongs to and one persistent
chain per training image (tens of MB); a deploy net needs only the first two. export_model
keeps every layer that has parameters, drops the chain store, and names the snapshot it came
from in the model (NetParameter.name), which is also how a later export recognises a file it
may replace.
"""
import os
from pathlib import Path

from .crf import NAME
from .weights import MODEL_BLOBS, ModelError, read_netparameter

MARK = "exported from "


def is_exported(path):
    """True for a model export_model wrote (and may therefore replace)."""
    try:
        return read_netparameter(path).name.startswith(MARK)
    except (ModelError, OSError):
        return False


def export_model(snapshot, out):
    """Write the deploy model of `snapshot` to `out` (atomically); returns its size in bytes."""
    from caffe.proto import caffe_pb2

    trained = read_netparameter(snapshot)
    out = Path(out)
    if out.exists() and not is_exported(out):
        raise ModelError(f"{out}: exists and is not a model exported by this tool; not replacing it")
    if Path(snapshot).resolve() == out.resolve():
        raise ModelError(f"{out}: is the snapshot itself; choose another --out")
    model = caffe_pb2.NetParameter()
    model.name = f"{MARK}{Path(snapshot).name}"
    for layer in trained.layer:
        if not layer.blobs:
            continue
        kept = model.layer.add()
        kept.CopyFrom(layer)
        if layer.name == NAME:
            if len(layer.blobs) < MODEL_BLOBS:
                raise ModelError(f"{snapshot}: layer '{NAME}' has {len(layer.blobs)} parameter blobs, expected "
                                  f"theta and offsets (a snapshot from before the offsets were recorded?)")
            del kept.blobs[MODEL_BLOBS:]
    data = model.SerializeToString()
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    partial.write_bytes(data)
    partial.replace(out)
    return len(data)
