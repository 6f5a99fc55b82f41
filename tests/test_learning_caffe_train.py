"""GibbsCRFLoss, PseudoLikelihoodLoss and MeanFieldLoss under `caffe train` (Adam, the project's CRF
layer definition): the last two learn (the loss on the training batch falls well below its start,
log L); with "potts": true theta is still w_c * I after training (up to the last update's rounding)
for all three, while without it theta learns the data's direction-dependent, off-diagonal
structure (and, for the two whose loss is a log-objective, fits better)."""
import os
import subprocess

import h5py
import numpy as np
import pytest

import sampler

pytestmark = [pytest.mark.caffe, pytest.mark.slow]

IMAGES, LABELS, HEIGHT, WIDTH, FEATURES, ITERATIONS = 4, 3, 8, 12, 4, 60
crf = pytest.importorskip("nets.crf", reason="pycaffe not importable: run `make setup` first")
LAYERS = {"pl": (crf.PSEUDO_LIKELIHOOD, {}), "mf": (crf.MEANFIELD, {"iterations": 3, "damping": 0.5}),
          "gibbs": (crf.LOSS, {"num_images": IMAGES})}
LOG_LOSS = ("pl", "mf")  # GibbsCRFLoss's top is an energy gap, zero in expectation at the optimum
SOLVER = """net: "{net}"
type: "Adam" base_lr: 0.05 momentum: 0.9 momentum2: 0.999 delta: 1e-8 lr_policy: "fixed"
weight_decay: 1e-3 max_iter: {iterations} display: 0 snapshot_prefix: "{prefix}" random_seed: 1 solver_mode: CPU
"""


def stripes():
    """Diagonal stripes two pixels wide, labels 0, 1, 2 in turn: left-to-right the label stays or
    steps up (mod 3), never down. Features: the one-hot label plus strong noise (weak unaries)."""
    g = np.random.default_rng(0)
    y, x = np.indices((HEIGHT, WIDTH))
    labels = np.stack([((x + y + shift) // 2) % LABELS for shift in range(IMAGES)])
    onehot = (labels[:, None] == np.arange(FEATURES)[:, None, None]).astype(np.float32)
    return onehot + g.normal(0, 1.0, onehot.shape).astype(np.float32), labels


@pytest.fixture(scope="module")
def training_data(tmp_path_factory):
    """A folder with train.h5 (data, label, index) and train.txt, the HDF5Data source."""
    root = tmp_path_factory.mktemp("learning_train")
    features, labels = stripes()
    with h5py.File(root / "train.h5", "w") as f:
        f["data"] = features
        f["label"] = labels[:, None].astype(np.float32)
        f["index"] = np.arange(IMAGES, dtype=np.float32)  # GibbsCRFLoss: each image its chain
    (root / "train.txt").write_text(str(root / "train.h5") + "\n")
    return root


def net_text(source, layer, settings):
    """HDF5 features -> a 1x1 convolution (the "CNN") -> the CRF loss layer."""
    import caffe
    from caffe import layers as L

    n = caffe.NetSpec()
    chains = crf.has_chains(layer)
    tops = L.HDF5Data(source=str(source), batch_size=IMAGES, ntop=2 + chains)
    n.data, n.label = tops[:2]
    if chains:
        n.index = tops[2]  # a top is named (the HDF5 dataset it reads) by its NetSpec attribute
    n.scores = L.Convolution(n.data, name="cnn", num_output=LABELS, kernel_size=1,
                             weight_filler={"type": "constant", "value": 0})
    n.loss = crf.loss_layer(n.scores, n.label, n.index if chains else None, settings, layer=layer)
    return str(n.to_proto())


def train(caffe_bin, root, kind, potts):
    layer, extra = LAYERS[kind]
    settings = {"num_labels": LABELS, "edges": "window:1", "potts": potts, **extra}
    name = f"{kind}_{'potts' if potts else 'free'}"
    net = root / f"{name}.prototxt"
    net.write_text(net_text(root / "train.txt", layer, settings))
    solver = root / f"{name}_solver.prototxt"
    solver.write_text(SOLVER.format(net=net, iterations=ITERATIONS, prefix=root / name))
    run = subprocess.run([str(caffe_bin), "train", "-solver", str(solver)], cwd=root, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "GLOG_minloglevel": "1"})
    assert run.returncode == 0, run.stderr[-4000:]
    return net, root / f"{name}_iter_{ITERATIONS}.caffemodel"


@pytest.fixture(scope="module")
def trained(caffe_bin, pycaffe, training_data):
    """{(kind, potts): (loss on the training set, theta)} after ITERATIONS Adam steps."""
    out = {}
    for kind in LAYERS:
        for potts in (True, False):
            net_path, weights = train(caffe_bin, training_data, kind, potts)
            net = pycaffe.Net(str(net_path), str(weights), pycaffe.TRAIN)
            out[kind, potts] = float(net.forward()["loss"]), net.params["crf"][0].data.copy()
    return out


@pytest.mark.parametrize("kind", LOG_LOSS)
@pytest.mark.parametrize("potts", [True, False])
def test_each_layer_learns(trained, kind, potts):
    loss, _ = trained[kind, potts]
    assert loss < 0.5 * np.log(LABELS), loss  # zero weights and theta start at log L


@pytest.mark.parametrize("kind", LAYERS)
def test_potts_theta_stays_potts(trained, kind):
    _, theta = trained[kind, True]
    diagonal = np.diagonal(theta, axis1=1, axis2=2)
    assert not (theta - diagonal[:, :, None] * np.eye(LABELS)).any()  # off-diagonal exactly zero
    # diagonal equal up to the last update's rounding (the layer re-projects before each use)
    assert (np.ptp(diagonal, axis=1) <= 2 * np.spacing(np.abs(diagonal).max(axis=1))).all()
    assert (np.abs(diagonal) > 0.05).all()  # every class learned a weight


@pytest.mark.parametrize("kind", LAYERS)
def test_free_theta_learns_the_direction_and_fits_better(trained, kind):
    loss, theta = trained[kind, False]
    assert sampler.learning.potts_violation(theta) is not None
    horizontal = theta[0]  # offset (0, 1): stepping down, (l, l - 1), never occurs
    assert all(horizontal[l, (l - 1) % LABELS] < horizontal[l, (l + 1) % LABELS] - 0.5 for l in range(LABELS))
    if kind in LOG_LOSS:
        assert loss < 0.8 * trained[kind, True][0]  # what the Potts restriction cannot express costs fit
