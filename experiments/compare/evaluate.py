"""Every compared model with every inference method on the comparison's test images, each scored
by experiments.evaluation.score. A CNN's test scores are computed once: the regime's stage-1 CNN's
serve every separate method (and the CNN-alone line), each end-to-end model's its own rows; a gated
model's scores and weights come from its own deploy net. Gated models have no LBP inference
(sampler.belief_propagation is for stationary tables): their "lbp" entry is absent."""
import time

import sampler.inference
from nets.weights import model_tables

from ..evaluation import crf_inputs, model_labels, paired_gain, score
from ..scales import GATED

INFERENCES = ("gibbs", "meanfield", "icm", "lbp")
# Iterations of the iterative inference methods. LBP's 5, its learners' T: on the run's separate and
# end-to-end models (first 50 test images) 5 iterations label 99.5% of pixels as 20 do, with
# body-part accuracy within 0.003 of 20's (10: 99.7%, within 0.003), in half of 10's time.
ITERATIONS = {"meanfield": sampler.inference.ITERATIONS, "icm": sampler.inference.ITERATIONS, "lbp": 5}


def inferences(method):
    """The inference methods a method's model is scored with."""
    return tuple(i for i in INFERENCES if not (i == "lbp" and method.stage in GATED))


def evaluate(methods, models, cnn_model, test, burn_in, samples):
    """({method key: {inference: score() report with seconds}}, the stage-1 CNN alone's report)."""
    started = time.perf_counter()
    stage1 = crf_inputs(cnn_model, test["depth"])
    cnn = {**score(test["label"], stage1[0].argmax(axis=1).astype("uint8"), test["depth"]),
           "seconds": time.perf_counter() - started}
    results = {}
    for method in methods:
        model = models[method.key]
        tables = model_tables(model)
        inputs = stage1 if method.stage == "separate" else crf_inputs(model, test["depth"], tables)
        results[method.key] = {}
        for inference in inferences(method):
            started = time.perf_counter()
            preds = model_labels(model, test["depth"], inference, burn_in=burn_in, samples=samples, inputs=inputs,
                                 iterations=ITERATIONS.get(inference, sampler.inference.ITERATIONS))
            results[method.key][inference] = {**score(test["label"], preds, test["depth"]),
                                              "seconds": time.perf_counter() - started}
    return results, cnn


def over_cnn(results, cnn):
    """{inference: {method key: paired gain of the method's CRF over the CNN alone}}."""
    return {inference: {key: paired_gain(rows[inference], cnn) for key, rows in results.items() if inference in rows}
            for inference in INFERENCES}
