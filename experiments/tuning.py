"""Choosing the separate stage's (stage 2's) learning rate on held-out data, quickly.

Stage 2 keeps the CNN frozen, so its scores are computed once; then the real training CRF
layer learns theta under Caffe's Adam solver exactly as in solver_separate (same batch size,
chains, seed), only without re-running the frozen CNN every iteration. Each learning rate is
scored by the Gibbs max-marginal body-part accuracy on a validation set generated with another
seed (never the test set).
"""
import os

import numpy as np
from tqdm import tqdm

import data
import sampler
from data import labels as label_set
from data import metrics
from nets import crf
from nets.prototxt import deploy_net, solver
from nets.runtime import forward_batches, net_from_text, temp_prototxt


def frozen_scores(weights, depth, settings):
    """(N, L, H, W) float32 scores of the stage-1 CNN (deploy_cnn) for depth (N, H, W)."""
    import caffe

    n, h, w = depth.shape
    net = net_from_text(deploy_net(False, h, w, settings), caffe.TEST)
    net.copy_from(str(weights))
    out = np.empty((n, settings["num_labels"], h, w), dtype=np.float32)
    for start, scores in forward_batches(net, "scores", depth, 16, "scores", "frozen CNN scores"):
        out[start:start + len(scores)] = scores
    return out


def stage2_solver(lr, settings, batch_size, shape, iters, layer=crf.LOSS):
    """Caffe's Adam solver over Input(scores, label[, index]) -> the training CRF layer `layer`
    (nets.crf; param_str `settings`), solver_separate's settings with base_lr = lr."""
    import caffe
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format

    net = str(crf.loss_net((batch_size,) + tuple(shape), settings, chains=crf.has_chains(layer), to_scores=False,
                           layer=layer).to_proto())
    params = caffe_pb2.SolverParameter()
    with temp_prototxt(net) as net_path:
        text_format.Merge(solver("separate", net_path, iters, "unused"), params)
        params.base_lr = lr
        params.snapshot = 0  # nothing to keep: the accuracies are the result
        with temp_prototxt(text_format.MessageToString(params)) as path:
            return caffe.get_solver(path)


def validation_accuracy(scores, truth, theta, offsets, burn_in, samples):
    """Body-part accuracy of the Gibbs max-marginal labelling of the validation scores."""
    preds = np.concatenate([
        sampler.marginals(scores[s:s + 50], theta, offsets, burn_in=burn_in, samples=samples).argmax(axis=1)
        for s in range(0, len(scores), 50)])
    correct, total = metrics.per_image_part_counts(truth, preds, label_set.BACKGROUND)
    return float(correct.sum() / total.sum())


def ensure_validation_set(folder, images, seed, height, width):
    """The validation split (a dataset folder's test split), generated when missing."""
    if not (folder / "test.txt").is_file():
        data.make_dataset(folder, train=1, test=images, height=height, width=width, seed=seed,
                          workers=os.cpu_count(), progress=True)
    return data.read_split(folder / "test.txt")


def tune(cnn_weights, data_dir, val_dir, rates, *, iters, eval_every, batch_size, edges, burn_in, samples,
         val_images, val_seed, layer=crf.LOSS, extra=None):
    """{"cnn": accuracy of the CNN alone, "<lr>": [[iteration, accuracy], ...] per rate}, theta
    learned by the training layer `layer` with its own param_str keys `extra` (default Gibbs ML;
    the learning comparison's other methods: experiments.compare.methods)."""
    train = data.read_split(data_dir / "train.txt")
    _, h, w = train["depth"].shape
    val = ensure_validation_set(val_dir, val_images, val_seed, h, w)
    num_images = len(train["depth"])
    settings = crf.layer_settings(crf.config(edges, num_images, seed=0), layer, **(extra or {}))
    offsets = sampler.parse_edges(edges)
    train_scores = frozen_scores(cnn_weights, train["depth"], settings)
    val_scores = frozen_scores(cnn_weights, val["depth"], settings)
    cnn = metrics.per_image_part_counts(val["label"], val_scores.argmax(axis=1), label_set.BACKGROUND)
    results = {"cnn": float(cnn[0].sum() / cnn[1].sum())}
    print(f"validation body-part accuracy, CNN alone: {results['cnn']:.4f}")
    every = eval_every or iters
    order = np.random.default_rng(0)
    for lr in rates:
        solver_ = stage2_solver(lr, settings, batch_size, train_scores.shape[1:], iters, layer)
        blobs, curve = solver_.net.blobs, []
        picks = np.concatenate([order.permutation(num_images) for _ in range(iters * batch_size // num_images + 1)])
        for it in tqdm(range(iters), desc=f"lr {lr:g}", unit="it"):
            idx = picks[it * batch_size:(it + 1) * batch_size]
            blobs["scores"].data[...] = train_scores[idx]
            blobs["label"].data[...] = train["label"][idx, None]
            if crf.has_chains(layer):
                blobs["index"].data[...] = idx
            solver_.step(1)
            if (it + 1) % every == 0 or it + 1 == iters:
                theta = solver_.net.params[crf.NAME][0].data.copy()
                curve.append([it + 1, validation_accuracy(val_scores, val["label"], theta, offsets, burn_in, samples)])
                tqdm.write(f"lr {lr:g} iteration {it + 1}: Gibbs {curve[-1][1]:.4f}, "
                           f"max |theta| {np.abs(theta).max():.2f}")
        results[f"{lr:g}"] = curve
    return results
