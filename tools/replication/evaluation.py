"""The rows of the results table: which deploy net, which weights, which inference."""
from importlib import import_module
from pathlib import Path

eval_tool = import_module("eval")  # tools/eval.py (tools/ is on sys.path when run as a tool)

# (row key, table label, deploy net, weights of stage, --inference)
ROWS = (
    ("cnn", "CNN alone (argmax of unaries)", "deploy_cnn", "cnn", "cnn"),
    ("separate", "CNN+CRF separate, Gibbs max-marginals", "deploy_crf", "separate", "gibbs"),
    ("joint", "CNN+CRF end-to-end, Gibbs max-marginals", "deploy_crf", "joint", "gibbs"),
    ("meanfield", "end-to-end potentials, mean-field", "deploy_crf", "joint", "meanfield"),
    ("icm", "end-to-end potentials, ICM (MAP-style)", "deploy_crf", "joint", "icm"),
    # Control: the end-to-end CNN without its CRF, so that a gain is not mistaken for the
    # effect of training the CNN longer.
    ("joint_cnn", "end-to-end CNN alone (argmax, no CRF)", "deploy_cnn", "joint", "cnn"),
)


def evaluate_row(row, net_dir, weights, test_txt, scale, predictions_dir=None):
    """eval.py's report for one row of ROWS (weights: {stage: .caffemodel})."""
    key, _, net, stage, inference = row
    argv = ["--model", str(Path(net_dir) / f"{net}.prototxt"), "--weights", str(weights[stage]),
            "--data", str(test_txt), "--inference", inference,
            "--burn-in", str(scale.burn_in), "--samples", str(scale.samples)]
    if predictions_dir is not None:
        argv += ["--save-predictions", str(Path(predictions_dir) / key)]
    return eval_tool.evaluate(eval_tool.parse_args(argv))
