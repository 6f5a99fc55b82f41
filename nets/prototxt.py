"""The nets and solvers of the training stages and the deploy nets, as prototxt text.

Stages, each run from the repo root as `caffe train -solver DIR/solver_X.prototxt`:
  solver_cnn       the CNN alone with a softmax loss
  solver_separate  the CNN frozen: the CRF loss learns theta on the scores the stage-1 CNN computed
                   once for every training image (tools/frozen_scores.py, nets/scores.py)
  solver_joint     -weights <cnn snapshot>,<separate snapshot>: CNN and theta learned together
  solver_gated_separate  image-dependent factors (nets/gate.py): the CNN frozen as in stage 2, the
                   pairwise branch and K tables per edge class learn, starting from stage 2's tables
                   and chains (tools/gated_start.py)
  solver_gated_joint     -weights <cnn snapshot>,<gated_separate snapshot>: all of it end to end
With a validation split (render's validation=), each solver has a test net (test_net_X): the
stage's net on the validation images, Caffe's Accuracy over body pixels (the background label
ignored) of the CNN's argmax (stage 1) or of the CRF's labelling by Gibbs sampling with
VALIDATION_GIBBS (the CRF stages), printed as "Test net output #0: accuracy" about
VALIDATION_PASSES times a stage. One batch holds the whole split (test_iter 1), so the figure is
the pooled body-part accuracy tools/eval.py reports, not a mean of per-batch ratios.
Deploy nets (input blob "depth", 1x1xHxW): deploy_cnn (scores, prediction = their argmax),
deploy_crf (scores, marginals from CRFMarginals, prediction = their argmax) and deploy_gated
(the same with the pairwise branch's weights into CRFMarginals).
"""
import math
from pathlib import Path

import caffe
from caffe import layers as L
from caffe.proto import caffe_pb2
from google.protobuf import text_format

from data.labels import BACKGROUND

from . import crf
from .cnn import unary_cnn
from .gate import pairwise_branch

STAGES = ("cnn", "separate", "joint", "gated_separate", "gated_joint")
GATED = ("gated_separate", "gated_joint")  # image-dependent factors: the pairwise branch, K tables
STORED_SCORES = ("separate", "gated_separate")  # the frozen CNN's scores read from the scores folder
END_TO_END = ("joint", "gated_joint")
STAGE_DOC = {
    "cnn": "Stage 1: the unary CNN alone, softmax loss.",
    "separate": "Stage 2: CNN frozen, its scores computed once; GibbsCRFLoss learns theta on them.",
    "joint": "Stage 3: CNN and theta learned together through GibbsCRFLoss.",
    "gated_separate": "Stage 4: image-dependent factors, CNN frozen: the pairwise branch and K tables per edge "
                      "class learn from stage 2's tables and chains.",
    "gated_joint": "Stage 5: image-dependent factors end to end: CNN, pairwise branch and tables together.",
}
HEADER = "# Written by tools/make_prototxt.py from nets/prototxt.py: edit nets/prototxt.py, not this file.\n"
# Adam, per stage: base_lr, and the lr_mult of the CNN and of theta in that stage's net. Each
# base_lr was chosen by tools/tune.py on a generated validation set; the records are nets/tuning/.
LEARNING = {
    "cnn": {"base_lr": 2e-3, "cnn": 1, "theta": None},  # nets/tuning/cnn.json: 5e-4 .. 4e-3
    # nets/tuning/separate.json: 5e-4 .. 4e-3. Its best, 5e-4 (0.7165), was scored after the default
    # run had been made with the runner-up 1e-3 (0.7162); two runs of 1e-3 from the same CNN scored
    # 0.7162 and 0.7175, so the two are not distinguishable and the run was not redone.
    "separate": {"base_lr": 1e-3, "cnn": 0, "theta": 1},
    # nets/tuning/joint.json: 1e-6 .. 1.5e-5, all below the separate stage's validation accuracy
    # (the smaller the rate, the closer); theta at 200x the CNN's rate
    "joint": {"base_lr": 1e-6, "cnn": 1, "theta": 200},
    # nets/tuning/gated_separate-k2.json: 2e-4 (0.6933) above 1e-3 (0.6895), both below the separate
    # stage's 0.7062 on validation; the pairwise branch ("gate") learns at the tables' rate
    "gated_separate": {"base_lr": 2e-4, "cnn": 0, "theta": 1, "gate": 1},
    "gated_joint": {"base_lr": 1e-6, "cnn": 1, "theta": 200, "gate": 200},
}


# The test nets' CRF inference: cheap and stated (the cost of a test pass per stage: the README); its
# figures are below the report's, whose Gibbs runs 20 burn-in and 50 sample sweeps.
VALIDATION_GIBBS = {"method": "gibbs", "burn_in": 1, "samples": 3}
VALIDATION_PASSES = 4


def train_net(stage, data, scores, batch_size, settings, layer=crf.LOSS, name=None):
    """Stages 1, 3 and 5 read depth from the dataset `data`; stages 2 and 4 read the stored scores
    of the frozen CNN from the folder `scores` (its HDF5 files hold scores, label, index and
    depth). The CRF stages end in the training layer `layer` (nets.crf: GibbsCRFLoss unless
    another learning method's; a layer without chains reads no index) with param_str `settings`,
    which for the gated stages holds "tables": K (the pairwise branch's weights feed the layer)."""
    n = caffe.NetSpec()
    stored, gated = stage in STORED_SCORES, stage in GATED
    source = f"{scores if stored else data}/train.txt"
    chains = stage != "cnn" and crf.has_chains(layer)
    names = ["scores" if stored else "depth", "label"] + ["index"] * chains + ["depth"] * (stored and gated)
    # In order, no shuffle: HDF5Data's shuffle draws from the process's rand(), which `-snapshot`
    # restarts, so a resumed stage would see other batches (stages.py: resume at whole epochs).
    # Each top reads the dataset of its name.
    tops = L.HDF5Data(name="data", source=source, batch_size=batch_size, ntop=len(names))
    for top_name, top in zip(names, tops):
        setattr(n, top_name, top)
    out = n.scores if stored else unary_cnn(n, n.depth, LEARNING[stage]["cnn"], settings["num_labels"])
    if stage == "cnn":
        n.loss = L.SoftmaxWithLoss(out, n.label)
    else:
        weights = pairwise_branch(n, n.depth, out, settings["tables"], LEARNING[stage]["gate"]) if gated else None
        n.loss = crf.loss_layer(out, n.label, n.index if chains else None, settings,
                                theta_lr_mult=LEARNING[stage]["theta"], to_scores=stage in END_TO_END, layer=layer,
                                weights=weights)
    return f'name: "{name or "train_" + stage}"\n' + str(n.to_proto())


def test_net(stage, validation, scores, images, settings):
    """The stage's net on the validation split, one batch of all its `images`: its depth and labels
    (validation/test.txt; the stages on stored scores: the frozen CNN's scores of it, scores/train.txt)
    -> CNN (same layer names as the train net's, so Caffe shares its parameters) -> for the CRF
    stages the labelling of crf.validation_layer -> Accuracy over body pixels."""
    n = caffe.NetSpec()
    stored, gated = stage in STORED_SCORES, stage in GATED
    source = f"{scores}/train.txt" if stored else f"{validation}/test.txt"
    names = ["scores" if stored else "depth", "label"] + ["depth"] * (stored and gated)
    tops = L.HDF5Data(name="data", source=source, batch_size=images, ntop=len(names))
    for top_name, top in zip(names, tops):
        setattr(n, top_name, top)
    out = n.scores if stored else unary_cnn(n, n.depth, LEARNING[stage]["cnn"], settings["num_labels"])
    if stage != "cnn":
        weights = pairwise_branch(n, n.depth, out, settings["tables"], LEARNING[stage]["gate"]) if gated else None
        n.labelling = out = crf.validation_layer(out, settings, VALIDATION_GIBBS, weights)
    n.accuracy = L.Accuracy(out, n.label, accuracy_param={"ignore_label": BACKGROUND})
    return f'name: "test_{stage}"\n' + str(n.to_proto())


def test_interval(iterations, passes=VALIDATION_PASSES):
    """Iterations between test passes: about `passes` of them, the last at max_iter where a divisor
    allows, more on a tie (Caffe tests at every multiple, and at the end only when max_iter is one)."""
    for count in sorted(range(max(1, passes - 2), passes + 3), key=lambda c: (abs(c - passes), -c)):
        if iterations % count == 0:
            return iterations // count
    return -(-iterations // passes)


def deploy_net(with_crf, height, width, settings):
    """deploy_cnn, or with_crf deploy_crf; deploy_gated when settings hold "tables"."""
    n = caffe.NetSpec()
    n.depth = L.Input(shape={"dim": [1, 1, height, width]})
    out = unary_cnn(n, n.depth, 1, settings["num_labels"])
    gated = with_crf and settings.get("tables") is not None
    if with_crf:
        weights = pairwise_branch(n, n.depth, out, settings["tables"]) if gated else None
        n.marginals = out = crf.deploy_layer(out, settings, weights)
    n.prediction = L.ArgMax(out, axis=1)
    return f'name: "deploy_{"gated" if gated else "crf" if with_crf else "cnn"}"\n' + str(n.to_proto())


def whole_epochs(iterations, num_images, batch_size):
    """The least multiple of an epoch's iterations (HDF5Data back at row 0: num_images / batch_size,
    or the least whole number of batches that covers whole epochs) that is at least `iterations`."""
    epoch = num_images // math.gcd(num_images, batch_size)
    return -(-iterations // epoch) * epoch


def solver(stage, net, iterations, snapshots, snapshot_every=None, *, prefix=None, base_lr=None, test=None):
    """The stage's Adam solver; snapshots named SNAPSHOTS/PREFIX_iter_N (prefix: the stage) every
    snapshot_every iterations (a resumed stage continues exactly only from whole epochs:
    whole_epochs), base_lr the stage's (LEARNING) unless given; test: the test net's file (one
    batch: test_iter 1), tested every test_interval() iterations, not before training."""
    s = caffe_pb2.SolverParameter()
    s.net = net
    if test:
        s.test_net.append(test)
        s.test_iter.append(1)
        s.test_interval = test_interval(iterations)
        s.test_initialization = False
    s.type = "Adam"
    s.base_lr = LEARNING[stage]["base_lr"] if base_lr is None else base_lr
    if stage == "cnn":  # a tenth of the rate for the last fifth: +2 points on validation (README)
        s.lr_policy, s.gamma = "multistep", 0.1
        s.stepvalue.append(iterations * 4 // 5)
    else:  # the CRF stages' persistent chains need parameters that move steadily
        s.lr_policy = "fixed"
    s.momentum, s.momentum2, s.delta = 0.9, 0.999, 1e-8
    s.weight_decay = 1e-4
    s.max_iter = iterations
    s.display = 10
    s.snapshot = min(snapshot_every or iterations, iterations)  # resume points; the last is final
    s.snapshot_prefix = f"{snapshots}/{prefix or stage}"
    s.solver_mode = caffe_pb2.SolverParameter.CPU
    s.random_seed = 1
    return text_format.MessageToString(s)


def stage_commands(net_dir, data, scores, snapshots, iters, tables, validation=None, validation_scores=None):
    """{stage: the commands that run it}, each stage from the previous stages' final snapshots
    (with a validation split, stage 2 first writes the frozen CNN's scores of it too)."""
    final = {stage: f"{snapshots}/{stage}_iter_{count}.caffemodel" for stage, count in zip(STAGES, iters)}
    cnn, separate, start = final["cnn"], final["separate"], f"{snapshots}/gated_start.caffemodel"
    train = "caffe train -solver {}/solver_{}.prototxt".format
    return {"cnn": [train(net_dir, "cnn")],
            "separate": [f"python tools/frozen_scores.py --weights {cnn} --data {data}/train.txt --out {scores}",
                         *([f"python tools/frozen_scores.py --weights {cnn} --data {validation}/test.txt "
                            f"--out {validation_scores}"] if validation else []),
                         train(net_dir, "separate")],
            "joint": [f"{train(net_dir, 'joint')} -weights {cnn},{separate}"],
            "gated_separate": [f"python tools/gated_start.py {separate} --tables {tables} --out {start}",
                               f"{train(net_dir, 'gated_separate')} -weights {start}"],
            "gated_joint": [f"{train(net_dir, 'gated_joint')} -weights {cnn},{final['gated_separate']}"]}


def render(*, data, scores, num_images, height, width, batch_size, edges, seed, iters, net_dir, snapshots,
           snapshot_every=None, base_lr=None, tables=crf.GATED_TABLES, validation=None, validation_scores=None,
           validation_images=None):
    """{file name: text} of the 5 train nets, 5 solvers and 3 deploy nets, and with a validation
    split the 5 test nets.

    data: dataset folder holding train.txt; scores: the folder of the stage-1 CNN's scores of
    its training images (stages 2 and 4 read them); num_images: the number of training images (the
    chain store's size); iters: max_iter of each stage (STAGES); tables: K of the gated stages; net_dir: the
    folder the solvers name their nets in; snapshots: folder of snapshot_prefix;
    snapshot_every: iterations between snapshots, rounded up to whole epochs (default: only the
    final one); base_lr: {stage: rate} replacing the chosen ones (for tuning). Paths are written
    as given (relative ones are relative to where `caffe train` runs). validation: the validation
    dataset folder (test.txt, never the test set), validation_scores: the folder of the stage-1
    CNN's scores of it, validation_images: its image count (a test pass is one batch of them).
    """
    if validation and not (validation_scores and validation_images):
        raise ValueError("validation: needs validation_scores and validation_images too")
    settings = crf.config(edges, num_images, seed=seed)
    gated = crf.config(edges, num_images, seed=seed, tables=tables)
    commands = stage_commands(net_dir, data, scores, snapshots, iters, tables, validation, validation_scores)
    files = {}
    for stage, count in zip(STAGES, iters, strict=True):
        files[f"train_{stage}.prototxt"] = train_net(stage, data, scores, batch_size,
                                                     gated if stage in GATED else settings)
        if validation:
            files[f"test_{stage}.prototxt"] = test_net(stage, validation, validation_scores, validation_images,
                                                       gated if stage in GATED else settings)
        steps = "".join(f"# {c}\n" for c in commands[stage])
        every = snapshot_every and whole_epochs(snapshot_every, num_images, batch_size)
        files[f"solver_{stage}.prototxt"] = (f"# {STAGE_DOC[stage]}   (mkdir -p {snapshots} first)\n{steps}"
                                             + solver(stage, f"{net_dir}/train_{stage}.prototxt", count, snapshots,
                                                      every, base_lr=(base_lr or {}).get(stage),
                                                      test=validation and f"{net_dir}/test_{stage}.prototxt"))
    files["deploy_cnn.prototxt"] = deploy_net(False, height, width, settings)
    files["deploy_crf.prototxt"] = deploy_net(True, height, width, settings)
    files["deploy_gated.prototxt"] = deploy_net(True, height, width, gated)
    return {name: HEADER + text for name, text in files.items()}


def write(out_dir, **options):
    """Write render(net_dir=out_dir, **options) into out_dir; returns {file name: Path}."""
    files = render(net_dir=str(out_dir), **options)  # first, so bad options leave nothing behind
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in files.items():
        paths[name] = out / name
        paths[name].write_text(text)
    return paths
