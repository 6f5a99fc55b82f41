"""tools/bench_learning.py runs end to end on a tiny setting and refuses bad options."""
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.caffe

TOOL = Path(__file__).resolve().parents[1] / "tools" / "bench_learning.py"


def load():
    spec = importlib.util.spec_from_file_location("bench_learning", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prints_one_row_per_layer(pycaffe, capsys):
    assert load().main(["--height", "6", "--width", "8", "--batch", "2", "--edges", "window:1",
                        "--iterations", "1", "--iterations", "2", "--repeats", "1"]) == 0
    rows = capsys.readouterr().out.splitlines()
    names = ("one Gibbs sweep", "GibbsCRFLoss", "PseudoLikelihoodLoss", "MeanFieldLoss T=1", "MeanFieldLoss T=2")
    for name in names:
        assert sum(row.startswith(name) for row in rows) == 1, name


@pytest.mark.parametrize("argv, message", [
    (["--iterations", "0"], "--iterations must be at least 1"),
    (["--edges", "ring:2"], "--edges:"),
    (["--threads", "0"], "--threads must be positive"),
    (["--labels", "1"], "--labels is too small"),
])
def test_bad_options_exit_with_the_reason(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        load().parse_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
