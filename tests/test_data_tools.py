"""The data tools: end to end once through a real process, otherwise in-process via main()."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import data

REPO = Path(__file__).resolve().parents[1]


def tool(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("tools") / "ds"
    data.make_dataset(out, train=8, test=4, height=48, width=64, seed=0)
    return out


def test_make_dataset_command(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, str(REPO / "tools" / "make_dataset.py"), "--out", str(tmp_path / "ds"),
           "--train", "4", "--test", "2", "--height", "24", "--width", "32", "--workers", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "ds" / "train.txt"), str(tmp_path / "ds" / "test.txt")]
    assert data.read_split(tmp_path / "ds" / "test.txt")["depth"].shape == (2, 24, 32)
    bad = subprocess.run(cmd[:4] + ["--train", "0"], capture_output=True, text=True, env=env, cwd=REPO)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--train: expected a positive integer" in bad.stderr


def exit_status(main, argv):
    """main's return value, or the status argparse exits with."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize("argv, problem", [
    (["--train", "x"], "expected a positive integer"),
    (["--height", "4"], "too small"),
    (["--workers", "0"], "expected a positive integer"),
])
def test_make_dataset_bad_arguments(tmp_path, capsys, argv, problem):
    assert exit_status(tool("make_dataset").main, ["--out", str(tmp_path / "ds")] + argv) == 2
    err = capsys.readouterr().err
    assert problem in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_import_dataset_command(tmp_path, capsys):
    main = tool("import_dataset").main
    (tmp_path / "src").mkdir()
    assert main(["--train", str(tmp_path / "none.npy"), "--test", str(tmp_path / "src"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "none.npy: no such file" in err and err.count("\n") == 1 and not (tmp_path / "o").exists()
    depth = np.full((2, 6, 8), 6.0, np.float32)
    label = np.full((2, 6, 8), 19)
    with open(tmp_path / "b.npy", "wb") as f:
        for a in (depth, label, np.zeros((0, 3), np.int32), np.zeros(0, np.int32)):
            np.save(f, a)
    bundle = str(tmp_path / "b.npy")
    assert main(["--train", bundle, "--test", bundle, "--out", str(tmp_path / "o")]) == 0
    assert (data.read_split(tmp_path / "o" / "train.txt")["label"] == 19).all()


def test_contact_sheet(dataset, tmp_path, capsys):
    main = tool("contact_sheet").main
    assert main([str(dataset / "train.h5"), "--out", str(tmp_path / "s.png"), "--count", "5", "--columns", "2"]) == 0
    assert Image.open(tmp_path / "s.png").size == (2 * 2 * 64 * 2, 3 * 48 * 2)
    assert main([str(dataset / "nope.h5"), "--out", str(tmp_path / "t.png")]) == 2
    assert "nope.h5: no such file" in capsys.readouterr().err and not (tmp_path / "t.png").exists()


def test_baseline_forest_runs(dataset, capsys):
    argv = [str(dataset), "--train-images", "8", "--test-images", "2", "--pixels", "50", "--features", "20",
            "--trees", "2", "--workers", "1"]
    assert tool("baseline_forest").main(argv) == 0
    assert "body-part accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["make_dataset", "import_dataset", "contact_sheet", "baseline_forest"])
def test_help(name, capsys):
    assert exit_status(tool(name).main, ["--help"]) == 0
    assert "usage:" in capsys.readouterr().out


def test_make_dataset_help_gives_the_largest_image_size(tmp_path, capsys):
    from data.generate import MAX_SIDE

    assert exit_status(tool("make_dataset").main, ["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"image height in pixels, 8..{MAX_SIDE}" in out and f"image width in pixels, 8..{MAX_SIDE}" in out
    assert exit_status(tool("make_dataset").main, ["--out", str(tmp_path / "ds"), "--height", str(MAX_SIDE + 1)]) == 2
    assert f"at most {MAX_SIDE}" in capsys.readouterr().err


def write_empty_bundle(path, shape):
    with open(path, "wb") as f:
        for a in (np.zeros(shape, np.float32), np.zeros(shape, np.int64), np.zeros((0, 3), np.int32), np.zeros(0, np.int32)):
            np.save(f, a)


@pytest.mark.parametrize("shape", [(0, 6, 8), (2, 0, 8)])
def test_import_dataset_empty_bundle(tmp_path, capsys, shape):
    # used to end in an h5py traceback while writing
    write_empty_bundle(tmp_path / "b.npy", shape)
    bundle = str(tmp_path / "b.npy")
    assert tool("import_dataset").main(["--train", bundle, "--test", bundle, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"b.npy: depths has shape {shape}, expected at least one image" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.npy"]


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_import_dataset_bad_colour_distance(tmp_path, capsys, value):
    # nan used to accept any colour: every comparison with it is false
    write_empty_bundle(tmp_path / "b.npy", (1, 2, 2))
    bundle = str(tmp_path / "b.npy")
    argv = ["--train", bundle, "--test", bundle, "--out", str(tmp_path / "o"), "--max-colour-distance", value]
    assert tool("import_dataset").main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"max colour distance must be a finite number >= 0, got {float(value)}" in err
    assert not (tmp_path / "o").exists()
