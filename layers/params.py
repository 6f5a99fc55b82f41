"""param_str of the CRF layers: a JSON object, validated so that every error names its key.

Both layers share the model keys (labels, edges, seed, backend); the training layer adds the
chain store's size and its sampling and "potts", the deploy layer its inference method (nets/crf.py
derives a deploy layer's settings from a training layer's).
"""
import json
from types import SimpleNamespace

import sampler

BACKENDS = ("auto",) + sampler.backends.NAMES
REQUIRED = object()


class ParamError(ValueError):
    """A bad param_str; the message starts with the layer and the key."""


def _int(low, high=None):
    def check(value):
        # bool is an int subclass; true/false for a count is a mistake.
        if isinstance(value, bool) or not isinstance(value, int):
            return "an integer"
        if value < low or (high is not None and value > high):
            return f"an integer in {low}..{high}" if high is not None else f"an integer >= {low}"
    return check


def _choice(*options):
    def check(value):
        if value not in options:
            return "one of " + ", ".join(repr(o) for o in options)
    return check


def _bool(value):
    if not isinstance(value, bool):
        return "true or false"


def _fraction(value):
    """A number in (0, 1] (NaN fails the comparison)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        return "a number in (0, 1]"


def _absent(reason):
    def check(value):
        return f"left out ({reason})"
    return check


def _edges(value):
    try:
        sampler.parse_edges(value)
    except (ValueError, TypeError) as e:
        return f"valid edges ({e})"


MODEL = {
    "num_labels": (REQUIRED, _int(2, 255)),  # labels are stored as uint8
    "edges": (REQUIRED, _edges),
    "seed": (0, _int(0, 2**63 - 1)),
    "backend": ("auto", _choice(*BACKENDS)),
    # K: image-dependent ("gated") factors, K tables per edge class mixed by a weights bottom
    # (N, K, H, W); absent: the stationary model, one table per class and no weights bottom
    "tables": (None, _int(1, 64)),
}

# Theta restricted to w_c * I per class (sampler/learning/potts.py): the repulsion ablation.
POTTS = {"potts": (False, _bool)}

LOSS = {
    **MODEL,
    **POTTS,
    "num_images": (REQUIRED, _int(1)),
    "sweeps": (1, _int(1)),
    "schedule": ("chromatic", _choice("chromatic", "raster")),
}

INFER = {
    **MODEL,
    "method": ("gibbs", _choice(*sampler.inference.METHODS)),
    "burn_in": (20, _int(0)),
    "samples": (50, _int(1)),
    "iterations": (sampler.inference.ITERATIONS, _int(1)),  # meanfield / icm / lbp only
}

# The test nets' layer (layers/crf_infer.py CRFValidation): the deploy layer's keys plus the
# training layer's chain-store size, which only shapes a placeholder blob (Caffe shares parameters
# with the training layer only when their count and shapes agree)
VALIDATION = {**INFER, "num_images": (REQUIRED, _int(1))}

PSEUDO_LIKELIHOOD = {**MODEL, **POTTS}

MEANFIELD_LOSS = {
    **MODEL,
    **POTTS,
    "iterations": (10, _int(1)),
    "damping": (0.5, _fraction),
}

# Loopy-BP learning (layers/lbp_loss.py): mean field's keys, of the stationary model only; the
# warm-started variant keeps messages per training image
LOOPY_BP = {**MEANFIELD_LOSS, "tables": (None, _absent("loopy BP learns the stationary model only"))}
LOOPY_BP_WARM = {**LOOPY_BP, "num_images": (REQUIRED, _int(1))}


def parse(param_str, schema, layer):
    """The validated settings as a namespace, plus `offsets` (C, 2) from `edges`."""
    try:
        given = json.loads(param_str or "{}")
    except json.JSONDecodeError as e:
        raise ParamError(f"{layer}: param_str is not JSON ({e}): {param_str!r}") from None
    except RecursionError:
        raise ParamError(f"{layer}: param_str is nested too deeply to read: {param_str[:40]!r}...") from None
    if not isinstance(given, dict):
        raise ParamError(f"{layer}: param_str must be a JSON object, got {param_str!r}")
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise ParamError(f"{layer}: unknown param_str key(s) {unknown}; known: {sorted(schema)}")
    values = {}
    for key, (default, check) in schema.items():
        if key not in given:
            if default is REQUIRED:
                raise ParamError(f"{layer}: param_str key '{key}' is required")
            values[key] = default
            continue
        problem = check(given[key])
        if problem:
            raise ParamError(f"{layer}: param_str key '{key}' must be {problem}, got {given[key]!r}")
        values[key] = given[key]
    if values.get("potts") and values["tables"] is not None:
        raise ParamError(f"{layer}: param_str keys 'potts' and 'tables' do not go together (the Potts ablation "
                         f"is of the stationary model)")
    if values.get("method") == "lbp" and values["tables"] is not None:
        raise ParamError(f"{layer}: param_str 'method' \"lbp\" does not go with 'tables' (loopy BP runs the "
                         f"stationary model only)")
    values["offsets"] = sampler.parse_edges(values["edges"])
    return SimpleNamespace(**values)
