"""A pycaffe net holding only the GibbsCRFLoss layer, for claims that need the real layer.

Scores, labels and image indices are Input blobs the caller fills. `propagate_down`
asks Caffe for the scores gradient (an Input blob would otherwise get none) and for
none on the labels and indices.
"""
import json

LAYER = ("layers.crf_loss", "GibbsCRFLoss")

PROTOTXT = """
name: "audit_crf"
layer {{ name: "scores" type: "Input" top: "scores" input_param {{ shape {{ {scores} }} }} }}
layer {{ name: "label" type: "Input" top: "label" input_param {{ shape {{ {label} }} }} }}
layer {{ name: "index" type: "Input" top: "index" input_param {{ shape {{ dim: {n} }} }} }}
layer {{
  name: "crf" type: "Python" bottom: "scores" bottom: "label" bottom: "index" top: "loss"
  loss_weight: 1
  propagate_down: true propagate_down: false propagate_down: false
  param {{ lr_mult: 1 decay_mult: 0 }}
  param {{ lr_mult: 0 decay_mult: 0 }}
  python_param {{ module: "{module}" layer: "{layer}" param_str: '{param_str}' }}
}}
"""


def dims(shape):
    return " ".join(f"dim: {d}" for d in shape)


def loss_net(scores, labels, offsets, *, seed=0, layer=LAYER):
    """A CPU net on scores (N, L, H, W) and labels (N, H, W), image indices 0..N-1.

    Returns the net with its inputs filled; theta is net.params['crf'][0].
    """
    import caffe
    import make_prototxt

    caffe.set_mode_cpu()
    n, num_labels, h, w = scores.shape
    param_str = json.dumps({"num_labels": num_labels, "edges": offsets.tolist(), "num_images": n,
                            "seed": seed, "backend": "auto", "sweeps": 1})
    text = PROTOTXT.format(scores=dims(scores.shape), label=dims((n, 1, h, w)), n=n,
                           module=layer[0], layer=layer[1], param_str=param_str)
    net = make_prototxt.net_from_text(text, caffe.TRAIN)
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
