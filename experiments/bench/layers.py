"""Cost of one training step of each CRF learning layer against one Gibbs sweep: seconds per
forward and backward of GibbsCRFLoss, PseudoLikelihoodLoss and MeanFieldLoss (pycaffe, CPU) at
the training setting, with the ratio to one sampler.sweep measured in the same run."""
import statistics
import time

import numpy as np

import sampler


# GibbsCRFLoss's backward counts pairs only where the sample differs from the truth: about 2% of
# pixels in a stage-2 run of the default scale, nearly all with random scores. Scores of a trained
# CNN favour the truth; adding FIT to the truth's score gives a sample that differs about as often
# (3% of pixels with the default CRF, printed beside the row).
FIT = 8.0


def inputs(shape, num_classes, fit=0.0):
    """Random scores (N, L, H, W) with `fit` added at their argmax, that argmax as labels, and a
    random theta (C, L, L)."""
    g = np.random.default_rng(0)
    n, num_labels = shape[:2]
    scores = g.normal(size=shape).astype(np.float32)
    labels = scores.argmax(axis=1).astype(np.uint8)
    scores += fit * (np.arange(num_labels)[:, None, None] == labels[:, None]).astype(np.float32)
    theta = (0.3 * g.normal(size=(num_classes, num_labels, num_labels))).astype(np.float32)
    return scores, labels, theta


def share_differing(shape, offsets, fit, steps):
    """The share of pixels where a chain started at random differs from the labels after `steps`
    sweeps on inputs(fit): what the layer's backward sees in the timed steps."""
    scores, labels, theta = inputs(shape, len(offsets), fit)
    chain = np.random.default_rng(1).integers(0, shape[1], size=labels.shape).astype(np.uint8)
    for step in range(steps):
        chain = sampler.sweep(scores, chain, theta, offsets, step=step)
    return float(np.mean(chain != labels))


def seconds_per_sweep(shape, offsets, repeats):
    """Median seconds of one sampler.sweep, after one untimed (compiling) sweep."""
    scores, labels, theta = inputs(shape, len(offsets))
    times = []
    for step in range(repeats + 1):
        start = time.perf_counter()
        labels = sampler.sweep(scores, labels, theta, offsets, step=step)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def layer_net(shape, edges, layer, extra, fit=0.0):
    """A pycaffe net of Input blobs feeding the CRF layer (nets.crf), filled with inputs(fit)."""
    import caffe

    from nets import crf
    from nets.runtime import net_from_text

    chains = layer == crf.LOSS
    settings = {"num_labels": shape[1], "edges": edges, **({"num_images": shape[0]} if chains else {}), **extra}
    net = net_from_text(str(crf.loss_net(shape, settings, chains=chains, layer=layer).to_proto()), caffe.TRAIN)
    scores, labels, theta = inputs(shape, len(sampler.parse_edges(edges)), fit)
    net.blobs["scores"].data[...] = scores
    net.blobs["label"].data[...] = labels[:, None]
    if chains:
        net.blobs["index"].data[...] = np.arange(shape[0])
    net.params[crf.NAME][0].data[...] = theta
    return net


def seconds_per_step(net, repeats):
    """Medians of (forward, backward) seconds, after one untimed step."""
    forward, backward = [], []
    for _ in range(repeats + 1):
        net.clear_param_diffs()
        start = time.perf_counter()
        net.forward()
        middle = time.perf_counter()
        net.backward()
        forward.append(middle - start)
        backward.append(time.perf_counter() - middle)
    return statistics.median(forward[1:]), statistics.median(backward[1:])


def rows(meanfield_iterations):
    """(row name, layer, extra param_str keys, fit) of the layers timed."""
    from nets import crf

    return ([("GibbsCRFLoss, random scores", crf.LOSS, {}, 0.0),
             ("GibbsCRFLoss, scores fit truth", crf.LOSS, {}, FIT),
             ("PseudoLikelihoodLoss", crf.PSEUDO_LIKELIHOOD, {}, 0.0)]
            + [(f"MeanFieldLoss T={t}", crf.MEANFIELD, {"iterations": t}, 0.0) for t in meanfield_iterations])


def run(shape, edges, meanfield_iterations, repeats, out):
    """Print the table to the file `out`: one sweep, then each layer's forward/backward and ratio,
    and for GibbsCRFLoss the share of pixels where its sample differs from the truth."""
    from nets import crf

    offsets = sampler.parse_edges(edges)
    sweep = seconds_per_sweep(shape, offsets, repeats)
    print(f"\n{'step':<34}{'forward s':>11}{'backward s':>12}{'total s':>10}{'x sweep':>9}{'sample != truth':>17}",
          file=out)
    print(f"{'one Gibbs sweep (sampler.sweep)':<34}{'':>11}{'':>12}{sweep:>10.3f}{1:>9.1f}", file=out, flush=True)
    for name, layer, extra, fit in rows(meanfield_iterations):
        forward, backward = seconds_per_step(layer_net(shape, edges, layer, extra, fit), repeats)
        total = forward + backward
        differ = f"{share_differing(shape, offsets, fit, repeats + 1):>16.1%}" if layer == crf.LOSS else ""
        print(f"{name:<34}{forward:>11.3f}{backward:>12.3f}{total:>10.3f}{total / sweep:>9.1f}{differ}", file=out,
              flush=True)
