"""The rows of the results table, each scored on the test set by experiments.evaluation.score:
the per-pixel forest, and each stage's model with an inference method. A model's CNN scores
are computed once and shared by every row that uses that CNN (the stage-1 CNN serves the CNN
and separate rows; the end-to-end CNN the four end-to-end rows); a gated model's scores and its
pairwise branch's weights come from its own deploy net."""
import time
from pathlib import Path

from nets.weights import model_tables

from ..evaluation import crf_inputs, model_labels, score, write_predictions
from ..forest import predict_forest, train_forest

# (row key, table label, the stage whose model it uses (None: the forest), inference)
ROWS = (
    ("forest", "Random forest on depth features (per pixel, Shotton et al. 2011)", None, None),
    ("cnn", "CNN alone (argmax of unaries)", "cnn", "cnn"),
    ("separate", "CNN+CRF separate, Gibbs max-marginals", "separate", "gibbs"),
    ("joint", "CNN+CRF end-to-end, Gibbs max-marginals", "joint", "gibbs"),
    ("meanfield", "end-to-end potentials, mean-field", "joint", "meanfield"),
    ("icm", "end-to-end potentials, ICM (MAP-style)", "joint", "icm"),
    # Control: the end-to-end CNN without its CRF, so that a gain is not mistaken for the
    # effect of training the CNN longer.
    ("joint_cnn", "end-to-end CNN alone (argmax, no CRF)", "joint", "cnn"),
    # Image-dependent pairwise factors: K tables per edge class mixed by the pairwise branch.
    ("gated_separate", "image-dependent CRF, separate, Gibbs max-marginals", "gated_separate", "gibbs"),
    ("gated_joint", "image-dependent CRF, end-to-end, Gibbs max-marginals", "gated_joint", "gibbs"),
)
# which stage's CNN a stage's model holds
CNN_OF = {"cnn": "cnn", "separate": "cnn", "joint": "joint", "gated_separate": "cnn", "gated_joint": "gated_joint"}


def evaluate_rows(models, train, test, scale, predictions_dir):
    """{row key: score() report, with seconds}: models {stage: exported model}, train and test
    splits ({"depth", "label"}); every row's predictions saved under predictions_dir/KEY."""
    results, inputs = {}, {}
    for key, _, stage, inference in ROWS:
        started = time.perf_counter()
        if stage is None:
            preds = predict_forest(train_forest(train["depth"], train["label"]), test["depth"])
        else:
            tables = model_tables(models[stage])
            cnn = CNN_OF[stage] if tables is None else stage  # a gated model's inputs are its own
            if cnn not in inputs:
                inputs[cnn] = crf_inputs(models[cnn], test["depth"], tables)
            preds = model_labels(models[stage], test["depth"], inference, burn_in=scale.burn_in,
                                 samples=scale.samples, inputs=inputs[cnn])
        results[key] = {**score(test["label"], preds, test["depth"]), "seconds": time.perf_counter() - started}
        write_predictions(Path(predictions_dir) / key, preds)
    return results
