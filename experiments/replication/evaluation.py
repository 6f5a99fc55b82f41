"""The rows of the results table: which deploy net, which weights, which inference."""
from pathlib import Path

from ..evaluation import evaluate

# (row key, table label, deploy net, weights of stage, inference)
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
    """evaluate()'s report for one row of ROWS (weights: {stage: .caffemodel})."""
    key, _, net, stage, inference = row
    return evaluate(Path(net_dir) / f"{net}.prototxt", weights[stage], test_txt, inference=inference,
                    burn_in=scale.burn_in, samples=scale.samples,
                    save_predictions=None if predictions_dir is None else Path(predictions_dir) / key)
