"""A pycaffe net holding only the training CRF layer (nets.crf.loss_net), for claims that need
the real layer. Scores, labels and image indices are Input blobs the caller fills; the scores
get a gradient (propagate_down), labels and indices none."""
from nets import crf

LAYER = crf.LOSS


def loss_net(scores, labels, offsets, *, seed=0, layer=LAYER):
    """A CPU net on scores (N, L, H, W) and labels (N, H, W), image indices 0..N-1.

    Returns the net with its inputs filled; theta is net.params['crf'][0].
    """
    import caffe

    from nets.runtime import net_from_text

    caffe.set_mode_cpu()
    n, num_labels, h, w = scores.shape
    settings = crf.config(offsets.tolist(), n, num_labels, seed=seed, backend="auto", sweeps=1)
    net = net_from_text(str(crf.loss_net(scores.shape, settings, layer=layer).to_proto()), caffe.TRAIN)
    net.blobs["scores"].data[...] = scores
    net.blobs["label"].data[...] = labels[:, None]
    net.blobs["index"].data[...] = range(n)
    return net


def gradients(net):
    """One forward/backward pass: (scores diff, theta diff), copies."""
    net.clear_param_diffs()  # the layer accumulates into theta's diff, as Caffe layers do
    net.forward()
    net.backward()
    return net.blobs["scores"].diff.copy(), net.params["crf"][0].diff.copy()
