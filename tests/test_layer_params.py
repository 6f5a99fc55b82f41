"""param_str of the CRF layers: defaults, and errors that name the offending key."""
import json

import pytest

from layers import params

BASE = {"num_labels": 3, "edges": "window:1"}


def parse(schema=params.LOSS, **changes):
    config = {**BASE, **({"num_images": 4} if schema is params.LOSS else {}), **changes}
    return params.parse(json.dumps({k: v for k, v in config.items() if v is not None}), schema, "Layer")


def test_defaults_and_offsets():
    p = parse()
    assert (p.sweeps, p.seed, p.backend, p.schedule) == (1, 0, "auto", "chromatic")
    assert p.offsets.shape[1] == 2 and len(p.offsets) >= 2
    q = parse(params.INFER, edges=[[0, 1], [2, 0]])
    assert (q.method, q.burn_in, q.samples) == ("gibbs", 20, 50)
    assert q.offsets.tolist() == [[0, 1], [2, 0]]


@pytest.mark.parametrize("schema, key, value", [
    (params.LOSS, "num_labels", "20"),
    (params.LOSS, "num_labels", 1),
    (params.LOSS, "num_labels", 300),
    (params.LOSS, "num_labels", 2.5),
    (params.LOSS, "num_images", 0),
    (params.LOSS, "num_images", True),
    (params.LOSS, "edges", "ring:3"),
    (params.LOSS, "edges", 5),
    (params.LOSS, "sweeps", 0),
    (params.LOSS, "seed", -1),
    (params.LOSS, "backend", "tpu"),
    (params.LOSS, "schedule", "random"),
    (params.INFER, "method", "bp"),
    (params.INFER, "samples", 0),
    (params.INFER, "burn_in", -3),
])
def test_bad_values_name_the_key(schema, key, value):
    with pytest.raises(params.ParamError, match=f"'{key}'"):
        parse(schema, **{key: value})


@pytest.mark.parametrize("key", ["num_labels", "edges", "num_images"])
def test_missing_required_key(key):
    with pytest.raises(params.ParamError, match=f"'{key}' is required"):
        parse(**{key: None})


def test_unknown_key_and_loss_only_key_in_deploy():
    with pytest.raises(params.ParamError, match="burnin"):
        parse(params.INFER, burnin=3)
    with pytest.raises(params.ParamError, match="sweeps"):
        parse(params.INFER, sweeps=2)
    with pytest.raises(params.ParamError, match="num_images"):  # a deploy layer holds no chains
        parse(params.INFER, num_images=2000)


@pytest.mark.parametrize("text", ["{num_labels: 3}", "[1, 2]", "3"])
def test_not_a_json_object(text):
    with pytest.raises(params.ParamError, match="param_str"):
        params.parse(text, params.LOSS, "Layer")
