"""The CRF layer, defined once for every net, test, audit and tuning script.

Training and deploy layers share the name NAME, so a deploy net takes theta from a trained
.caffemodel (Caffe copies parameters by layer name).
"""
import json

from caffe import layers as L

from data.labels import NUM_LABELS
from layers import params

NAME = "crf"
DEFAULT_EDGES = "sparse:1,2,4,8,16,32"  # 24 classes: neighbours up to 32 px away
# K of the image-dependent ("gated") stages: tables per edge class. On the validation set (200 images,
# +-0.027) after 1000 gated steps at 2e-4: K = 1 0.6916, K = 2 0.6910, K = 3 0.6880, no K distinguishable
# (nets/tuning/gated_separate-k{1,2,3}-1000.json; the stationary separate model 0.6899).
GATED_TABLES = 2
LOSS = ("layers.crf_loss", "GibbsCRFLoss")  # maximum likelihood with persistent Gibbs chains
PSEUDO_LIKELIHOOD = ("layers.pl_loss", "PseudoLikelihoodLoss")
MEANFIELD = ("layers.meanfield_loss", "MeanFieldLoss")  # unrolled mean field, cross-entropy
LOOPY_BP = ("layers.lbp_loss", "LoopyBPLoss")  # loopy-BP beliefs for marginals (Chen et al. 2015)
LOOPY_BP_WARM = ("layers.lbp_loss", "WarmLoopyBPLoss")  # the same, messages kept per training image
DEPLOY = ("layers.crf_infer", "CRFMarginals")
VALIDATION = ("layers.crf_infer", "CRFValidation")  # the test nets' one-hot labelling
SCHEMAS = {LOSS: params.LOSS, PSEUDO_LIKELIHOOD: params.PSEUDO_LIKELIHOOD, MEANFIELD: params.MEANFIELD_LOSS,
           LOOPY_BP: params.LOOPY_BP, LOOPY_BP_WARM: params.LOOPY_BP_WARM}


def config(edges=DEFAULT_EDGES, num_images=1, num_labels=NUM_LABELS, seed=0, **extra):
    """The CRF layers' param_str as a dict, checked now by the layers' own validation (ParamError)."""
    settings = {"num_labels": num_labels, "edges": edges, "num_images": num_images, "seed": seed, **extra}
    params.parse(json.dumps(settings), params.LOSS, "CRF layer")
    return settings


def has_chains(layer):
    """True for the training layers that keep state per training image (GibbsCRFLoss's chain store,
    WarmLoopyBPLoss's messages) and so read the images' indices."""
    return layer in (LOSS, LOOPY_BP_WARM)


def layer_settings(settings, layer, **extra):
    """The param_str of the training layer `layer` from config()'s settings: the keys its schema
    knows (a layer without chains has no num_images), plus `extra` (its own keys: "potts",
    "iterations", ...), checked by the layer's own validation (ParamError)."""
    schema = SCHEMAS[layer]
    chosen = {**{key: value for key, value in settings.items() if key in schema}, **extra}
    params.parse(json.dumps(chosen), schema, layer[1])
    return chosen


def loss_layer(scores, label, index, settings, *, theta_lr_mult=1, to_scores=True, layer=LOSS, loss_weight=1,
               weights=None):
    """The training layer: GibbsCRFLoss unless `layer` names another (module, class); index None
    for a layer that keeps nothing per image (PSEUDO_LIKELIHOOD, MEANFIELD, LOOPY_BP). to_scores False: no gradient
    into the CNN at all. weights: the pairwise branch's blob of a gated model (settings "tables"),
    which always gets its gradient. The offsets and the chain store are parameters the solver
    must not touch."""
    frozen = {"lr_mult": 0, "decay_mult": 0}
    chains = [] if index is None else [index]
    gate = [] if weights is None else [weights]
    store = [frozen] * (layer == LOSS)  # the chain store's blob (WarmLoopyBPLoss keeps its messages in memory)
    return L.Python(scores, label, *chains, *gate, name=NAME, loss_weight=loss_weight,
                    propagate_down=[to_scores, False] + [False] * len(chains) + [True] * len(gate),
                    param=[{"lr_mult": theta_lr_mult, "decay_mult": 0}, frozen] + store,
                    python_param={"module": layer[0], "layer": layer[1], "param_str": json.dumps(settings)})


def deploy_settings(settings):
    """The deploy layer's param_str from a training layer's: the model keys, no chain store."""
    return {key: value for key, value in settings.items() if key in params.INFER}


def deploy_layer(scores, settings, weights=None):
    """CRFMarginals: scores (and a gated model's weights) -> marginals, with the training layer's
    name so theta is copied."""
    gate = [] if weights is None else [weights]
    return L.Python(scores, *gate, name=NAME, python_param={"module": DEPLOY[0], "layer": DEPLOY[1],
                                                            "param_str": json.dumps(deploy_settings(settings))})


def validation_layer(scores, settings, inference, weights=None):
    """CRFValidation: scores (and a gated model's weights) -> the one-hot of the labelling of
    `inference` (param_str keys method, burn_in, samples), with the training layer's name and blob
    shapes (settings' num_images) so a test net shares its theta."""
    gate = [] if weights is None else [weights]
    size = {key: settings[key] for key in ("num_images",) if key in settings}  # absent: ParamError names it
    chosen = {**deploy_settings(settings), **size, **inference}
    params.parse(json.dumps(chosen), params.VALIDATION, VALIDATION[1])
    return L.Python(scores, *gate, name=NAME, python_param={"module": VALIDATION[0], "layer": VALIDATION[1],
                                                            "param_str": json.dumps(chosen)})


def loss_net(shape, settings, *, chains=True, **options):
    """A NetSpec of Input blobs (scores (N, L, H, W), label (N, 1, H, W), for a layer with chains
    index (N,), and for a gated model (settings "tables": K) weights (N, K, H, W)) feeding the
    training layer (loss_layer's options): for tests, the audit and learning on stored scores."""
    import caffe

    n, num_labels, h, w = shape
    tables = settings.get("tables")
    net = caffe.NetSpec()
    shapes = ([{"dim": [n, num_labels, h, w]}, {"dim": [n, 1, h, w]}] + [{"dim": [n]}] * chains
              + [{"dim": [n, tables, h, w]}] * (tables is not None))
    tops = L.Input(shape=shapes, ntop=len(shapes))
    net.scores, net.label = tops[:2]
    if chains:
        net.index = tops[2]
    if tables is not None:
        net.weights = tops[-1]
    net.loss = loss_layer(net.scores, net.label, net.index if chains else None, settings,
                          weights=net.weights if tables is not None else None, **options)
    return net


def deploy_scores_net(shape, settings):
    """A NetSpec of Input blobs scores (N, L, H, W) and, gated, weights (N, K, H, W) feeding the
    deploy layer (top: marginals)."""
    import caffe

    n, _, h, w = shape
    tables = settings.get("tables")
    net = caffe.NetSpec()
    net.scores = L.Input(shape={"dim": list(shape)})
    if tables is not None:
        net.weights = L.Input(shape={"dim": [n, tables, h, w]})
    net.marginals = deploy_layer(net.scores, settings, net.weights if tables is not None else None)
    return net
