"""Shared fixtures: where Caffe is, and clean skips where it (or a GPU) is not."""
import pathlib
import runpy

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
