"""tools/tune_separate.py on tiny data: learning-rate curves on a generated validation set."""
import json
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.caffe


@pytest.mark.parametrize("method", ["gibbs_ml", "pseudo_likelihood", "meanfield", "potts"])
def test_tune_separate_writes_validation_curves(tmp_path, pycaffe, method):
    import data
    from nets import crf
    from nets.prototxt import deploy_net

    data.make_dataset(tmp_path / "d", train=8, test=1, height=24, width=32, seed=0)
    deploy = tmp_path / "deploy.prototxt"
    deploy.write_text(deploy_net(False, 24, 32, crf.config(num_images=8)))
    weights = tmp_path / "cnn.caffemodel"
    pycaffe.Net(str(deploy), pycaffe.TEST).save(str(weights))  # untrained: msra-filled
    out = tmp_path / "tune.json"
    run = subprocess.run([sys.executable, "tools/tune_separate.py", "--cnn-weights", str(weights),
                          "--data", str(tmp_path / "d"), "--val-images", "3", "--lr", "0.01", "--lr", "0.1",
                          "--iters", "6", "--eval-every", "3", "--batch-size", "2", "--burn-in", "1",
                          "--samples", "2", "--json", str(out), "--method", method],
                         cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "d-val" / "test.h5").is_file()
    results = json.loads(out.read_text())
    assert set(results) == {"cnn", "0.01", "0.1"} and 0 <= results["cnn"] <= 1
    for lr in ("0.01", "0.1"):
        assert [it for it, _ in results[lr]] == [3, 6]
        assert all(0 <= acc <= 1 for _, acc in results[lr])
    assert "best base_lr" in run.stdout


def test_missing_weights_is_a_one_line_error(tmp_path):
    run = subprocess.run([sys.executable, "tools/tune_separate.py", "--cnn-weights", str(tmp_path / "no.caffemodel")],
                         cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 2 and "--cnn-weights: no such file" in run.stderr and run.stderr.count("\n") == 1
