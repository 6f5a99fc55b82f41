"""Dataset folders: the tools replace only a dataset they wrote, never the user's files or their input."""
import errno
import json
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import data
from data import dataset_dir, hdf5, staging
from data.real_format import import_dataset
from test_data_import import fake_images, write_bundle, write_folder
from test_data_tools import tool

TINY = dict(train=2, test=2, height=16, width=20, seed=0)


def snapshot(folder):
    """{relative path: bytes} of every file under folder, to prove nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_make_dataset_command_keeps_a_folder_that_only_has_a_meta_json(tmp_path, capsys):
    # the repro: any file called meta.json used to make the whole folder replaceable
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "meta.json").write_text("{}\n")
    (tmp_path / "d" / "notes.csv").write_text("x\n")
    before = snapshot(tmp_path)
    argv = ["--out", str(tmp_path / "d"), "--train", "2", "--test", "2", "--height", "16", "--width", "20"]
    assert tool("make_dataset").main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "d") in err and "not replacing it" in err
    assert snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def spoil(folder, how):
    """Make a written dataset folder into one the tools did not (wholly) write."""
    if how == "extra file":
        (folder / "sheet.png").write_bytes(b"mine")
    elif how == "sub-folder":
        (folder / "notes").mkdir()
        (folder / "notes" / "a.txt").write_text("mine")
    elif how == "foreign h5":
        with h5py.File(folder / "train.h5", "w") as f:
            f["my_data"] = np.arange(3)
    elif how == "meta of another schema":
        (folder / "meta.json").write_text(json.dumps({"counts": {"train": 2, "test": 2}}))
    elif how == "missing split file":
        (folder / "test.txt").unlink()
    elif how == "txt names another file":
        (folder / "train.txt").write_text("/somewhere/else.h5\n")
    elif how == "symlink":
        (folder / "test.h5").unlink()
        (folder / "test.h5").symlink_to(folder.parent / "precious.h5")


@pytest.mark.parametrize("how", ["extra file", "sub-folder", "foreign h5", "meta of another schema",
                                 "missing split file", "txt names another file", "symlink"])
def test_refuses_a_dataset_folder_it_did_not_wholly_write(tmp_path, how):
    data.make_dataset(tmp_path / "ds", **TINY)
    (tmp_path / "precious.h5").write_bytes(b"mine")
    spoil(tmp_path / "ds", how)
    before = snapshot(tmp_path)
    with pytest.raises(data.DataError, match="not a dataset folder these tools wrote") as e:
        data.make_dataset(tmp_path / "ds", **TINY)
    assert "\n" not in str(e.value)
    assert snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["ds", "precious.h5"]


def test_refuses_a_file_and_accepts_an_empty_folder(tmp_path):
    (tmp_path / "f").write_text("mine")
    with pytest.raises(data.DataError, match="f: exists and is not a folder"):
        data.make_dataset(tmp_path / "f", **TINY)
    assert (tmp_path / "f").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    data.make_dataset(tmp_path / "empty", **TINY)
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == [
        "meta.json", "test.h5", "test.txt", "train.h5", "train.txt"]


def test_import_replaces_an_imported_dataset(tmp_path):
    depth, label = fake_images()
    write_bundle(tmp_path / "a.npy", depth, label)
    write_bundle(tmp_path / "b.npy", depth[:1], label[:1])
    import_dataset(tmp_path / "ds", {"train": tmp_path / "a.npy", "test": tmp_path / "a.npy"})
    import_dataset(tmp_path / "ds", {"train": tmp_path / "b.npy", "test": tmp_path / "a.npy"})
    assert len(data.read_split(tmp_path / "ds" / "train.txt")["label"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.npy", "ds"]  # no hidden leftovers


@pytest.mark.parametrize("out, relation", [("train", "is"), ("train/ds", "lies inside"), (".", "contains")])
def test_import_never_writes_into_its_input(tmp_path, out, relation):
    depth, label = fake_images()
    write_folder(tmp_path / "train", depth, label)
    write_bundle(tmp_path / "test.npy", depth, label)
    before = snapshot(tmp_path)
    with pytest.raises(data.DataError, match=f"output folder {relation} the input"):
        import_dataset(tmp_path / out, {"train": tmp_path / "train", "test": tmp_path / "test.npy"})
    assert snapshot(tmp_path) == before


def test_import_command_with_out_equal_to_its_source_folder_keeps_the_images(tmp_path, capsys):
    depth, label = fake_images()
    write_folder(tmp_path / "train", depth, label)
    before = snapshot(tmp_path)
    source = str(tmp_path / "train")
    assert tool("import_dataset").main(["--train", source, "--test", source, "--out", source]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "output folder is the input" in err
    assert snapshot(tmp_path) == before


def test_files_that_appear_while_generating_are_kept(tmp_path, monkeypatch):
    # out_dir is checked again just before the swap: a file saved into it meanwhile survives
    data.make_dataset(tmp_path / "ds", **TINY)
    write_split = hdf5.write_split

    def user_saves_a_file(path, *args):
        (tmp_path / "ds" / "notes.txt").write_text("mine")
        write_split(path, *args)

    monkeypatch.setattr(hdf5, "write_split", user_saves_a_file)
    with pytest.raises(data.DataError, match="notes.txt is not part"):
        data.make_dataset(tmp_path / "ds", **TINY)
    assert (tmp_path / "ds" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_recognises_what_both_tools_write(tmp_path):
    data.make_dataset(tmp_path / "made", **TINY)
    depth, label = fake_images()
    write_bundle(tmp_path / "b.npy", depth, label)
    import_dataset(tmp_path / "imported", {"train": tmp_path / "b.npy", "test": tmp_path / "b.npy"})
    for name in ("made", "imported"):
        assert dataset_dir.dataset_files(tmp_path / name) == ["meta.json", "test.h5", "test.txt", "train.h5", "train.txt"]


def dead_pid():
    """The PID of a process that has ended (what a killed writer leaves in its partial names)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.fixture
def live_pid():
    child = subprocess.Popen(["sleep", "60"])
    yield child.pid
    child.kill()
    child.wait()


KILL = {  # make_dataset killed while staging (writing its new files), and between its two renames
    "while writing": "hdf5.write_split = lambda *a: os.kill(os.getpid(), signal.SIGKILL)",
    "between the renames": "rename = Path.rename\n"
                           "Path.rename = lambda s, t: os.kill(os.getpid(), signal.SIGKILL) if s.name == 'new' "
                           "else rename(s, t)",
}


@pytest.mark.parametrize("when", KILL)
def test_a_killed_make_dataset_leaves_nothing_after_the_next_run(tmp_path, when):
    data.make_dataset(tmp_path / "ds", **TINY)
    script = (f"import os, signal\nfrom pathlib import Path\nimport data\nfrom data import hdf5\n{KILL[when]}\n"
              f"data.make_dataset({str(tmp_path / 'ds')!r}, **{TINY!r})\n")
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert any(p.name.startswith(".ds.") for p in tmp_path.iterdir())  # what the kill left
    data.make_dataset(tmp_path / "ds", **{**TINY, "seed": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert dataset_dir.dataset_files(tmp_path / "ds") == ["meta.json", "test.h5", "test.txt", "train.h5", "train.txt"]


def test_a_swap_killed_between_its_renames_gives_the_previous_dataset_back(tmp_path):
    data.make_dataset(tmp_path / "ds", **TINY)
    before = snapshot(tmp_path / "ds")
    script = (f"import os, signal\nfrom pathlib import Path\nimport data\n{KILL['between the renames']}\n"
              f"data.make_dataset({str(tmp_path / 'ds')!r}, **{TINY!r})\n")
    subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert not (tmp_path / "ds").exists()  # moved aside into the stage
    # the next write puts it back first, even one then refused (here: for writing into its input)
    with pytest.raises(data.DataError, match="output folder is the input"):
        dataset_dir.write_dataset(tmp_path / "ds", {}, {}, inputs=[tmp_path / "ds"])
    assert snapshot(tmp_path / "ds") == before and sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_partial_outputs_of_live_writers_and_foreign_folders_are_kept(tmp_path, live_pid):
    data.make_dataset(tmp_path / "ds", **TINY)
    live, foreign, dead = (tmp_path / f".ds.partial-{pid}" for pid in (live_pid, dead_pid(), dead_pid()))
    for folder in (live, foreign):
        folder.mkdir()
    (live / staging.MARKER).write_text(f"{live_pid}\n")  # another make_dataset, still writing
    (foreign / "mine.txt").write_text("mine")  # named like a stage, but without its marker
    dead.write_text("a partial file of a writer that has ended")
    data.make_dataset(tmp_path / "ds", **TINY)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ds", live.name, foreign.name])
    assert (foreign / "mine.txt").read_text() == "mine" and (live / staging.MARKER).exists()


@pytest.fixture
def snapshot_model(tmp_path, pycaffe):
    """A CRF stage's training snapshot (tiny), for export_model."""
    from nets import crf
    from nets.runtime import net_from_text

    path = tmp_path / "snap.caffemodel"
    net = net_from_text(str(crf.loss_net((2, 20, 6, 8), crf.config("sparse:1", 2)).to_proto()), pycaffe.TEST)
    net.save(str(path))
    return path


@pytest.mark.caffe
def test_a_failed_export_leaves_no_partial_file_and_the_next_removes_a_killed_ones(
        snapshot_model, tmp_path, monkeypatch, capsys, live_pid):
    out = tmp_path / "m.caffemodel"
    write_bytes = Path.write_bytes

    def disk_full(self, data):
        write_bytes(self, data[:len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    assert tool("export_model").main([str(snapshot_model), "--out", str(out), "--trained-at", "8x6"]) == 2
    assert "No space left" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.caffemodel"]
    monkeypatch.undo()
    killed, running = (tmp_path / f".m.caffemodel.partial-{pid}" for pid in (dead_pid(), live_pid))
    for path in (killed, running):
        path.write_bytes(b"half a model")
    assert tool("export_model").main([str(snapshot_model), "--out", str(out), "--trained-at", "8x6"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["snap.caffemodel", "m.caffemodel", running.name])


@pytest.mark.caffe
def test_pruning_deletes_only_the_snapshots_caffe_wrote(tmp_path):
    from experiments import stages

    caffes = ["s_iter_2.caffemodel", "s_iter_2.solverstate", "s_iter_10.caffemodel", "s_iter_10.solverstate"]
    users = ["s_iter_2.caffemodel.keep", "s_iter_best.caffemodel", "s_iter_best.solverstate", "s_iter_02.caffemodel",
             "s_iter_.solverstate", "s_iter_1e3.caffemodel", "s_iter_2.caffemodel~", "s_iter_3.solverstate.bak",
             "t_iter_2.caffemodel", "s_iter_2.caffemodel.txt"]
    for name in caffes + users:
        (tmp_path / name).write_text(name)
    (tmp_path / "s_iter_4.caffemodel").mkdir()  # a user's folder named like a snapshot
    (tmp_path / "s_iter_4.caffemodel" / "mine.txt").write_text("mine")
    (tmp_path / "s_iter_6.solverstate").symlink_to(tmp_path / "s_iter_best.solverstate")
    assert stages.resume_point(tmp_path, "s") is None  # no crash on odd names; Caffe's own here are not pairs
    stages.prune_snapshots(tmp_path, "s", 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        caffes[2:] + users + ["s_iter_4.caffemodel", "s_iter_6.solverstate"])
    assert all((tmp_path / name).read_text() == name for name in users)
    assert (tmp_path / "s_iter_4.caffemodel" / "mine.txt").read_text() == "mine"


@pytest.mark.caffe
def test_a_stage_keeps_odd_snapshot_names_and_caffes_log_in_the_run_folder(caffe_bin, tmp_path, monkeypatch):
    from experiments import stages

    run, tmp = tmp_path / "run", tmp_path / "tmp"
    for folder in (run / "snapshots", tmp):
        folder.mkdir(parents=True)
    (run / "net.prototxt").write_text(
        'layer { name: "x" type: "DummyData" top: "x" dummy_data_param { shape { dim: 2 dim: 3 } } }\n'
        'layer { name: "s" type: "Scale" bottom: "x" top: "y" scale_param { bias_term: true } }\n'
        'layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "x" top: "loss" }\n')
    (run / "solver.prototxt").write_text(
        f'net: "{run / "net.prototxt"}"\nbase_lr: 0.1\nlr_policy: "fixed"\nmax_iter: 4\nsnapshot: 2\n'
        f'snapshot_prefix: "{run / "snapshots" / "s"}"\nsolver_mode: CPU\n')
    users = ["s_iter_2.caffemodel.keep", "s_iter_best.caffemodel", "s_iter_best.solverstate", "s_iter_02.solverstate"]
    for name in users:
        (run / "snapshots" / name).write_text(name)
    monkeypatch.setenv("TMPDIR", str(tmp))  # glog's log folder when GLOG_log_dir is not set
    for name in ("GLOG_log_dir", "GLOG_logtostderr", "GLOG_alsologtostderr"):
        monkeypatch.delenv(name, raising=False)
    stages.run_stage("s", run / "solver.prototxt", 4, run / "snapshots", run / "log")
    assert sorted(p.name for p in (run / "snapshots").iterdir()) == sorted(
        users + ["s_iter_4.caffemodel", "s_iter_4.solverstate"])
    assert all((run / "snapshots" / name).read_text() == name for name in users)
    assert list(tmp.iterdir()) == []  # no caffe.HOST.USER.log.INFO.* there
    assert "Optimization Done" in (run / "log").read_text()  # Caffe's log, in the run folder
