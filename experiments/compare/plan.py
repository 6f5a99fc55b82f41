"""The comparison's plan: minutes per regime from the cost model (experiments.scales.COSTS, measured
at the default scale and scaled by pixels elsewhere), printed before anything runs and recorded in
the report, so that a reader can hold the wall time against it."""
from ..methods import GIBBS
from ..scales import COSTS, DEFAULT_PIXELS, GATED
from .evaluate import inferences


def step_seconds(method):
    """Seconds per training step of a method at the default scale."""
    steps = COSTS["step"]
    if method.stage == "separate":
        return steps[method.base or method.key]
    if method.stage in GATED:
        return steps.get(f"{method.stage}_{method.base}", steps[method.stage])
    return steps[method.stage]


def iterations(method, regime):
    """The steps a method takes in a regime (experiments.scales.Regime); None: none here (piecewise,
    or Gibbs ML's models where they are the replication run's)."""
    if method.layer is None or (method.reused and regime.cnn_iterations is None):
        return None
    if method.key == GIBBS:
        return regime.gibbs
    return regime.stages[method.stage][method.base or method.key].iterations


def minutes(methods, regime, scale, test_images):
    """{part: minutes} of one regime: its own CNN and scores, each learner and the evaluation."""
    factor = scale.height * scale.width / DEFAULT_PIXELS * scale.batch_size / 8
    plan = {"cnn": 0.0, "scores": 0.0}
    if regime.cnn_iterations is not None:
        plan["cnn"] = regime.cnn_iterations * COSTS["step"]["cnn"] * factor / 60
        plan["scores"] = (regime.train_images or scale.train) * COSTS["score_image"] * factor * 8 / scale.batch_size / 60
    for method in methods:
        steps = iterations(method, regime)
        plan[method.key] = 0.0 if steps is None else steps * step_seconds(method) * factor / 60
    pixels = scale.height * scale.width / DEFAULT_PIXELS
    plan["evaluation"] = sum(COSTS["infer_image_gated" if m.stage in GATED else "infer_image"][i]
                             for m in methods for i in inferences(m)) * test_images * pixels / 60
    return plan


def text(plans):
    """The plan {regime: minutes()} as lines."""
    lines = ["planned minutes (cost model: experiments.scales.COSTS)"]
    for name, plan in plans.items():
        learners = sum(v for k, v in plan.items() if k not in ("cnn", "scores", "evaluation"))
        lines.append(f"  {name}: CNN {plan['cnn']:.1f} + scores {plan['scores']:.1f} + learners {learners:.1f} "
                     f"+ evaluation {plan['evaluation']:.1f} = {sum(plan.values()):.1f}")
    lines.append(f"  all regimes: {sum(sum(p.values()) for p in plans.values()):.1f}")
    return "\n".join(lines)
