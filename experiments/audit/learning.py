"""Claims 7 (in the comparison's regimes) and 8: read from the learning comparison's report
written by tools/compare_learning.py, one row per regime (unary strength: "default", "weak",
"low_data", as the report has them).

Keys read (each gain: body-part accuracy of the first minus the second, both decoded by Gibbs
max-marginals on the same test images, with a paired 95% bootstrap interval over them):
  regimes.<R>.gains.gibbs.gibbs_ml_vs_<method>.{mean, ci} for method in ALTERNATIVES   claim 8
  regimes.<R>.over_cnn.gibbs.gibbs_ml.{mean, ci}       claim 7a (the CRF beats the CNN alone)
  regimes.<R>.joint_vs_separate.gibbs.{mean, ci}       claim 7b, where the regime learned end to end
  settings.scale, settings.test_images (shown only, when present)
The default regime's claim 7 rows come from the replication report (experiments.audit.report: all
its test images); here only the other regimes'. A missing report gives one "not run" row; a report
that lacks a key FAILs; one that cannot be read as a JSON object FAILs here and is refused by
tools/audit.py before it measures anything.
"""
from .common import FAIL, Result, verdict
from .report import CLAIM_7A, CLAIM_7B, ReportError, fmt, gain, load

CLAIM_8 = "ML-Gibbs learning beats each approximate learning method on repulsive models"
ALTERNATIVES = ("piecewise", "pseudo_likelihood", "meanfield", "loopy_bp", "potts")
TEST = ("regimes.R.gains.gibbs.gibbs_ml_vs_{piecewise, pseudo_likelihood, meanfield, loopy_bp, potts} "
        "(separate learning on the regime's CNN, Gibbs max-marginal inference); pass if every one's paired 95% "
        "interval is above 0")
TEST_7A = "regimes.R.over_cnn.gibbs.gibbs_ml; pass if its 95% interval is above 0"
TEST_7B = "regimes.R.joint_vs_separate.gibbs; pass if its 95% interval is above 0"


def regimes(report):
    found = report.get("regimes")
    if not isinstance(found, dict) or not found or not all(isinstance(r, dict) for r in found.values()):
        raise ReportError("report has no regimes (written by an older tools/compare_learning.py? run it again)")
    return found


def claim_8(regime):
    g = {f"gibbs_ml_vs_{name}": gain(regime, "gibbs", f"gibbs_ml_vs_{name}") for name in ALTERNATIVES}
    return "; ".join(fmt(n.replace("_vs_", "-"), v) for n, v in g.items()), all(v[1] > 0 for v in g.values()), g


def claim_7a(regime):
    g = gain({"gains": regime.get("over_cnn")}, "gibbs", "gibbs_ml")
    return fmt("separate-cnn", g), g[1] > 0, {"separate_vs_cnn": g}


def claim_7b(regime):
    g = gain({"gains": regime.get("joint_vs_separate")}, "gibbs")
    return fmt("joint-separate", g), g[1] > 0, {"joint_vs_separate": g}


def context(report):
    settings = report.get("settings")
    if isinstance(settings, dict) and "scale" in settings:
        return f"; comparison scale '{settings['scale']}', first {settings.get('test_images', '?')} test images"
    return ""


def rows_of(name, regime, suffix):
    """The rows of one regime: 7a and 7b (not the default regime's: the replication report's, and
    7b only where the regime learned end to end), 8."""
    checks = []
    if name != "default":
        checks.append((Result(f"7a {name}", CLAIM_7A, TEST_7A), claim_7a))
        if "joint_vs_separate" in regime:
            checks.append((Result(f"7b {name}", CLAIM_7B, TEST_7B), claim_7b))
    checks.append((Result(f"8 {name}", CLAIM_8, TEST), claim_8))
    rows = []
    for row, check in checks:
        try:
            figure, ok, numbers = check(regime)
        except ReportError as e:
            row.figure, row.status = f"regime {name}: {e}", FAIL
        else:
            row.figure, row.status = f"regime {name}: {figure}{suffix}", verdict(ok)
            row.details = {k: {"mean": v[0], "ci": [v[1], v[2]]} for k, v in numbers.items()}
        rows.append(row)
    return rows


def run(path):
    """The rows of claims 7 (other regimes) and 8 (every regime) from the report at `path`."""
    row = Result("8", CLAIM_8, f"{path}: {TEST}")
    try:
        report = load(path)
        if report is None:
            row.figure = f"no report at {path} (run tools/compare_learning.py)"
            return [row]
        found = regimes(report)
    except ReportError as e:
        row.figure, row.status = str(e), FAIL
        return [row]
    suffix = context(report)
    return [r for name, regime in found.items() for r in rows_of(name, regime, suffix)]
