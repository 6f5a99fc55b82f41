"""The replication run at `tiny` scale, end to end through `caffe train`, and its resume."""
import json
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = [pytest.mark.caffe, pytest.mark.slow]
ROWS = ("cnn", "separate", "joint", "meanfield", "icm")


def replicate(out, data, *extra):
    return subprocess.run([sys.executable, str(REPO / "tools" / "replicate.py"), "--scale", "tiny",
                           "--out", str(out), "--data", str(data), *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, caffe_bin):
    root = tmp_path_factory.mktemp("replicate")
    run = replicate(root / "run", root / "data")
    assert run.returncode == 0, run.stderr[-3000:]
    return root


def test_report_has_every_row_with_sane_numbers(tiny_run):
    report = json.loads((tiny_run / "run" / "report.json").read_text())
    assert set(report["results"]) == set(ROWS)
    for key in ROWS:
        r = report["results"][key]
        lo, hi = r["part_accuracy_ci"]
        assert 0 <= lo <= r["part_accuracy"] <= hi <= 1, key
        assert 0 < r["pixel_accuracy"] <= 1 and 0 <= r["mean_iou"] <= 1
        assert len(r["per_class_accuracy"]) == 20
    # A CNN trained for a minute on 48 images still beats chance (1/19) on body parts.
    assert report["results"]["cnn"]["part_accuracy"] > 0.1
    for gain in report["gains"].values():
        assert gain["ci"][0] <= gain["mean"] <= gain["ci"][1]
    assert set(report["stage_seconds"]) == {"cnn", "separate", "joint"}


def test_report_markdown_and_pictures_exist(tiny_run):
    out = tiny_run / "run"
    text = (out / "report.md").read_text()
    assert "| CNN+CRF end-to-end, Gibbs max-marginals |" in text
    for picture in ("fig1.png", "theta_separate.png", "theta_joint.png", "training_curves.png"):
        assert picture in text
        assert (out / picture).stat().st_size > 1000


def test_rerun_keeps_finished_stages_and_resumes_an_interrupted_one(tiny_run):
    out = tiny_run / "run"
    snapshots = out / "snapshots"
    # Interrupt stage 3 after its first snapshot: drop what came later.
    (snapshots / "joint_iter_60.caffemodel").unlink()
    (snapshots / "joint_iter_60.solverstate").unlink()
    before = {s: (out / "logs" / f"{s}.log").stat().st_size for s in ("cnn", "separate")}
    run = replicate(out, tiny_run / "data")
    assert run.returncode == 0, run.stderr[-3000:]
    joint_log = (out / "logs" / "joint.log").read_text()
    assert f"-snapshot {snapshots / 'joint_iter_50.solverstate'}" in joint_log
    assert (snapshots / "joint_iter_60.caffemodel").exists()
    assert {s: (out / "logs" / f"{s}.log").stat().st_size for s in before} == before


def test_bad_scale_is_refused(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "tools" / "replicate.py"), "--scale", "huge"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "invalid choice: 'huge'" in run.stderr
