"""Property tests of the parsers that take user text: the CRF layers' param_str
(layers.params.parse) and edge specs (sampler.offsets). Any value either parses to a valid
setting or raises the parser's own error naming what is wrong; never another exception, and
never an allocation out of proportion to the input (a mistyped "window:1000000" must not
build a million-offset table)."""
import json
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sampler
from layers import params
from sampler import offsets

# Reproducible in CI (derandomize: the examples follow from the test alone), nothing written
# to a .hypothesis folder, a few seconds for the module.
FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

BASE = {"LOSS": {"num_labels": 20, "edges": "sparse:1,2", "num_images": 4},
        "INFER": {"num_labels": 20, "edges": "sparse:1,2"}}
# The oracle: what a valid value of each key is, written out independently of params.py.
RANGES = {"num_labels": (2, 255), "seed": (0, 2**63 - 1), "num_images": (1, None), "sweeps": (1, None),
          "burn_in": (0, None), "samples": (1, None), "iterations": (1, None), "tables": (1, 64)}
CHOICES = {"backend": ("auto",) + sampler.backends.NAMES, "schedule": ("chromatic", "raster"),
           "method": ("gibbs", "meanfield", "icm", "lbp")}

json_leaves = (st.none() | st.booleans() | st.integers() | st.integers(-3, 300)
               | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
               | st.sampled_from(["auto", "numpy", "numba", "raster", "icm", "window:2", "sparse:1,4"]))
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=12)
# int64's ends (abs(-2**63) wraps), beyond it (object arrays), huge and fractional floats
coordinates = (st.integers(-3, 3) | st.integers(-600, 600)
               | st.sampled_from([-2**63, 2**63 - 1, 2**64, 1e300, 0.5, float("nan")]))
offset_lists = (st.lists(st.tuples(coordinates, coordinates).map(list), min_size=1, max_size=3)
                | st.lists(st.lists(coordinates, max_size=3), max_size=4))
edge_texts = (st.text(max_size=20)
              | st.builds(lambda kind, numbers, sep: f"{kind}:{sep.join(map(str, numbers))}",
                          st.sampled_from(["window", "sparse", " sparse", "ring"]),
                          st.lists(st.integers(-3, 10**7) | st.integers(1, 40), max_size=6),
                          st.sampled_from([",", ", ", ";"])))
edge_specs = edge_texts | offset_lists | json_values


def bounded_peak(work, limit=2_000_000):
    """work()'s result or its exception, having checked that it held under `limit` bytes at once."""
    tracemalloc.start()
    try:
        try:
            return work()
        finally:
            assert tracemalloc.get_traced_memory()[1] < limit
    finally:
        tracemalloc.stop()


def assert_valid_offsets(found):
    assert found.dtype == np.int64 and found.ndim == 2 and found.shape[1] == 2
    assert 1 <= len(found) <= offsets.MAX_OFFSETS
    assert np.all((found >= -offsets.MAX_REACH) & (found <= offsets.MAX_REACH))  # not abs(): it wraps -2**63
    dy, dx = found[:, 0], found[:, 1]
    assert np.all((dy > 0) | ((dy == 0) & (dx > 0)))  # canonical half-plane, so never (0, 0)
    assert len({tuple(o) for o in found.tolist()}) == len(found)


def valid(key, value):
    if key in RANGES:
        low, high = RANGES[key]
        return type(value) is int and value >= low and (high is None or value <= high)
    if key in CHOICES:
        return value in CHOICES[key]
    if key == "potts":
        return type(value) is bool
    assert key == "edges"
    try:
        assert_valid_offsets(sampler.parse_edges(value))
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("schema", ["LOSS", "INFER"])
@FAST
@given(data=st.data(), value=json_values | edge_specs)
def test_any_json_value_for_any_key_parses_or_names_the_key(schema, data, value):
    key = data.draw(st.sampled_from(sorted(getattr(params, schema))) | st.text(min_size=1, max_size=6))
    text = json.dumps({**BASE[schema], key: value})
    try:
        parsed = bounded_peak(lambda: params.parse(text, getattr(params, schema), "crf"))
    except params.ParamError as e:
        assert repr(key) in str(e)
        assert key not in getattr(params, schema) or not valid(key, value)
        return
    assert key in getattr(params, schema) and valid(key, value)
    assert getattr(parsed, key) == value
    assert_valid_offsets(parsed.offsets)


@FAST
@given(st.text(max_size=40) | st.builds(json.dumps, json_values))
@example('{"num_labels": 3, "edges": "window:1", "method": "icm", "samples": 7}')
@example('{"num_labels": 3, "edges": [[0, 2]], "burn_in": 0}')
def test_any_param_str_text_parses_or_raises_param_error(text):
    try:
        parsed = params.parse(text, params.INFER, "crf")
    except params.ParamError as e:
        assert str(e).startswith("crf: ")
        return
    given = json.loads(text)  # parsed: a JSON object of known keys, each value the one given or the default
    assert isinstance(given, dict) and set(given) <= set(params.INFER)
    for key, (default, _) in params.INFER.items():
        assert getattr(parsed, key) == given.get(key, default)
    assert_valid_offsets(parsed.offsets)


def test_json_nested_past_the_recursion_limit_is_a_param_error():
    with pytest.raises(params.ParamError, match="param_str is nested too deeply"):
        params.parse('{"edges": ' + "[" * 100_000 + "]" * 100_000 + "}", params.INFER, "crf")


@pytest.mark.parametrize("kind, examples", [("text", 150), ("list", 400), ("json", 150)])
def test_any_edge_spec_parses_to_bounded_offsets_or_raises_value_error(kind, examples):
    strategy = {"text": edge_texts, "list": offset_lists, "json": json_values}[kind]
    settings(FAST, max_examples=examples)(given(strategy)(edge_spec_property))()


def edge_spec_property(spec):
    try:
        found = bounded_peak(lambda: sampler.parse_edges(spec))
    except ValueError as e:
        assert str(e).split(":")[0] in ("edges", "offsets")
        return
    assert_valid_offsets(found)
    if isinstance(spec, list):
        assert found.tolist() == spec  # a list is taken as it is, not reordered or completed


@pytest.mark.parametrize("build, name", [(offsets.window, "radius"), (offsets.sparse, "distances")])
@FAST
@given(value=json_values | st.integers(-5, 10) | st.lists(st.integers(-2, 600), max_size=40))
def test_window_and_sparse_take_any_value(build, name, value):
    try:
        found = bounded_peak(lambda: build(value))
    except ValueError as e:
        assert str(e).startswith(f"{name}: ")
        return
    assert_valid_offsets(found)


def test_a_wrapping_int64_offset_is_refused():
    # abs(-2**63) is -2**63 in int64: it slipped under the reach check
    with pytest.raises(ValueError, match="reaches further than 512"):
        sampler.parse_edges([[1, -2**63]])


@pytest.mark.parametrize("name", ["scores", "theta"])
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(value=st.floats(allow_nan=True, allow_infinity=True, width=64))
def test_sweep_takes_any_float64_or_names_the_array(name, value):
    """1e300 is finite in float64 and inf in float32, the sampler's precision."""
    g = np.random.default_rng(0)
    arrays = {"scores": g.normal(size=(1, 3, 4, 5)), "theta": g.normal(size=(4, 3, 3))}  # window:1: 4 classes
    arrays[name].flat[3] = value
    labels = np.zeros((1, 4, 5), np.uint8)
    with np.errstate(over="ignore"):
        fits = bool(np.isfinite(np.float32(value)))  # finite once cast to the sampler's precision
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning on the way either
        try:
            out = sampler.sweep(arrays["scores"], labels, arrays["theta"], "window:1", backend="numpy")
        except ValueError as e:
            assert not fits and f"{name}: contains NaN or Inf" in str(e)
            return
    assert fits and out.shape == labels.shape
