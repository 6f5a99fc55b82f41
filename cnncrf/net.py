"""A deploy net with trained weights, set to one inference method: the net the API runs."""
import json
import pathlib

from nets.runtime import definition_problem, net_from_text
from nets.weights import ModelError, load_weights

INFERENCE = ("cnn", "gibbs", "meanfield", "icm")


def deploy_definition(model, inference, overrides, scores_blob="scores"):
    """(prototxt text, output blob) of the deploy net `model` with the CRF layer set to the
    requested method and the given param_str overrides (burn_in, samples, seed: None = keep)."""
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format

    net = caffe_pb2.NetParameter()
    try:
        text_format.Merge(pathlib.Path(model).read_text(), net)
    except (text_format.ParseError, UnicodeDecodeError) as e:
        raise ModelError(f"{model}: not a valid prototxt ({e})") from None
    problem = definition_problem(net)
    if problem:
        raise ModelError(f"{model}: {problem}")
    crf = [i for i, l in enumerate(net.layer) if l.type == "Python" and l.python_param.layer == "CRFMarginals"]
    if crf:
        check_crf_layer(model, net, crf[0])
    if inference == "cnn":
        return text_format.MessageToString(net), scores_blob
    if not crf:
        raise ModelError(f"{model} has no CRFMarginals layer; --inference {inference} needs the CNN+CRF deploy net")
    layer = net.layer[crf[0]]
    config = json.loads(layer.python_param.param_str or "{}")
    config["method"] = inference
    config.update({k: v for k, v in overrides.items() if v is not None})
    layer.python_param.param_str = json.dumps(config)
    return text_format.MessageToString(net), layer.top[0]


def check_crf_layer(model, net, position):
    """ModelError, before Caffe builds the net, where the CRF layer (net.layer[position]) would
    refuse it in its setup, which prints a line of its own first: its param_str, or a num_labels
    other than the channels of the CNN scores it takes (found by building the net up to it)."""
    import caffe
    from google.protobuf import text_format

    from layers import params

    layer = net.layer[position]
    try:
        num_labels = params.parse(layer.python_param.param_str, params.INFER, layer.name).num_labels
    except params.ParamError as e:
        raise ModelError(f"{model}: {e}") from None
    cnn = type(net)()
    cnn.CopyFrom(net)
    del cnn.layer[position:]
    channels = net_from_text(text_format.MessageToString(cnn), caffe.TEST).blobs[layer.bottom[0]].channels
    if channels != num_labels:
        raise ModelError(f"{model}: layer '{layer.name}' has num_labels {num_labels} in its param_str, but the CNN "
                         f"scores it takes ('{layer.bottom[0]}') have {channels} channels")


def load_net(model, weights, inference, overrides, scores_blob="scores"):
    """(net, output blob, last layer to run) of a deploy net with trained weights."""
    import caffe

    from layers.blobs import BlobError

    caffe.set_mode_cpu()
    text, output = deploy_definition(model, inference, overrides, scores_blob)
    try:
        net = net_from_text(text, caffe.TEST)
    except BlobError as e:  # a Python layer's setup refused its inputs (it printed them too)
        raise ModelError(f"{model}: {e}") from None
    load_weights(net, weights)
    if output not in net.blobs:
        raise ModelError(f"{model} has no blob '{output}' (see --scores-blob)")
    # The last layer that writes the output blob: forward stops there (no CRF work for cnn).
    end = [name for name, layer_tops in net.top_names.items() if output in layer_tops][-1]
    return net, output, end
