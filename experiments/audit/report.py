"""Claims 6b, 7a and 7b (the default regime): read from the replication report written by tools/replicate.py.

Keys read (each gain: body-part accuracy of the first method minus the second, with a 95%
bootstrap interval over test images):
  gains.gibbs_vs_meanfield.{mean, ci}                                     claim 6b
  gains.separate_vs_cnn.{mean, ci}                                        claim 7a
  gains.joint_vs_separate.{mean, ci}                                      claim 7b
  (claim 7 in the default regime: the learning comparison's other regimes, experiments.audit.learning)
  results.<method>.part_accuracy for method in cnn, separate, joint, meanfield, and
  settings.scale, settings.test (shown only, when present)
A missing report gives "not run"; a report that lacks a key FAILs; one that cannot be read as a
JSON object FAILs here and is refused by tools/audit.py before it measures anything.
"""
import json
import math

from .common import FAIL, Result, verdict

CLAIM_6B = "Repulsive potentials: Gibbs beats mean-field (replication run)"
CLAIM_7A = "The CRF beats the CNN alone (separate learning)"
CLAIM_7B = "End-to-end learning beats separate learning"
SHOWN = ("cnn", "separate", "joint", "meanfield")


class ReportError(ValueError):
    pass


def load(path):
    """The report as a dict, or None when there is no file."""
    if not path.exists():
        return None
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as e:  # ValueError: not JSON, or not text at all (UnicodeDecodeError)
        raise ReportError(f"cannot read {path}: {e}") from None
    if not isinstance(report, dict):
        raise ReportError(f"{path} is not a JSON object")
    return report


def gain(report, *names):
    """(mean, lo, hi) of gains[names[0]][names[1]]..., checked to be finite numbers with lo <= hi."""
    name = ".".join(names)
    try:
        g = report["gains"]
        for key in names:
            g = g[key]
        mean, (lo, hi) = float(g["mean"]), (float(x) for x in g["ci"])
    except (KeyError, TypeError, ValueError) as e:
        raise ReportError(f"report lacks a usable gains.{name}.{{mean, ci}} ({e!r})") from None
    if not all(map(math.isfinite, (mean, lo, hi))) or lo > hi:
        raise ReportError(f"gains.{name} is not a finite interval: {mean}, [{lo}, {hi}]")
    return mean, lo, hi


def context(report):
    """The accuracies behind the gains and the run's scale, as far as the report has them."""
    results, settings = report.get("results"), report.get("settings")
    text = ""
    if isinstance(results, dict):
        shown = [f"{m} {results[m]['part_accuracy']:.4f}" for m in SHOWN
                 if isinstance(results.get(m), dict) and isinstance(results[m].get("part_accuracy"), (int, float))]
        text += "; part accuracy " + ", ".join(shown) if shown else ""
    if isinstance(settings, dict) and "scale" in settings:
        text += f"; run scale '{settings['scale']}', {settings.get('test', '?')} test images"
    return text


def fmt(name, g):
    return f"{name} {g[0]:+.4f} [{g[1]:+.4f}, {g[2]:+.4f}]"


def claim_6b(report):
    g = gain(report, "gibbs_vs_meanfield")
    return fmt("gibbs-meanfield", g), g[1] > 0, {"gibbs_vs_meanfield": g}


def claim_7a(report):
    g = gain(report, "separate_vs_cnn")
    return fmt("separate-cnn", g), g[1] > 0, {"separate_vs_cnn": g}


def claim_7b(report):
    g = gain(report, "joint_vs_separate")
    return fmt("joint-separate", g), g[1] > 0, {"joint_vs_separate": g}


def run(path):
    """Rows for claims 6b, 7a and 7b (the default regime) from the report at `path` (a pathlib.Path)."""
    rows = [Result("6b", CLAIM_6B, f"{path}: gains.gibbs_vs_meanfield; pass if its 95% interval is above 0"),
            Result("7a", CLAIM_7A, f"{path}: gains.separate_vs_cnn (default regime); pass if its 95% interval "
                                   f"is above 0"),
            Result("7b", CLAIM_7B, f"{path}: gains.joint_vs_separate (default regime); pass if its 95% interval "
                                   f"is above 0")]
    try:
        report = load(path)
    except ReportError as e:
        for row in rows:
            row.figure, row.status = str(e), FAIL
        return rows
    if report is None:
        for row in rows:
            row.figure = f"no report at {path} (run tools/replicate.py)"
        return rows
    for row, check in zip(rows, (claim_6b, claim_7a, claim_7b)):
        try:
            figure, ok, numbers = check(report)
        except ReportError as e:
            row.figure, row.status = str(e), FAIL
            continue
        row.figure, row.status = figure + context(report), verdict(ok)
        row.details = {k: {"mean": v[0], "ci": [v[1], v[2]]} for k, v in numbers.items()}
    return rows
