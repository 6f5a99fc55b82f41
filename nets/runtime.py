"""Running nets from Python: pycaffe nets from prototxt text, batched forward passes."""
import contextlib
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


def forward_batches(net, output, depth, batch_size, end=None, desc="forward"):
    """Feeds depth (N, H, W) to the net's input as (n, 1, H, W) batches, with a progress bar;
    yields (first image, the output blob's data for the batch), valid until the next batch."""
    source = net.inputs[0]
    for start in tqdm(range(0, len(depth), batch_size), desc=desc, unit="batch"):
        batch = depth[start:start + batch_size, None]
        net.blobs[source].reshape(*batch.shape)
        net.reshape()
        net.blobs[source].data[...] = batch
        net.forward(end=end)
        yield start, net.blobs[output].data
