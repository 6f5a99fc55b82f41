"""Every compared model with every inference method on the test set, each scored by
experiments.evaluation.score. A CNN's test scores are computed once: the stage-1 CNN's serve
every separate method (and the CNN-alone line), each end-to-end model's its own rows."""
import time

from ..evaluation import crf_labels, score, unary_scores

INFERENCES = ("gibbs", "meanfield", "icm")


def evaluate(methods, models, cnn_model, test, burn_in, samples):
    """({method key: {inference: score() report with seconds}}, the stage-1 CNN alone's report)."""
    started = time.perf_counter()
    stage1 = unary_scores(cnn_model, test["depth"])
    cnn = {**score(test["label"], stage1.argmax(axis=1).astype("uint8"), test["depth"]),
           "seconds": time.perf_counter() - started}
    results = {}
    for method in methods:
        model = models[method.key]
        scores = stage1 if method.stage == "separate" else unary_scores(model, test["depth"])
        results[method.key] = {}
        for inference in INFERENCES:
            started = time.perf_counter()
            preds = crf_labels(scores, model, inference, burn_in=burn_in, samples=samples)
            results[method.key][inference] = {**score(test["label"], preds, test["depth"]),
                                              "seconds": time.perf_counter() - started}
    return results, cnn
