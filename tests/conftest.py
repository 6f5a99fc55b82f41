"""Shared fixtures: where Caffe is, and clean skips where it (or a GPU) is not."""
import pathlib

import pytest

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
