"""tools/audit.py: the quick audit passes on this implementation, and it is able to fail."""
import json
import sys
import types

import numba
import numpy as np
import pytest

import sampler
from conftest import REPO, tool_main
from experiments.audit import gibbs_exact, independent, learning, report, runner, unbiased_gradient
from experiments.audit.common import FAIL, NOT_RUN, PASS


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """As the audit itself runs (see audit.py --threads): tiny models, busy machine."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(threads)


@pytest.fixture(scope="module")
def quick_audit(tmp_path_factory, pycaffe):
    out = tmp_path_factory.mktemp("audit")
    status = tool_main("audit")(["--quick", "--report", str(out / "absent.json"), "--compare-report",
                                 str(out / "absent.json"), "--json", str(out / "audit.json")])
    return status, json.loads((out / "audit.json").read_text())


@pytest.mark.slow
def test_quick_audit_passes_every_claim_it_runs(quick_audit):
    status, result = quick_audit
    verdicts = {row["number"]: row["status"] for row in result["rows"]}
    assert verdicts == {"1": PASS, "2": PASS, "3": PASS, "4": PASS, "5": PASS, "6a": PASS,
                        "6b": NOT_RUN, "7a": NOT_RUN, "7b": NOT_RUN, "8": NOT_RUN}, result["rows"]
    assert status == 0
    assert result["quick"] and result["seconds"] < 180


# --- a deliberately broken sampler: claim 1 must catch it -------------------------------

def jacobi_marginals(scores, theta, offsets, *, burn_in, samples, seed, keys):
    """NOT a Gibbs sampler: every pixel is redrawn at once from the previous labelling
    (synchronous, Jacobi-style updates). Same signature as sampler.marginals."""
    rng = np.random.default_rng(seed)
    num_labels = scores.shape[1]
    labels = rng.integers(0, num_labels, (len(scores), *scores.shape[2:])).astype(np.uint8)
    total = np.zeros(scores.shape)
    for t in range(burn_in + samples):
        logp = sampler.conditionals(scores, labels, theta, offsets)
        p = np.exp(logp - logp.max(axis=1, keepdims=True))
        cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
        labels = (rng.random(labels.shape)[:, None] > cdf).sum(axis=1).clip(0, num_labels - 1).astype(np.uint8)
        if t >= burn_in:
            total += labels[:, None] == np.arange(num_labels)[None, :, None, None]
    return (total / samples).astype(np.float32)


@pytest.mark.slow
def test_claim_1_fails_for_synchronous_updates():
    row = gibbs_exact.run(quick=True, marginals=jacobi_marginals, models=1)
    assert row.status == FAIL, row


def sticky_sweep(scores, labels, theta, offsets, **options):
    """NOT exact: the top-left pixel keeps its old label, so the result depends on the start."""
    out = sampler.sweep(scores, labels, theta, offsets, **options)
    out[:, 0, 0] = labels[:, 0, 0]
    return out


def test_claim_3_fails_for_a_start_dependent_sweep():
    row = independent.run(quick=True, sweep=sticky_sweep)
    assert row.status == FAIL, row


# --- deliberately broken gradients: claim 2 must catch them -----------------------------

@pytest.fixture
def broken_layers(pycaffe, monkeypatch):
    """A module 'audit_broken_layers' whose layers scale the real layer's diffs."""
    from layers.crf_loss import GibbsCRFLoss

    def scaled(factor):
        def backward(self, top, propagate_down, bottom):
            GibbsCRFLoss.backward(self, top, propagate_down, bottom)
            bottom[0].diff[...] *= factor
            self.blobs[0].diff[...] *= factor
        return type(f"Scaled{factor}", (GibbsCRFLoss,), {"backward": backward})

    module = types.ModuleType("audit_broken_layers")
    module.WrongSign, module.DoubleScale = scaled(-1.0), scaled(2.0)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["WrongSign", "DoubleScale"])
def test_claim_2_fails_for_wrong_sign_or_scale(broken_layers, layer):
    row = unbiased_gradient.run(quick=True, layer=(broken_layers, layer))
    assert row.status == FAIL, row


# --- claims 6b, 7a and 7b from the replication report ---------------------------------------

def gains(**named):
    return {"gains": {k: {"mean": (lo + hi) / 2, "ci": [lo, hi]} for k, (lo, hi) in named.items()},
            "results": {m: {"part_accuracy": a} for m, a in (("cnn", 0.7), ("separate", 0.75), ("joint", 0.76))}}


GOOD = dict(gibbs_vs_meanfield=(0.001, 0.01), separate_vs_cnn=(0.03, 0.07),
            joint_vs_separate=(0.002, 0.02), joint_vs_cnn=(0.04, 0.08))


@pytest.mark.parametrize("change, expected", [
    ({}, [PASS, PASS, PASS]),
    ({"gibbs_vs_meanfield": (-0.01, 0.01)}, [FAIL, PASS, PASS]),
    ({"separate_vs_cnn": (-0.01, 0.02)}, [PASS, FAIL, PASS]),
    ({"joint_vs_separate": (-0.005, 0.02)}, [PASS, PASS, FAIL]),  # merely not worse: no longer a pass
    ({"joint_vs_separate": (-0.03, -0.01)}, [PASS, PASS, FAIL]),
])
def test_report_claims_read_the_gains(tmp_path, change, expected):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(gains(**{**GOOD, **change})))
    rows = report.run(path)
    assert [r.status for r in rows] == expected, rows
    assert [r.number for r in rows] == ["6b", "7a", "7b"] and "joint 0.7600" in rows[2].figure


def test_report_claims_not_run_without_report_and_fail_on_a_bad_one(tmp_path):
    assert [r.status for r in report.run(tmp_path / "absent.json")] == [NOT_RUN] * 3
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"gains": {"separate_vs_cnn": {"mean": 0.1}}}))
    rows = report.run(path)
    assert [r.status for r in rows] == [FAIL, FAIL, FAIL]
    assert "gains.gibbs_vs_meanfield" in rows[0].figure and "gains.joint_vs_separate" in rows[2].figure
    for bad in ("{not json", "[1, 2]"):
        path.write_text(bad)
        assert [r.status for r in report.run(path)] == [FAIL] * 3, bad


# --- claims 7 (other regimes) and 8 from the learning comparison's report -----------------

def interval(lo, hi):
    return {"mean": (lo + hi) / 2, "ci": [lo, hi]}


def regime(over_cnn=(0.01, 0.03), joint=None, **named):
    """A regime of a comparison report with these intervals under Gibbs inference."""
    r = {"gains": {"gibbs": {f"gibbs_ml_vs_{k}": interval(*v) for k, v in named.items()}, "meanfield": {}},
         "over_cnn": {"gibbs": {"gibbs_ml": interval(*over_cnn)}}}
    if joint:
        r["joint_vs_separate"] = {"gibbs": interval(*joint)}
    return r


def comparison(**regimes):
    return {"regimes": regimes, "settings": {"scale": "default", "test_images": 50}}


BETTER = dict(piecewise=(0.01, 0.03), pseudo_likelihood=(0.002, 0.02), meanfield=(0.005, 0.04),
              loopy_bp=(0.001, 0.01), potts=(0.02, 0.05))


@pytest.mark.parametrize("change, expected", [
    ({}, PASS),
    ({"pseudo_likelihood": (-0.004, 0.01)}, FAIL),  # an interval reaching 0 is no win
    ({"potts": (-0.03, -0.01)}, FAIL),
    ({"meanfield": (0.0, 0.02)}, FAIL),
    ({"loopy_bp": (-0.01, 0.0)}, FAIL),
])
def test_claim_8_needs_every_interval_above_zero(tmp_path, change, expected):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(comparison(default=regime(**{**BETTER, **change}))))
    [row] = learning.run(path)
    assert row.number == "8 default" and row.status == expected, row
    assert "gibbs_ml-potts" in row.figure and "first 50 test images" in row.figure
    assert set(row.details) == {f"gibbs_ml_vs_{k}" for k in BETTER}


def test_each_regime_has_its_own_verdicts(tmp_path):
    """Claim 8 holds in the weak regime and fails in the default one; 7a per regime other than the
    default (the replication report's), 7b only where the regime learned end to end."""
    path = tmp_path / "report.json"
    path.write_text(json.dumps(comparison(
        default=regime(**{**BETTER, "meanfield": (-0.02, -0.005)}),
        weak=regime(over_cnn=(0.02, 0.05), **BETTER),
        low_data=regime(over_cnn=(-0.01, 0.02), joint=(0.001, 0.01), **{**BETTER, "potts": (-0.01, 0.01)}))))
    rows = {r.number: r for r in learning.run(path)}
    assert {n: r.status for n, r in rows.items()} == {
        "8 default": FAIL, "7a weak": PASS, "8 weak": PASS, "7a low_data": FAIL, "7b low_data": PASS,
        "8 low_data": FAIL}
    assert rows["7a weak"].details == {"separate_vs_cnn": {"mean": 0.035, "ci": [0.02, 0.05]}}
    assert "regime weak" in rows["8 weak"].figure and "regime low_data" in rows["7b low_data"].figure


def test_claim_8_not_run_without_report_and_fails_on_a_bad_one(tmp_path):
    [row] = learning.run(tmp_path / "absent.json")
    assert row.status == NOT_RUN and "tools/compare_learning.py" in row.figure
    path = tmp_path / "report.json"
    without_potts = {k: v for k, v in BETTER.items() if k != "potts"}
    for bad, says in ((comparison(default=regime(**without_potts)), "gains.gibbs.gibbs_ml_vs_potts"),
                      (comparison(default={"gains": {"gibbs": {"gibbs_ml_vs_piecewise": {"mean": 0.1,
                                                                                         "ci": [0.2, 0.1]}}}}),
                       "not a finite interval"),
                      (comparison(default={"gains": [1]}), "gains.gibbs.gibbs_ml_vs_piecewise"),
                      ({"gains": {"gibbs": {}}}, "report has no regimes")):
        path.write_text(json.dumps(bad))
        rows = learning.run(path)
        assert rows[-1].status == FAIL and says in rows[-1].figure, rows
    for bad in ("{not json", "[1, 2]"):
        path.write_text(bad)
        assert learning.run(path)[0].status == FAIL, bad


def test_help_and_table(capsys):
    with pytest.raises(SystemExit) as e:
        tool_main("audit")(["--help"])
    assert e.value.code == 0 and "--quick" in capsys.readouterr().out
    rows = report.run(REPO / "no" / "such" / "report.json")
    text = runner.table(rows)
    assert "verdict" in text and "not run" in text


def test_a_claim_that_raises_is_a_fail_row_and_exit_status_1(monkeypatch, tmp_path, capsys):
    broken = types.SimpleNamespace(NUMBER="9", CLAIM="broken claim", run=lambda quick: 1 / 0)
    monkeypatch.setattr(runner, "SIMULATED", [broken])
    absent = str(tmp_path / "absent.json")
    assert tool_main("audit")(["--quick", "--report", absent, "--compare-report", absent]) == 1
    assert "ZeroDivisionError" in capsys.readouterr().out
