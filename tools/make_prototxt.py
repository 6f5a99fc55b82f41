#!/usr/bin/env python
"""Write the project's nets and solvers from one description of the CNN and the CRF.

    .venv/bin/python tools/make_prototxt.py                      # prototxt/ (committed)
    .venv/bin/python tools/make_prototxt.py --out runs/small/prototxt --data datasets/small \\
        --num-images 200 --iters 300,200,200 --snapshots runs/small/snapshots

Stages, each run from the repo root as `.venv/bin/caffe train -solver OUT/solver_X.prototxt`:
  solver_cnn       the CNN alone with a softmax loss
  solver_separate  -weights <cnn snapshot>: the CNN frozen, the CRF loss learns theta
  solver_joint     -weights <separate snapshot>: CNN and theta learned together
Deploy nets (input blob "depth", 1x1xHxW): deploy_cnn (scores, prediction = their argmax)
and deploy_crf (scores, marginals from CRFMarginals, prediction = their argmax).

Other tools call write_prototxt() (or render()) to make variants; the default output is
committed in prototxt/ and a test keeps it equal to what this script writes.
"""
import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

import caffe
from caffe import layers as L
from caffe.proto import caffe_pb2
from google.protobuf import text_format
from tqdm import tqdm

from layers import params

NUM_LABELS = 20
DEFAULT_EDGES = "sparse:1,2,4,8,16,32"  # 24 classes: neighbours up to long range
# (name, channels, dilation) of the 3x3 convolutions; receptive field 1 + 2 * sum(dilations).
CNN = (("conv1", 16, 1), ("conv2", 16, 2), ("conv3", 32, 4), ("conv4", 32, 8))
RECEPTIVE_FIELD = 1 + 2 * sum(d for _, _, d in CNN)
# The depth is in metres: people stand 1.5-4.5 m away, the background is at 6 m; this maps
# people to [-0.75, 0.75] and the background to 1.5.
DEPTH_SCALE, DEPTH_SHIFT = 0.5, -1.5
STAGES = ("cnn", "separate", "joint")
# Per stage. A persistent chain advances one sweep per visit, so a CRF stage gives each chain
# iters * batch_size / num_images sweeps; theta only helped once that reached ~10-20 (measured
# on 400 images: Gibbs part accuracy 0.45 after 6 sweeps, 0.53 after 10, 0.54 after 20, CNN 0.50).
DEFAULT_ITERS = (2000, 3000, 1000)  # = the default scale of tools/replicate.py
STAGE_DOC = {
    "cnn": "Stage 1: the unary CNN alone, softmax loss.",
    "separate": "Stage 2: CNN frozen (lr_mult 0, no backward into it); GibbsCRFLoss learns theta.",
    "joint": "Stage 3: CNN and theta learned together through GibbsCRFLoss.",
}
HEADER = "# Written by tools/make_prototxt.py: edit that, not this file.\n"
# Adam, per stage: base_lr, and the lr_mult of the CNN and of theta in that stage's net.
LEARNING = {
    "cnn": {"base_lr": 1e-3, "cnn": 1, "theta": None},
    # Chosen on a held-out synthetic validation set (200 images, seed 7), default scale, 3000
    # iterations: 2e-3 -> Gibbs part accuracy 0.551, 5e-3 -> 0.543, CNN alone 0.512; 2e-2
    # oscillated (|theta| up to 26, 0.373): with 2000 chains each is swept only ~12 times,
    # so theta must move slowly for the persistent chains to keep up.
    "separate": {"base_lr": 2e-3, "cnn": 0, "theta": 1},
    # Chosen on the same validation set, from the separate snapshot, 1000 iterations (separate:
    # 0.550): CNN lr 2e-5 with theta at 50x -> 0.500 (the sampled unary gradient of chains swept
    # only ~4 more times is too stale for that rate); 5e-6 with theta at 200x (theta keeps
    # 1e-3) -> 0.563; 2e-5 with 5 sweeps per visit -> 0.566 at 5x the sampling cost.
    "joint": {"base_lr": 5e-6, "cnn": 1, "theta": 200},
}


def cnn(n, depth, lr_mult, num_labels):
    """Add the unary CNN on depth to NetSpec n; returns its scores (N, num_labels, H, W)."""
    def conv(bottom, channels, kernel, dilation):
        frozen = lr_mult == 0
        return L.Convolution(bottom, num_output=channels, kernel_size=kernel, dilation=dilation,
                             pad=dilation * (kernel // 2), weight_filler={"type": "msra"},
                             bias_filler={"type": "constant", "value": 0},
                             param=[{"lr_mult": lr_mult, "decay_mult": 0 if frozen else 1},
                                    {"lr_mult": 2 * lr_mult, "decay_mult": 0}])

    n.depth_norm = L.Power(depth, power=1, scale=DEPTH_SCALE, shift=DEPTH_SHIFT)
    x = n.depth_norm
    for name, channels, dilation in CNN:
        setattr(n, name, conv(x, channels, 3, dilation))
        x = getattr(n, name)
        setattr(n, name + "_relu", L.ReLU(x, in_place=True))
    n.scores = conv(x, num_labels, 1, 1)
    return n.scores


def crf_config(edges, num_images, num_labels, seed):
    """The CRF layers' param_str, checked now by the layers' own validation (ParamError)."""
    config = {"num_labels": num_labels, "edges": edges, "num_images": num_images, "seed": seed}
    params.parse(json.dumps(config), params.LOSS, "CRF layer")
    return config


def crf_loss(scores, label, index, theta_lr_mult, to_scores, config):
    """The GibbsCRFLoss layer ("crf"); to_scores False: no gradient into the CNN at all."""
    return L.Python(scores, label, index, name="crf", loss_weight=1,
                    propagate_down=[to_scores, False, False],
                    param=[{"lr_mult": theta_lr_mult, "decay_mult": 0},
                           {"lr_mult": 0, "decay_mult": 0}],  # the chain store
                    python_param={"module": "layers.crf_loss", "layer": "GibbsCRFLoss",
                                  "param_str": json.dumps(config)})


def train_net(stage, data, batch_size, config):
    n = caffe.NetSpec()
    ntop = 2 if stage == "cnn" else 3
    tops = L.HDF5Data(name="data", source=f"{data}/train.txt", batch_size=batch_size, shuffle=True, ntop=ntop)
    n.depth, n.label = tops[:2]
    scores = cnn(n, n.depth, LEARNING[stage]["cnn"], config["num_labels"])
    if stage == "cnn":
        n.loss = L.SoftmaxWithLoss(scores, n.label)
    else:
        n.index = tops[2]
        n.loss = crf_loss(scores, n.label, n.index, LEARNING[stage]["theta"],
                          to_scores=LEARNING[stage]["cnn"] != 0, config=config)
    return f'name: "train_{stage}"\n' + str(n.to_proto())


def deploy_net(crf, height, width, config):
    n = caffe.NetSpec()
    n.depth = L.Input(shape={"dim": [1, 1, height, width]})
    out = cnn(n, n.depth, 1, config["num_labels"])
    if crf:
        # Same layer name as in training, so Caffe copies theta (see layers/crf_infer.py).
        n.marginals = out = L.Python(out, name="crf", python_param={
            "module": "layers.crf_infer", "layer": "CRFMarginals", "param_str": json.dumps(config)})
    n.prediction = L.ArgMax(out, axis=1)
    return f'name: "deploy_{"crf" if crf else "cnn"}"\n' + str(n.to_proto())


def solver(stage, net, iterations, snapshots, snapshot_every):
    s = caffe_pb2.SolverParameter()
    s.net = net
    s.type = "Adam"
    s.base_lr = LEARNING[stage]["base_lr"]
    s.lr_policy = "fixed"
    s.momentum, s.momentum2, s.delta = 0.9, 0.999, 1e-8
    s.weight_decay = 1e-4
    s.max_iter = iterations
    s.display = 10
    s.snapshot = min(snapshot_every or iterations, iterations)  # resume points; the last is final
    s.snapshot_prefix = f"{snapshots}/{stage}"
    s.solver_mode = caffe_pb2.SolverParameter.CPU
    s.random_seed = 1
    return text_format.MessageToString(s)


def render(*, data="datasets/default", num_images=2000, height=120, width=160, batch_size=8,
           edges=DEFAULT_EDGES, seed=0, iters=DEFAULT_ITERS, net_dir="prototxt",
           snapshots="snapshots", num_labels=NUM_LABELS, snapshot_every=None):
    """{file name: text} of the 3 train nets, 3 solvers and 2 deploy nets.

    data: dataset folder holding train.txt; num_images: its number of training images (the
    chain store's size); iters: max_iter of the cnn, separate and joint stages; net_dir: the
    folder the solvers name their nets in; snapshots: folder of snapshot_prefix;
    snapshot_every: iterations between snapshots (default: only the final one). Paths are
    written as given (relative ones are relative to where `caffe train` runs: the repo root).
    """
    config = crf_config(edges, num_images, num_labels, seed)
    files = {}
    previous = None
    for stage, count in zip(STAGES, iters, strict=True):
        files[f"train_{stage}.prototxt"] = train_net(stage, data, batch_size, config)
        command = f"caffe train -solver {net_dir}/solver_{stage}.prototxt"
        if previous:
            command += f" -weights {snapshots}/{previous[0]}_iter_{previous[1]}.caffemodel"
        files[f"solver_{stage}.prototxt"] = (f"# {STAGE_DOC[stage]}\n# {command}   (mkdir -p {snapshots} first)\n"
                                             + solver(stage, f"{net_dir}/train_{stage}.prototxt", count, snapshots,
                                                      snapshot_every))
        previous = stage, count
    files["deploy_cnn.prototxt"] = deploy_net(False, height, width, config)
    files["deploy_crf.prototxt"] = deploy_net(True, height, width, config)
    return {name: HEADER + text for name, text in files.items()}


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


def write_prototxt(out_dir="prototxt", **options):
    """Write render(net_dir=out_dir, **options) into out_dir; returns {file name: Path}."""
    files = render(net_dir=str(out_dir), **options)  # first, so bad options leave nothing behind
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in files.items():
        paths[name] = out / name
        paths[name].write_text(text)
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="prototxt", help="folder to write (default prototxt)")
    ap.add_argument("--data", default="datasets/default", help="dataset folder with train.txt")
    ap.add_argument("--num-images", type=int, default=2000, help="training images in the dataset (default 2000)")
    ap.add_argument("--height", type=int, default=120)
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--edges", default=DEFAULT_EDGES, help=f"CRF edge classes (default {DEFAULT_EDGES})")
    ap.add_argument("--seed", type=int, default=0, help="seed of the Gibbs chains")
    ap.add_argument("--iters", default=",".join(map(str, DEFAULT_ITERS)),
                    help="max_iter of the cnn,separate,joint stages (default %(default)s)")
    ap.add_argument("--snapshots", default="snapshots", help="snapshot folder (default snapshots)")
    args = ap.parse_args(argv)
    try:
        iters = tuple(int(i) for i in args.iters.split(","))
        if len(iters) != 3 or min(iters) < 1:
            raise ValueError
    except ValueError:
        print(f"make_prototxt.py: --iters must be three positive integers, got {args.iters!r}", file=sys.stderr)
        return 2
    for name in ("height", "width", "batch_size"):
        if getattr(args, name) < 1:
            print(f"make_prototxt.py: --{name.replace('_', '-')} must be positive", file=sys.stderr)
            return 2
    try:
        paths = write_prototxt(args.out, data=args.data, num_images=args.num_images, height=args.height,
                               width=args.width, batch_size=args.batch_size, edges=args.edges,
                               seed=args.seed, iters=iters, snapshots=args.snapshots)
    except params.ParamError as e:
        print(f"make_prototxt.py: {e}", file=sys.stderr)
        return 2
    print("\n".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
