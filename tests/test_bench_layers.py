"""tools/bench_layers.py runs end to end on a tiny setting and refuses bad options."""
import pytest

from conftest import run_tool

pytestmark = pytest.mark.caffe


def test_prints_one_row_per_layer(pycaffe, capsys):
    assert run_tool("bench_layers", ["--height", "6", "--width", "8", "--batch", "2", "--edges", "window:1",
                                     "--iterations", "1", "--iterations", "2", "--repeats", "1"]) == 0
    rows = capsys.readouterr().out.splitlines()
    names = ("one Gibbs sweep", "GibbsCRFLoss, random scores", "GibbsCRFLoss, scores fit truth", "PseudoLikelihoodLoss",
             "MeanFieldLoss T=1", "MeanFieldLoss T=2")
    for name in names:
        assert sum(row.startswith(name) for row in rows) == 1, name
    differs = [float(row.split()[-1].rstrip("%")) for row in rows if row.startswith("GibbsCRFLoss")]
    assert len(differs) == 2 and all(0 <= d <= 100 for d in differs)


@pytest.mark.parametrize("argv, message", [
    (["--iterations", "0"], "--iterations: expected a positive integer"),
    (["--edges", "ring:2"], "--edges:"),
    (["--threads", "0"], "--threads: expected a positive integer"),
    (["--labels", "1"], "--labels: expected at least 2"),
])
def test_bad_options_exit_with_the_reason(capsys, argv, message):
    assert run_tool("bench_layers", argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
