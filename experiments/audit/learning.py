"""Claim 8: read from the learning comparison's report written by tools/compare_learning.py.

Keys read (each gain: body-part accuracy of Gibbs-ML learning minus another method's, both on
the stage-1 CNN (separate learning) and decoded by Gibbs max-marginals, with a paired 95%
bootstrap interval over test images):
  gains.gibbs.gibbs_ml_vs_<method>.{mean, ci} for method in ALTERNATIVES
  settings.scale, settings.run_settings.test (shown only, when present)
A missing report gives "not run"; a report that lacks a key FAILs; one that cannot be read as a
JSON object FAILs here and is refused by tools/audit.py before it measures anything.
"""
from .common import FAIL, Result, verdict
from .report import ReportError, fmt, gain, load

CLAIM_8 = "ML-Gibbs learning beats each approximate learning method on repulsive models"
ALTERNATIVES = ("piecewise", "pseudo_likelihood", "meanfield", "potts")
TEST = ("gains.gibbs.gibbs_ml_vs_{piecewise, pseudo_likelihood, meanfield, potts} (separate learning on the "
        "same CNN, Gibbs max-marginal inference); pass if every one's paired 95% interval is above 0")


def claim_8(report):
    g = {name: gain(report, "gibbs", f"gibbs_ml_vs_{name}") for name in ALTERNATIVES}
    return "; ".join(fmt(f"gibbs_ml-{n}", v) for n, v in g.items()), all(v[1] > 0 for v in g.values()), g


def context(report):
    settings = report.get("settings")
    if isinstance(settings, dict) and "scale" in settings:
        run = settings.get("run_settings")
        test = run.get("test", "?") if isinstance(run, dict) else "?"
        return f"; comparison scale '{settings['scale']}', {test} test images"
    return ""


def run(path):
    """The row of claim 8 from the comparison report at `path` (a pathlib.Path)."""
    row = Result("8", CLAIM_8, f"{path}: {TEST}")
    try:
        report = load(path)
        if report is None:
            row.figure = f"no report at {path} (run tools/compare_learning.py)"
            return [row]
        figure, ok, numbers = claim_8(report)
    except ReportError as e:
        row.figure, row.status = str(e), FAIL
        return [row]
    row.figure, row.status = figure + context(report), verdict(ok)
    row.details = {f"gibbs_ml_vs_{k}": {"mean": v[0], "ci": [v[1], v[2]]} for k, v in numbers.items()}
    return [row]
