"""Running nets from Python: pycaffe nets from prototxt text, batched forward passes."""
import contextlib
import importlib
import os
import tempfile

from tqdm import tqdm


@contextlib.contextmanager
def temp_prototxt(text):
    """The path of a temporary file holding text, removed on exit (pycaffe reads only files)."""
    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as f:
        f.write(text)
    try:
        yield f.name
    finally:
        os.unlink(f.name)


def net_from_text(text, phase):
    """A caffe.Net from prototxt text."""
    import caffe

    with temp_prototxt(text) as path:
        return caffe.Net(path, phase)


def definition_problem(net):
    """Why building `net` (a NetParameter) as a TEST net would abort the process (Caffe checks by
    aborting) or fail inside Caffe, for the mistakes a wrong or hand-edited prototxt makes: an
    unknown layer type, a bottom no earlier layer makes, a Python layer that does not import.
    None when none is found (V1 'layers' nets, which Caffe upgrades, are not checked)."""
    import caffe

    known, made = set(caffe.layer_type_list()), set(net.input)
    for layer in (layer for layer in net.layer if _in_test_phase(layer)):
        if layer.type not in known:
            return f"layer '{layer.name}' has the unknown type '{layer.type}'"
        missing = [blob for blob in layer.bottom if blob not in made]
        if missing:
            return f"layer '{layer.name}' takes blob '{missing[0]}', which no earlier layer makes"
        if layer.type == "Python":
            module, name = layer.python_param.module, layer.python_param.layer
            try:
                found = hasattr(importlib.import_module(module), name)
            except Exception:  # failing to import in any way is the answer
                found = False
            if not found:
                return f"layer '{layer.name}': Python layer {module}.{name} cannot be imported"
        made.update(layer.top)
    return None


def _in_test_phase(layer):
    """Caffe's include/exclude rules for the state pycaffe builds a TEST net in (level 0, no stages)."""
    from caffe.proto import caffe_pb2

    def meets(rule):
        return ((not rule.HasField("phase") or rule.phase == caffe_pb2.TEST) and not rule.stage
                and rule.min_level <= 0 <= (rule.max_level if rule.HasField("max_level") else 0))
    return any(map(meets, layer.include)) if layer.include else not any(map(meets, layer.exclude))


def forward_batches(net, output, depth, batch_size, end=None, desc="forward", progress=True):
    """Feeds depth (N, H, W) to the net's input as (n, 1, H, W) batches, with a progress bar (unless
    progress is False: a caller counting images itself); yields (first image, the output blob's data
    for the batch), valid until the next batch."""
    source = net.inputs[0]
    for start in tqdm(range(0, len(depth), batch_size), desc=desc, unit="batch", disable=not progress):
        batch = depth[start:start + batch_size, None]
        net.blobs[source].reshape(*batch.shape)
        net.reshape()
        net.blobs[source].data[...] = batch
        net.forward(end=end)
        yield start, net.blobs[output].data
