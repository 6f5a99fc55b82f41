"""The learning comparison at `tiny` scale, end to end: tools/compare_learning.py on conftest's
tiny replication run trains every method through `caffe train` in every regime (the run's CNN, a
weak CNN stopped early, a CNN and learners on the first training images only), scores every model
x inference on the test set (Gibbs ML's default rows reproduce the replication's own), and reports
paired gains, training times, the tables' repulsion, heat maps and the gains figure; a rerun keeps
finished stages; bad input is refused."""
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
SEPARATE = ["gibbs_ml", "potts", "pseudo_likelihood", "meanfield", "loopy_bp", "piecewise"]
METHODS = SEPARATE + ["gibbs_ml_joint", "pseudo_likelihood_joint", "meanfield_joint",
                      "gibbs_ml_gated", "pseudo_likelihood_gated", "meanfield_gated"]
REGIMES = {"default": METHODS, "weak": SEPARATE, "low_data": SEPARATE}
INFERENCES = ("gibbs", "meanfield", "icm", "lbp")


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
    assert "planned minutes" in result.stdout and "all regimes" in result.stdout
    return out, json.loads((out / "report.json").read_text())


def test_every_method_is_scored_with_every_inference(tiny_compare, tiny_run):
    _, full = tiny_compare
    assert list(full["regimes"]) == list(REGIMES)
    for name, methods in REGIMES.items():
        report = full["regimes"][name]
        assert list(report["methods"]) == methods and list(report["results"]) == methods
        for key in methods:
            gated = report["methods"][key]["stage"] == "gated_separate"
            assert list(report["results"][key]) == [i for i in INFERENCES if not (gated and i == "lbp")]
            for inference, r in report["results"][key].items():
                lo, hi = r["part_accuracy_ci"]
                assert 0 <= lo <= r["part_accuracy"] <= hi <= 1 and r["images"] == 16, (name, key, inference)
    # The same models, inference and seeds as the replication's rows: the same figures.
    report = full["regimes"]["default"]
    replication = json.loads((tiny_run / "run" / "report.json").read_text())["results"]
    for key, inference, row in (("gibbs_ml", "gibbs", "separate"), ("gibbs_ml_joint", "gibbs", "joint"),
                                ("gibbs_ml_joint", "meanfield", "meanfield"), ("gibbs_ml_joint", "icm", "icm"),
                                ("gibbs_ml_gated", "gibbs", "gated_separate")):
        assert report["results"][key][inference]["part_accuracy"] == replication[row]["part_accuracy"], key
    assert report["cnn"]["part_accuracy"] == replication["cnn"]["part_accuracy"]
    # the other regimes' own CNNs
    assert len({r["cnn"]["part_accuracy"] for r in full["regimes"].values()}) == 3


def test_gains_are_gibbs_ml_minus_each_method_of_its_stage(tiny_compare):
    _, full = tiny_compare
    for name, report in full["regimes"].items():
        for inference in INFERENCES:
            gains = report["gains"][inference]
            expected = {f"gibbs_ml_vs_{k}" for k in ("potts", "pseudo_likelihood", "meanfield", "loopy_bp",
                                                       "piecewise")}
            if name == "default":
                expected |= {f"gibbs_ml_joint_vs_{k}" for k in ("pseudo_likelihood_joint", "meanfield_joint")}
                if inference != "lbp":
                    expected |= {f"gibbs_ml_gated_vs_{k}" for k in ("pseudo_likelihood_gated", "meanfield_gated")}
            assert set(gains) == expected, (name, inference)
            for gain_name, g in gains.items():
                gibbs, other = gain_name.split("_vs_")
                difference = (report["results"][gibbs][inference]["part_accuracy"]
                              - report["results"][other][inference]["part_accuracy"])
                assert g["mean"] == pytest.approx(difference, abs=1e-9) and g["ci"][0] <= g["mean"] <= g["ci"][1]
            for key, g in report["over_cnn"][inference].items():  # each CRF over the regime's CNN alone
                difference = report["results"][key][inference]["part_accuracy"] - report["cnn"]["part_accuracy"]
                assert g["mean"] == pytest.approx(difference, abs=1e-9), (name, key)
        assert ("joint_vs_separate" in report) == (name == "default")


def test_each_method_learned_its_kind_of_tables(tiny_compare, tiny_run):
    from nets.weights import crf_tables

    out, full = tiny_compare
    report = full["regimes"]["default"]
    tables = {key: crf_tables(report["methods"][key]["model"])[0] for key in METHODS}
    assert sampler.learning.potts_violation(tables["potts"]) is None and tables["potts"].any()
    for key in ("gibbs_ml", "pseudo_likelihood", "meanfield", "loopy_bp", "pseudo_likelihood_joint",
                "meanfield_joint"):
        assert sampler.learning.potts_violation(tables[key]) is not None, key  # free tables learn off-diagonals
    for key in ("pseudo_likelihood", "meanfield"):  # the end-to-end stage moved on from the separate theta
        assert not np.array_equal(tables[key], tables[key + "_joint"])
        gated = tables[key + "_gated"]  # K tables that started as the method's own separate ones, then moved apart
        assert gated.shape == (len(tables[key]), 2) + tables[key].shape[1:]
        assert not np.array_equal(gated[:, 0], gated[:, 1]) and not np.array_equal(gated[:, 0], tables[key])
    offsets = sampler.parse_edges(full["settings"]["run_settings"]["edges"])
    labels = read_split(tiny_run / "data" / "train.txt")["label"]
    assert np.array_equal(tables["piecewise"], sampler.learning.piecewise_tables(labels, offsets, 20))
    for key in METHODS:
        r = report["methods"][key]["repulsion"]
        assert r["negative_share"] == pytest.approx((tables[key] < 0).mean()) and r["min"] == pytest.approx(
            tables[key].min())


def test_the_low_data_regime_sees_only_the_first_images(tiny_compare, tiny_run):
    from nets.weights import crf_tables
    from experiments.scales import COMPARISON

    out, full = tiny_compare
    count = COMPARISON["tiny"].regimes["low_data"].train_images
    report, source = full["regimes"]["low_data"], out / "low_data" / "source"
    train = read_split(tiny_run / "data" / "train.txt")
    assert report["regime"]["train"] == count < len(train["label"])
    mine = read_split(source / "data" / "train.txt")  # stage 1's data: the first images, nothing else
    assert np.array_equal(mine["depth"], train["depth"][:count]) and np.array_equal(mine["label"],
                                                                                    train["label"][:count])
    assert str(source / "data") in (source / "prototxt" / "train_cnn.prototxt").read_text()
    scores = read_split(source / "scores" / "train.txt")  # the learners' input: those images' scores
    assert np.array_equal(scores["label"], train["label"][:count]) and list(scores["index"]) == list(range(count))
    for key in ("gibbs_ml", "potts", "pseudo_likelihood", "meanfield", "loopy_bp"):
        net = (out / "low_data" / "prototxt" / f"train_{key}.prototxt").read_text()
        assert f"{source / 'scores'}/train.txt" in net, key
        if key in ("gibbs_ml", "potts"):  # one chain per image it learns on
            assert f'\\"num_images\\": {count},' in net, key
    tables = crf_tables(report["methods"]["piecewise"]["model"])[0]
    offsets = sampler.parse_edges(full["settings"]["run_settings"]["edges"])
    assert np.array_equal(tables, sampler.learning.piecewise_tables(train["label"][:count], offsets, 20))


def test_the_weak_regime_is_the_default_cnn_stopped_early(tiny_compare, tiny_run):
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format
    from experiments.scales import COMPARISON

    out, full = tiny_compare
    regime = COMPARISON["tiny"].regimes["weak"]
    source = out / "weak" / "source" / "prototxt"
    run = tiny_run / "run" / "prototxt"
    def net(path):
        return "".join(line for line in path.read_text().splitlines(True) if not line.startswith("#"))
    assert net(source / "train_cnn.prototxt") == net(run / "train_cnn.prototxt")  # the same net, on the same data

    def fields(path):
        s = text_format.Parse(net(path), caffe_pb2.SolverParameter())
        for name in ("net", "snapshot", "snapshot_prefix", "max_iter", "stepvalue", "test_net", "test_iter",
                     "test_interval", "test_initialization"):
            s.ClearField(name)
        return s
    mine = text_format.Parse((source / "solver_cnn.prototxt").read_text(), caffe_pb2.SolverParameter())
    assert mine.max_iter == regime.cnn_iterations < 150 and fields(source / "solver_cnn.prototxt") == fields(
        run / "solver_cnn.prototxt")
    assert full["regimes"]["weak"]["regime"]["cnn_iterations"] == regime.cnn_iterations
    assert full["regimes"]["weak"]["methods"]["gibbs_ml"]["iterations"] == regime.gibbs


def test_training_records_and_the_markdown_report(tiny_compare):
    from experiments.scales import COMPARISON
    from nets.prototxt import LEARNING

    out, full = tiny_compare
    report = full["regimes"]["default"]
    budget = COMPARISON["tiny"].regimes["default"].stages
    for key in ("potts", "pseudo_likelihood", "meanfield", "loopy_bp"):
        assert report["methods"][key]["iterations"] == budget["separate"][key].iterations
    assert report["methods"]["gibbs_ml"]["iterations"] == 150 and report["methods"]["piecewise"]["iterations"] == 0
    # the rate rule: the Gibbs stage's rate times its iterations over the method's
    rule = LEARNING["separate"]["base_lr"] * 150 / budget["separate"]["meanfield"].iterations
    assert report["methods"]["meanfield"]["base_lr"] == pytest.approx(rule)
    weak = COMPARISON["tiny"].regimes["weak"]
    assert full["regimes"]["weak"]["methods"]["meanfield"]["base_lr"] == pytest.approx(
        LEARNING["separate"]["base_lr"] * weak.gibbs / weak.stages["separate"]["meanfield"].iterations)
    text = (out / "report.md").read_text()
    assert text.count("| learning method | stage | Gibbs max-marginals | mean field | ICM | LBP |") == 3
    assert (out / full["figure"]).stat().st_size > 1000 and f"]({full['figure']})" in text
    for name, methods in REGIMES.items():
        assert f"## Regime `{name}`" in text
        for key, m in full["regimes"][name]["methods"].items():
            assert m["seconds"] > 0, (name, key)
            assert (m["seconds_per_iteration"] is None) == (key == "piecewise"), (name, key)
            assert f"{name}/theta_{key}.png" in text and (out / name / f"theta_{key}.png").stat().st_size > 1000


def test_the_audit_reads_the_report(tiny_compare):
    from experiments.audit import learning
    from experiments.audit.common import FAIL, PASS

    out, full = tiny_compare
    rows = {r.number: r for r in learning.run(out / "report.json")}
    assert set(rows) == {"8 default", "7a weak", "8 weak", "7a low_data", "8 low_data"}
    for name in REGIMES:
        row, gains = rows[f"8 {name}"], full["regimes"][name]["gains"]["gibbs"]
        assert row.details == {f"gibbs_ml_vs_{k}": {"mean": gains[f"gibbs_ml_vs_{k}"]["mean"],
                                                    "ci": list(gains[f"gibbs_ml_vs_{k}"]["ci"])}
                               for k in learning.ALTERNATIVES}, row
        # the verdict is the claim's rule on those figures: every interval above zero
        assert row.status == (PASS if all(d["ci"][0] > 0 for d in row.details.values()) else FAIL), row


def test_rerun_keeps_finished_stages(tiny_compare, tiny_run):
    out, report = tiny_compare
    logs = {p: p.stat().st_size for p in out.glob("*/logs/*")} | {p: p.stat().st_size for p in out.glob("*/source/logs/*")}
    result = compare(out, tiny_run / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert {p: p.stat().st_size for p in logs} == logs and len(logs) > 10
    again = json.loads((out / "report.json").read_text())

    def figures(results):  # all but the evaluation's own timing
        return {k: {i: {m: v for m, v in r.items() if m != "seconds"} for i, r in rows.items()}
                for k, rows in results.items()}
    for name in REGIMES:  # same models, same seeds
        assert figures(again["regimes"][name]["results"]) == figures(report["regimes"][name]["results"]), name
    iterations = report["regimes"]["default"]["methods"]["meanfield"]["iterations"]
    assert sorted(p.name for p in (out / "default" / "snapshots").glob("meanfield_iter_*")) == [
        f"meanfield_iter_{iterations}.{ext}" for ext in ("caffemodel", "solverstate")]


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


def test_the_report_states_the_warm_starts_memory_beside_the_chains():
    """Issue 22's space argument: every message of every training image (2 directions x C classes x
    H x W x L float32) against one uint8 label per pixel, at the default and the paper's scale."""
    from experiments.compare import report

    figures = report.memory("sparse:1,2,4,8,16,32", 20)  # 24 edge classes
    for name, (h, w) in {"default": (120, 160), "paper": (240, 320)}.items():
        assert figures[name]["messages"] == 2000 * 2 * 24 * h * w * 20 * 4
        assert figures[name]["chains"] == 2000 * h * w
    table = report.memory_markdown(figures)
    assert "| default (160x120) | 2000 | 147.5 GB | 38.4 MB |" in table
    assert "| paper (320x240) | 2000 | 589.8 GB | 153.6 MB |" in table
