"""Shared fixtures: where Caffe is, clean skips where it (or a GPU) is not, and a tiny replication run."""
import pathlib
import runpy
import subprocess
import sys

import pytest

import nets  # noqa: F401 - quiets Caffe's logging (nets/__init__.py) before any test loads Caffe

REPO = pathlib.Path(__file__).resolve().parents[1]
CAFFE_BIN = REPO / ".venv" / "bin" / "caffe"


@pytest.fixture(scope="session")
def caffe_bin():
    """The `.venv/bin/caffe` wrapper made by `make setup`."""
    if not CAFFE_BIN.exists():
        pytest.skip("no .venv/bin/caffe: run `make setup` first")
    return CAFFE_BIN


@pytest.fixture(scope="session")
def pycaffe():
    """pycaffe, CPU mode, quiet logging."""
    caffe = pytest.importorskip("caffe", reason="pycaffe not importable: run `make setup` first")
    caffe.set_mode_cpu()
    return caffe


def tool_main(name):
    """main(argv) of tools/<name>.py, loaded without running it (run_path of a file leaves the
    import path alone: the tools import only installed packages)."""
    return runpy.run_path(str(REPO / "tools" / f"{name}.py"))["main"]


def run_tool(name, argv):
    """tools/<name>.py's exit status for argv, run in this process (argparse's exits included)."""
    try:
        return tool_main(name)(argv)
    except SystemExit as e:
        return e.code


def replicate(out, data, *extra):
    """tools/replicate.py --scale tiny in a subprocess (Caffe aborts the process on some errors)."""
    return subprocess.run([sys.executable, str(REPO / "tools" / "replicate.py"), "--scale", "tiny",
                           "--out", str(out), "--data", str(data), *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, caffe_bin):
    """A finished tiny replication run: ROOT/run, its dataset ROOT/data (about a minute). Tests
    may rerun it with its own settings, never change it."""
    root = tmp_path_factory.mktemp("replicate")
    run = replicate(root / "run", root / "data")
    assert run.returncode == 0, run.stderr[-3000:]
    return root
