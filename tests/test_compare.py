"""The learning comparison at `tiny` scale, end to end: tools/compare_learning.py on conftest's
tiny replication run trains every method through `caffe train`, scores every model x inference on
the test set (Gibbs ML's rows reproduce the replication's own), and reports paired gains, training
times, the tables' repulsion and heat maps; a rerun keeps finished stages; bad input is refused."""
import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import sampler
from conftest import REPO
from data import read_split

pytestmark = [pytest.mark.caffe, pytest.mark.slow]
METHODS = ["gibbs_ml", "potts", "pseudo_likelihood", "meanfield", "piecewise",
           "gibbs_ml_joint", "pseudo_likelihood_joint", "meanfield_joint",
           "gibbs_ml_gated", "pseudo_likelihood_gated", "meanfield_gated"]
INFERENCES = ("gibbs", "meanfield", "icm")


def compare(out, run, scale="tiny"):
    return subprocess.run([sys.executable, str(REPO / "tools" / "compare_learning.py"), "--scale", scale,
                           "--run", str(run), "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def tiny_compare(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "compare"
    started = time.perf_counter()
    result = compare(out, tiny_run / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    print(f"tiny comparison: {time.perf_counter() - started:.0f} s")
    return out, json.loads((out / "report.json").read_text())


def test_every_method_is_scored_with_every_inference(tiny_compare, tiny_run):
    _, report = tiny_compare
    assert list(report["methods"]) == METHODS and list(report["results"]) == METHODS
    for key in METHODS:
        for inference in INFERENCES:
            r = report["results"][key][inference]
            lo, hi = r["part_accuracy_ci"]
            assert 0 <= lo <= r["part_accuracy"] <= hi <= 1 and r["images"] == 16, (key, inference)
    # The same models, inference and seeds as the replication's rows: the same figures.
    replication = json.loads((tiny_run / "run" / "report.json").read_text())["results"]
    for key, inference, row in (("gibbs_ml", "gibbs", "separate"), ("gibbs_ml_joint", "gibbs", "joint"),
                                ("gibbs_ml_joint", "meanfield", "meanfield"), ("gibbs_ml_joint", "icm", "icm"),
                                ("gibbs_ml_gated", "gibbs", "gated_separate")):
        assert report["results"][key][inference]["part_accuracy"] == replication[row]["part_accuracy"], key
    assert report["cnn"]["part_accuracy"] == replication["cnn"]["part_accuracy"]


def test_gains_are_gibbs_ml_minus_each_method_of_its_stage(tiny_compare):
    _, report = tiny_compare
    for inference in INFERENCES:
        gains = report["gains"][inference]
        assert set(gains) == {f"gibbs_ml_vs_{k}" for k in ("potts", "pseudo_likelihood", "meanfield", "piecewise")} | {
            f"gibbs_ml_joint_vs_{k}" for k in ("pseudo_likelihood_joint", "meanfield_joint")} | {
            f"gibbs_ml_gated_vs_{k}" for k in ("pseudo_likelihood_gated", "meanfield_gated")}
        for name, g in gains.items():
            gibbs, other = name.split("_vs_")
            difference = (report["results"][gibbs][inference]["part_accuracy"]
                          - report["results"][other][inference]["part_accuracy"])
            assert g["mean"] == pytest.approx(difference, abs=1e-9) and g["ci"][0] <= g["mean"] <= g["ci"][1]


def test_each_method_learned_its_kind_of_tables(tiny_compare, tiny_run):
    from nets.weights import crf_tables

    out, report = tiny_compare
    tables = {key: crf_tables(report["methods"][key]["model"])[0] for key in METHODS}
    assert sampler.learning.potts_violation(tables["potts"]) is None and tables["potts"].any()
    for key in ("gibbs_ml", "pseudo_likelihood", "meanfield", "pseudo_likelihood_joint", "meanfield_joint"):
        assert sampler.learning.potts_violation(tables[key]) is not None, key  # free tables learn off-diagonals
    for key in ("pseudo_likelihood", "meanfield"):  # the end-to-end stage moved on from the separate theta
        assert not np.array_equal(tables[key], tables[key + "_joint"])
        gated = tables[key + "_gated"]  # K tables that started as the method's own separate ones, then moved apart
        assert gated.shape == (len(tables[key]), 2) + tables[key].shape[1:]
        assert not np.array_equal(gated[:, 0], gated[:, 1]) and not np.array_equal(gated[:, 0], tables[key])
    offsets = sampler.parse_edges(report["settings"]["run_settings"]["edges"])
    labels = read_split(tiny_run / "data" / "train.txt")["label"]
    assert np.array_equal(tables["piecewise"], sampler.learning.piecewise_tables(labels, offsets, 20))
    for key in METHODS:
        r = report["methods"][key]["repulsion"]
        assert r["negative_share"] == pytest.approx((tables[key] < 0).mean()) and r["min"] == pytest.approx(
            tables[key].min())


def test_training_records_and_the_markdown_report(tiny_compare):
    from experiments.scales import COMPARISON
    from nets.prototxt import LEARNING

    out, report = tiny_compare
    budget = COMPARISON["tiny"]
    for key in ("potts", "pseudo_likelihood", "meanfield"):
        assert report["methods"][key]["iterations"] == budget["separate"][key].iterations
    assert report["methods"]["gibbs_ml"]["iterations"] == 150 and report["methods"]["piecewise"]["iterations"] == 0
    # the rate rule: the Gibbs stage's rate times its iterations over the method's
    rule = LEARNING["separate"]["base_lr"] * 150 / budget["separate"]["meanfield"].iterations
    assert report["methods"]["meanfield"]["base_lr"] == pytest.approx(rule)
    for key, m in report["methods"].items():
        assert m["seconds"] > 0, key
        assert (m["seconds_per_iteration"] is None) == (key == "piecewise"), key
    text = (out / "report.md").read_text()
    assert "| learning method | stage | Gibbs max-marginals | mean field | ICM |" in text
    for key in METHODS:
        assert f"theta_{key}.png" in text and (out / f"theta_{key}.png").stat().st_size > 1000


def test_the_audit_reads_the_report(tiny_compare):
    from experiments.audit import learning
    from experiments.audit.common import FAIL, PASS

    out, _ = tiny_compare
    [row] = learning.run(out / "report.json")
    gains = json.loads((out / "report.json").read_text())["gains"]["gibbs"]
    assert row.details == {f"gibbs_ml_vs_{name}": {"mean": gains[f"gibbs_ml_vs_{name}"]["mean"],
                                                   "ci": list(gains[f"gibbs_ml_vs_{name}"]["ci"])}
                           for name in learning.ALTERNATIVES}, row
    # the verdict is the claim's rule on those figures: every interval above zero
    assert row.status == (PASS if all(d["ci"][0] > 0 for d in row.details.values()) else FAIL), row


def test_rerun_keeps_finished_stages(tiny_compare, tiny_run):
    out, report = tiny_compare
    logs = {p.name: p.stat().st_size for p in (out / "logs").iterdir()}
    result = compare(out, tiny_run / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert {p.name: p.stat().st_size for p in (out / "logs").iterdir()} == logs
    again = json.loads((out / "report.json").read_text())

    def figures(results):  # all but the evaluation's own timing
        return {k: {i: {m: v for m, v in r.items() if m != "seconds"} for i, r in rows.items()}
                for k, rows in results.items()}
    assert figures(again["results"]) == figures(report["results"])  # same models, same seeds
    assert sorted(p.name for p in (out / "snapshots").glob("meanfield_iter_*")) == [
        f"meanfield_iter_{report['methods']['meanfield']['iterations']}.{ext}" for ext in ("caffemodel", "solverstate")]


def test_bad_runs_and_folders_are_refused(tiny_compare, tiny_run, tmp_path):
    out, _ = tiny_compare
    other_run = tmp_path / "run2"
    shutil.copytree(tiny_run / "run", other_run)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    for folder, run, scale, says in (
            (out, other_run, "tiny", "holds a run with other settings"),
            (tmp_path / "new", other_run, "default", "holds a run of scale 'tiny', not 'default'"),
            (tmp_path / "new", tmp_path / "nothing", "tiny", "not a replication run"),
    ):
        result = compare(folder, run, scale)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    (other_run / "models" / "joint.caffemodel").unlink()
    result = compare(tmp_path / "new", other_run)
    assert result.returncode == 2 and "an unfinished replication run" in result.stderr
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not a comparison")
    result = compare(tmp_path / "mine", tiny_run / "run")
    assert result.returncode == 2 and "holds no run" in result.stderr
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_tune_chooses_a_compared_methods_rate_on_the_validation_set(tiny_run, tmp_path):
    record = tmp_path / "separate-pseudo_likelihood.json"
    run = subprocess.run([sys.executable, str(REPO / "tools" / "tune.py"), "--stage", "separate", "--method",
                          "pseudo_likelihood", "--iterations", "20", "--lr", "0.01", "--lr", "0.1", "--run",
                          str(tiny_run / "run"), "--work", str(tmp_path / "work"), "--record", str(record)],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(record.read_text())
    assert (result["method"], result["iterations"], set(result["candidates"])) == (
        "pseudo_likelihood", 20, {"0.01", "0.1"})
    best = max(c["part_accuracy"] for c in result["candidates"].values())
    assert result["candidates"][result["chosen"]]["part_accuracy"] == best and 0 < best <= 1
    refused = subprocess.run([sys.executable, str(REPO / "tools" / "tune.py"), "--stage", "joint", "--method",
                              "meanfield", "--lr", "0.01"], capture_output=True, text=True)
    assert refused.returncode == 2 and "needs --stage separate and --iterations" in refused.stderr
