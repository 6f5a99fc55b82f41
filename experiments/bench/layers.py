"""Cost of one training step of each CRF learning layer against one Gibbs sweep: seconds per
forward and backward of GibbsCRFLoss, PseudoLikelihoodLoss and MeanFieldLoss (pycaffe, CPU) at
the training setting, with the ratio to one sampler.sweep measured in the same run."""
import statistics
import time

import numpy as np

import sampler


def inputs(shape, num_classes):
    """Random scores (N, L, H, W), their argmax as labels, and a random theta (C, L, L)."""
    g = np.random.default_rng(0)
    n, num_labels = shape[:2]
    scores = g.normal(size=shape).astype(np.float32)
    theta = (0.3 * g.normal(size=(num_classes, num_labels, num_labels))).astype(np.float32)
    return scores, scores.argmax(axis=1).astype(np.uint8), theta


def seconds_per_sweep(shape, offsets, repeats):
    """Median seconds of one sampler.sweep, after one untimed (compiling) sweep."""
    scores, labels, theta = inputs(shape, len(offsets))
    times = []
    for step in range(repeats + 1):
        start = time.perf_counter()
        labels = sampler.sweep(scores, labels, theta, offsets, step=step)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def layer_net(shape, edges, layer, extra):
    """A pycaffe net of Input blobs feeding the CRF layer (nets.crf), filled with inputs()."""
    import caffe

    from nets import crf
    from nets.runtime import net_from_text

    chains = layer == crf.LOSS
    settings = {"num_labels": shape[1], "edges": edges, **({"num_images": shape[0]} if chains else {}), **extra}
    net = net_from_text(str(crf.loss_net(shape, settings, chains=chains, layer=layer).to_proto()), caffe.TRAIN)
    scores, labels, theta = inputs(shape, len(sampler.parse_edges(edges)))
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
    """(row name, layer, extra param_str keys) of the layers timed."""
    from nets import crf

    return ([("GibbsCRFLoss (1 sweep)", crf.LOSS, {}), ("PseudoLikelihoodLoss", crf.PSEUDO_LIKELIHOOD, {})]
            + [(f"MeanFieldLoss T={t}", crf.MEANFIELD, {"iterations": t}) for t in meanfield_iterations])


def run(shape, edges, meanfield_iterations, repeats, out):
    """Print the table to the file `out`: one sweep, then each layer's forward/backward and ratio."""
    offsets = sampler.parse_edges(edges)
    sweep = seconds_per_sweep(shape, offsets, repeats)
    print(f"\n{'step':<34}{'forward s':>11}{'backward s':>12}{'total s':>10}{'x sweep':>9}", file=out)
    print(f"{'one Gibbs sweep (sampler.sweep)':<34}{'':>11}{'':>12}{sweep:>10.3f}{1:>9.1f}", file=out, flush=True)
    for name, layer, extra in rows(meanfield_iterations):
        forward, backward = seconds_per_step(layer_net(shape, edges, layer, extra), repeats)
        total = forward + backward
        print(f"{name:<34}{forward:>11.3f}{backward:>12.3f}{total:>10.3f}{total / sweep:>9.1f}", file=out, flush=True)
