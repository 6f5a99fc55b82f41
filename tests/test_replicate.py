"""The replication run at `tiny` scale, end to end through `caffe train`, and its resume
(the run itself: conftest.py's tiny_run, shared with the learning comparison's test)."""
import json
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, replicate

pytestmark = [pytest.mark.caffe, pytest.mark.slow]
ROWS = ("forest", "cnn", "separate", "joint", "meanfield", "icm", "joint_cnn", "gated_separate", "gated_joint")
STAGES = ("cnn", "separate", "joint", "gated_separate", "gated_joint")


def test_report_has_every_row_with_sane_numbers(tiny_run):
    report = json.loads((tiny_run / "run" / "report.json").read_text())
    assert set(report["results"]) == set(ROWS)
    for key in ROWS:
        r = report["results"][key]
        lo, hi = r["part_accuracy_ci"]
        assert 0 <= lo <= r["part_accuracy"] <= hi <= 1, key
        assert 0 < r["pixel_accuracy"] <= 1 and 0 <= r["mean_iou"] <= 1
        assert len(r["per_class_accuracy"]) == 20
        valid, dropped = r["part_pixels_valid_depth"], r["part_pixels_dropped_depth"]
        assert dropped > 0 and r["part_accuracy"] == pytest.approx(
            (r["part_accuracy_valid_depth"] * valid + r["part_accuracy_dropped_depth"] * dropped) / (valid + dropped))
    # A CNN trained for a minute on 48 images still beats chance (1/19) on body parts.
    assert report["results"]["cnn"]["part_accuracy"] > 0.1
    for gain in report["gains"].values():
        assert gain["ci"][0] <= gain["mean"] <= gain["ci"][1]
    assert set(report["stage_seconds"]) == set(STAGES)
    assert {"gated_separate_vs_separate", "gated_joint_vs_joint", "gated_joint_vs_cnn"} <= set(report["gains"])


def test_report_markdown_and_pictures_exist(tiny_run):
    out = tiny_run / "run"
    text = (out / "report.md").read_text()
    assert "| CNN+CRF end-to-end, Gibbs max-marginals |" in text
    for picture in ("fig1.png", "theta_separate.png", "theta_joint.png", "theta_gated_joint.png", "gate_weights.png",
                    "training_curves.png"):
        assert picture in text
        assert (out / picture).stat().st_size > 1000


def test_rerun_keeps_finished_stages(tiny_run):
    out = tiny_run / "run"
    logs = {s: (out / "logs" / f"{s}.log").stat().st_size for s in STAGES}
    run = replicate(out, tiny_run / "data")
    assert run.returncode == 0, run.stderr[-3000:]
    assert {s: (out / "logs" / f"{s}.log").stat().st_size for s in logs} == logs
    assert json.loads((out / "report.json").read_text())["stage_seconds"] == dict.fromkeys(logs)
    assert "| training stage cnn | trained by an earlier run |" in (out / "report.md").read_text()
    # Finished stages keep only their final snapshot.
    assert sorted(p.name for p in (out / "snapshots").glob("joint_*")) == [
        "joint_iter_60.caffemodel", "joint_iter_60.solverstate"]


@pytest.mark.parametrize("stage", ["cnn", "separate", "joint"])
def test_a_stage_stopped_and_resumed_ends_bit_for_bit_as_the_uninterrupted_run(tiny_run, tmp_path, stage):
    """Ctrl-C (SIGINT) after the stage's first snapshot at a whole epoch: Caffe stops and snapshots
    where it is, between epochs; run_stage resumes from the whole-epoch snapshot instead, and the
    final weights (theta and the chain store included) equal the run's, which never stopped."""
    from experiments.stages import CAFFE, finished, pair_problem, run_stage
    from nets.weights import blob_array, read_netparameter

    out = tiny_run / "run"
    solver = (out / "prototxt" / f"solver_{stage}.prototxt").read_text()
    max_iter = int(re.search(r"max_iter: (\d+)", solver).group(1))
    assert "snapshot: 48\n" in solver and "shuffle" not in (out / "prototxt" / f"train_{stage}.prototxt").read_text()
    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()
    (tmp_path / "solver.prototxt").write_text(solver.replace(str(out / "snapshots"), str(snapshots)))
    start = ([out / "snapshots" / "cnn_iter_150.caffemodel", out / "snapshots" / "separate_iter_150.caffemodel"]
             if stage == "joint" else None)
    command = [str(CAFFE), "train", "-solver", str(tmp_path / "solver.prototxt")]
    caffe = subprocess.Popen(command + (["-weights", ",".join(map(str, start))] if start else []), cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while pair_problem(snapshots, stage, 48) is not None:
        assert caffe.poll() is None, "caffe train ended before its first snapshot"
        time.sleep(0.02)
    caffe.send_signal(signal.SIGINT)
    assert caffe.wait() == 0 and not finished(snapshots, stage, max_iter)
    final = run_stage(stage, tmp_path / "solver.prototxt", max_iter, snapshots, tmp_path / "log", start)
    assert re.search(rf"-snapshot \S*{stage}_iter_(48|96|144)\.solverstate", (tmp_path / "log").read_text())
    resumed, uninterrupted = (read_netparameter(f, finite=False).layer
                              for f in (final, out / "snapshots" / f"{stage}_iter_{max_iter}.caffemodel"))
    assert [layer.name for layer in resumed] == [layer.name for layer in uninterrupted]
    for a, b in zip(resumed, uninterrupted):
        assert len(a.blobs) == len(b.blobs) and all(
            blob_array(x).tobytes() == blob_array(y).tobytes() for x, y in zip(a.blobs, b.blobs)), a.name


def test_a_run_whose_data_changed_is_refused(tiny_run, tmp_path):
    """The dataset regenerated in place with another seed (same counts and size): the run's models
    were trained on the old one, so the run is refused, naming the file, with nothing changed."""
    import data

    run, data_dir = tmp_path / "run", tmp_path / "data"
    run.mkdir()
    settings = (tiny_run / "run" / "settings.json").read_text()
    assert f'"{tiny_run / "data" / "train.h5"}"' in settings and f'"{tiny_run / "data" / "test.h5"}"' in settings
    (run / "settings.json").write_text(settings.replace(str(tiny_run / "data"), str(data_dir)))  # the run, moved
    data.make_dataset(data_dir, train=48, test=16, height=48, width=64, seed=1)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    done = replicate(run, data_dir)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"replicate.py: {data_dir / 'test.h5'}: changed since the run in {run} used it")
    assert "use a new --out or remove the run folder" in done.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_tune_never_scores_a_candidate_trained_from_another_cnn(tiny_run, tmp_path):
    """A work folder reused for a run with another CNN: its candidate trains again from that CNN, in
    a folder of its own whose start.json names it, instead of the old theta being scored under
    the new CNN's SHA-1."""
    import shutil

    from nets.weights import read_netparameter

    other = tmp_path / "other"
    shutil.copytree(tiny_run / "run", other, ignore=shutil.ignore_patterns("predictions", "*.png"))
    for model in (other / "snapshots" / "cnn_iter_150.caffemodel", other / "models" / "cnn.caffemodel"):
        net = read_netparameter(model)
        conv1 = next(layer for layer in net.layer if layer.name == "conv1").blobs[0]
        conv1.data[:] = [v * 1.5 for v in conv1.data]
        model.write_bytes(net.SerializeToString())
    records = {}
    for name, run in (("first", tiny_run / "run"), ("other", other)):
        done = subprocess.run([sys.executable, str(REPO / "tools" / "tune.py"), "--stage", "separate", "--lr", "0.001",
                               "--iterations", "12", "--run", str(run), "--work", str(tmp_path / "work"),
                               "--record", str(tmp_path / f"{name}.json")], capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        records[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert records["first"]["start"] != records["other"]["start"]
    folders = sorted((tmp_path / "work").glob("separate-lr0.001-12-*"))
    starts = [json.loads((f / "start.json").read_text())["start"] for f in folders]
    assert len(folders) == 2 and sorted(map(json.dumps, starts)) == sorted(
        json.dumps(r["start"]) for r in records.values())
    for folder in folders:  # each trained, from its own start
        assert "caffe train" in (folder / "separate.log").read_text()


def test_bad_scale_is_refused(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "tools" / "replicate.py"), "--scale", "huge"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "invalid choice: 'huge'" in run.stderr


@pytest.mark.parametrize("change", [["--edges", "sparse:1,2"], ["--seed", "3"]])
def test_a_rerun_with_other_settings_is_refused(tiny_run, change):
    out = tiny_run / "run"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    run = replicate(out, tiny_run / "data", *change)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "holds a run with other settings" in run.stderr and change[0][2:] in run.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_a_folder_that_holds_no_run_is_refused(tmp_path):
    (tmp_path / "mine.txt").write_text("not a run")
    run = replicate(tmp_path, tmp_path / "data")
    assert run.returncode == 2 and "holds no run" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


@pytest.mark.parametrize("height, width", [(97, 131), (72, 56), (120, 160), (240, 320)])
def test_the_exported_model_deploys_at_other_image_sizes(tiny_run, tmp_path, height, width):
    """Trained at 64x48; the fully convolutional CNN and translation-invariant tables run anywhere."""
    import data

    data.make_dataset(tmp_path / "other", train=1, test=3, height=height, width=width, seed=5)
    out = tiny_run / "run"
    for net, inference in (("deploy_crf", "gibbs"), ("deploy_crf", "icm"), ("deploy_cnn", "cnn")):
        run = subprocess.run([sys.executable, str(REPO / "tools" / "eval.py"), "--model",
                              str(out / "prototxt" / f"{net}.prototxt"), "--weights", str(out / "models" / "joint.caffemodel"),
                              "--data", str(tmp_path / "other" / "test.txt"), "--inference", inference,
                              "--burn-in", "2", "--samples", "3", "--json", str(tmp_path / "eval.json")],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-2000:]
        report = json.loads((tmp_path / "eval.json").read_text())
        assert report["images"] == 3 and 0 <= report["part_accuracy"] <= 1
        assert sum(map(sum, report["confusion"])) == 3 * height * width


def test_tune_scores_each_rate_on_the_validation_set_and_records_the_best(tiny_run, tmp_path):
    record = tmp_path / "separate.json"
    run = subprocess.run([sys.executable, str(REPO / "tools" / "tune.py"), "--stage", "separate", "--lr", "0.001",
                          "--lr", "0.01", "--run", str(tiny_run / "run"), "--work", str(tmp_path / "work"),
                          "--record", str(record)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(record.read_text())
    assert set(result["candidates"]) == {"0.001", "0.01"} and result["stage"] == "separate"
    best = max(c["part_accuracy"] for c in result["candidates"].values())
    assert result["candidates"][result["chosen"]]["part_accuracy"] == best and 0 < best <= 1
    assert result["validation"]["seed"] != json.loads((tiny_run / "run" / "settings.json").read_text())["seed"]
    assert (tiny_run / "data-val" / "test.h5").is_file()  # generated beside the data, not the test split
    (tmp_path / "mine.json").write_text("{}")
    again = subprocess.run([sys.executable, str(REPO / "tools" / "tune.py"), "--stage", "separate", "--lr", "0.001",
                            "--run", str(tiny_run / "run"), "--work", str(tmp_path / "work"),
                            "--record", str(tmp_path / "mine.json")], capture_output=True, text=True)
    assert again.returncode == 2 and "not a tuning record" in again.stderr and (tmp_path / "mine.json").read_text() == "{}"


def test_a_tuning_record_of_the_same_experiment_gains_the_new_candidates(tmp_path):
    from experiments.cli import BadInput
    from experiments.tuning import KIND, write_record

    def record(candidates, iterations=100, start="a1"):
        return {"kind": KIND, "stage": "joint", "method": "gibbs", "scale": "tiny", "iterations": iterations,
                "start": {"cnn_iter_150.caffemodel": start},
                "batch_size": 4, "validation": {"images": 8, "seed": 7}, "inference": "gibbs",
                "candidates": {lr: {"part_accuracy": a} for lr, a in candidates.items()},
                "chosen": max(candidates, key=candidates.get)}

    path = tmp_path / "joint.json"
    write_record(record({"2e-06": 0.7, "5e-06": 0.6}), path)
    written = write_record(record({"1e-06": 0.65, "5e-06": 0.62}), path)
    assert json.loads(path.read_text()) == written
    assert {k: c["part_accuracy"] for k, c in written["candidates"].items()} == {"1e-06": 0.65, "2e-06": 0.7,
                                                                                  "5e-06": 0.62}
    assert written["chosen"] == "2e-06"
    with pytest.raises(BadInput, match="another experiment.*iterations 100 there, 200 here"):
        write_record(record({"1e-06": 0.5}, iterations=200), path)
    with pytest.raises(BadInput, match="another experiment.*start"):  # trained on another CNN
        write_record(record({"1e-06": 0.5}, start="b2"), path)
    assert json.loads(path.read_text()) == written
