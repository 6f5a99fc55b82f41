"""Caffe with Python layers works as the project needs it: `caffe train` updates a Python
layer's parameter blob, and snapshots it."""
import subprocess
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.caffe

# A loss layer with one learnable scalar w: loss = (w - target)^2 / 2, gradient w - target.
LAYER = textwrap.dedent('''
    import caffe
    import numpy as np

    class PullTowards(caffe.Layer):
        def setup(self, bottom, top):
            self.target = float(self.param_str)
            self.blobs.add_blob(1)
            self.blobs[0].data[...] = 0.0

        def reshape(self, bottom, top):
            top[0].reshape(1)

        def forward(self, bottom, top):
            top[0].data[0] = 0.5 * (self.blobs[0].data[0] - self.target) ** 2

        def backward(self, top, propagate_down, bottom):
            self.blobs[0].diff[0] = top[0].diff[0] * (self.blobs[0].data[0] - self.target)
''')

NET = textwrap.dedent('''
    name: "smoke"
    layer { name: "x" type: "DummyData" top: "x"
            dummy_data_param { shape { dim: 1 } } }
    layer { name: "pull" type: "Python" bottom: "x" top: "loss" loss_weight: 1
            param { lr_mult: 1 decay_mult: 0 }
            python_param { module: "smoke_layer" layer: "PullTowards" param_str: "3.0" } }
''')

SOLVER = textwrap.dedent('''
    net: "{net}"
    base_lr: 0.1
    lr_policy: "fixed"
    momentum: 0.0
    max_iter: 10
    display: 1
    snapshot: 10
    snapshot_prefix: "{prefix}"
    solver_mode: CPU
''')


def test_caffe_reports_version(caffe_bin):
    out = subprocess.run([caffe_bin, "--version"], capture_output=True, text=True, check=True)
    assert "caffe version 1.0.0" in out.stdout + out.stderr


def test_python_layer_blob_is_trained_and_snapshotted(caffe_bin, pycaffe, tmp_path):
    (tmp_path / "smoke_layer.py").write_text(LAYER)
    net = tmp_path / "net.prototxt"
    net.write_text(NET)
    solver = tmp_path / "solver.prototxt"
    solver.write_text(SOLVER.format(net=net, prefix=tmp_path / "snap"))

    env = {"PYTHONPATH": str(tmp_path), "GLOG_logtostderr": "1", "PATH": "/usr/bin:/bin"}
    run = subprocess.run([caffe_bin, "train", "-solver", str(solver)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]

    # Plain SGD on (w-3)^2/2 with rate 0.1 from w=0: w_k = 3 (1 - 0.9^k).
    weights = tmp_path / "snap_iter_10.caffemodel"
    assert weights.exists(), run.stderr[-3000:]
    from caffe.proto import caffe_pb2

    saved = caffe_pb2.NetParameter()
    saved.ParseFromString(weights.read_bytes())
    w, = [layer.blobs[0].data[0] for layer in saved.layer if layer.name == "pull"]
    assert w == pytest.approx(3.0 * (1 - 0.9 ** 10), rel=1e-5)
