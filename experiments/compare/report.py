"""report.json and report.md of a learning comparison, per regime (unary strength): body-part
accuracy of every learning method under every inference method (95% bootstrap intervals over the
comparison's test images), paired gains of Gibbs-ML learning over each other method of its stage
and of each CRF over the CNN alone under each inference method, training wall time per method, and
how repulsive each learned table set is (with heat maps); the plan, and the figure of the gains
over the CNN against the CNN's accuracy."""
import json

import numpy as np

import sampler
from sampler.learning import memory_figures

from ..evaluation import paired_gain
from ..scales import SCALES
from .evaluate import INFERENCES, ITERATIONS, over_cnn
from .plan import text as plan_text
from ..methods import GIBBS, gibbs_of

INFERENCE_LABELS = {"gibbs": "Gibbs max-marginals", "meanfield": "mean field", "icm": "ICM", "lbp": "LBP"}
NO_LBP = "- (gated: no LBP)"


def repulsion(theta):
    """How repulsive a table set (C, L, L) is: the share of its entries below zero (a pair made
    less likely than the unaries say), the most negative and largest entries, the mean |entry|."""
    theta = np.asarray(theta, dtype=np.float64)
    return {"negative_share": float((theta < 0).mean()), "min": float(theta.min()), "max": float(theta.max()),
            "mean_abs": float(np.abs(theta).mean())}


def gains(methods, results):
    """{inference: {"<Gibbs ML>_vs_<method>": paired gain}}: Gibbs ML of each stage over every
    other method of that stage, on the same test images, under the same inference method."""
    return {inference: {f"{gibbs_of(m)}_vs_{m.key}": paired_gain(results[gibbs_of(m)][inference],
                                                                 results[m.key][inference])
                        for m in methods if not m.reused and inference in results[m.key]}
            for inference in INFERENCES}


def memory(edges, num_labels):
    """{scale: memory_figures()} at the default and the paper's scale: what warm-started loopy BP
    keeps for the training set (every message of every image) against the Gibbs chains (one label
    per pixel), the paper's space argument in figures."""
    classes = len(sampler.parse_edges(edges))
    return {name: {"images": SCALES[name].train, "height": SCALES[name].height, "width": SCALES[name].width,
                   **memory_figures(SCALES[name].train, classes, num_labels, SCALES[name].height, SCALES[name].width)}
            for name in ("default", "paper")}


def memory_markdown(figures):
    """The memory() figures as a table."""
    lines = ["| scale | training images | warm-started LBP messages (float32) | Gibbs chains (uint8 labels) "
             "| the chains as GibbsCRFLoss stores them |", "| --- | --- | --- | --- | --- |"]
    for name, f in figures.items():
        lines.append(f"| {name} ({f['width']}x{f['height']}) | {f['images']} | {_bytes(f['messages'])} "
                     f"| {_bytes(f['chains'])} | {_bytes(f['chain_blob'])} |")
    return "\n".join(lines)


def _bytes(count):
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{count / 1e6:.1f} MB"


def _slim(result):
    return {k: v for k, v in result.items() if not k.startswith("per_image")}


def build(methods, results, cnn, training, tables, regime, eval_seconds):
    """One regime's report: training {key: train.train's record plus "model"}, tables {key: theta},
    regime {"description", "source", ...} as recorded."""
    return {"regime": regime,
            "methods": {m.key: {"label": m.label, "stage": m.stage, **training[m.key],
                                "repulsion": repulsion(tables[m.key])} for m in methods},
            "results": {key: {inference: _slim(r) for inference, r in rows.items()} for key, rows in results.items()},
            "cnn": _slim(cnn),
            "gains": gains(methods, results),
            "over_cnn": over_cnn(results, cnn),
            **joint_vs_separate(results),
            "eval_seconds": eval_seconds}


def joint_vs_separate(results):
    """{"joint_vs_separate": {inference: Gibbs ML end to end minus separate}} where the regime has both."""
    joint, separate = results.get(GIBBS + "_joint"), results.get(GIBBS)
    if joint is None or separate is None:
        return {}
    return {"joint_vs_separate": {i: paired_gain(joint[i], separate[i]) for i in INFERENCES if i in joint}}


def _accuracy(r):
    lo, hi = r["part_accuracy_ci"]
    return f"**{r['part_accuracy']:.4f}** ({lo:.4f}-{hi:.4f})"


def _gain(g):
    return f"{g['mean']:+.4f} ({g['ci'][0]:+.4f} to {g['ci'][1]:+.4f})"


def _minutes(seconds):
    return "unknown" if seconds is None else f"{seconds / 60:.1f} min"


def _cell(rows, inference):
    return _accuracy(rows[inference]) if inference in rows else NO_LBP


def table(regime):
    """One regime's learning method x inference method, as Markdown."""
    lines = ["| learning method | stage | " + " | ".join(INFERENCE_LABELS[i] for i in INFERENCES) + " |",
             "| --- | --- |" + " --- |" * len(INFERENCES)]
    for key, m in regime["methods"].items():
        lines.append(f"| {m['label']} | {m['stage']} | "
                     + " | ".join(_cell(regime["results"][key], i) for i in INFERENCES) + " |")
    return "\n".join(lines)


def tables(report):
    """Every regime's table, each under its name and its CNN alone's accuracy (what the tool prints)."""
    return "\n\n".join(f"regime {name} (CNN alone {_accuracy(r['cnn'])}):\n{table(r)}"
                       for name, r in report["regimes"].items())


def gains_table(regime):
    others = {name: regime["methods"][name.split("_vs_", 1)[1]] for name in regime["gains"][INFERENCES[0]]}
    rows = [(f"{m['label']} ({m['stage']})", name) for name, m in others.items()]
    return _gains_by_inference("Gibbs ML minus", regime["gains"], rows)


def over_cnn_table(regime):
    rows = [(f"{m['label']} ({m['stage']})", key) for key, m in regime["methods"].items()]
    return _gains_by_inference("CRF minus the CNN alone", regime["over_cnn"], rows)


def _gains_by_inference(title, gains, rows):
    """Paired gains {inference: {key: gain}} as Markdown: a row per (label, key), a column per
    inference method (NO_LBP where a model has no such row: a gated one under LBP)."""
    lines = [f"| {title} | " + " | ".join(f"with {INFERENCE_LABELS[i]}" for i in INFERENCES) + " |",
             "| --- |" + " --- |" * len(INFERENCES)]
    for label, key in rows:
        lines.append(f"| {label} | " + " | ".join(_gain(gains[i][key]) if key in gains[i] else NO_LBP
                                                   for i in INFERENCES) + " |")
    return "\n".join(lines)


def training_table(regime):
    lines = ["| learning method | stage | iterations | Adam base_lr | training wall time | seconds per iteration, "
             "once running |",
             "| --- | --- | --- | --- | --- | --- |"]
    for m in regime["methods"].values():
        per = "-" if m["seconds_per_iteration"] is None else f"{m['seconds_per_iteration']:.3f}"
        rate = "-" if m["base_lr"] is None else f"{m['base_lr']:.3g}"
        lines.append(f"| {m['label']} | {m['stage']} | {m['iterations']} | {rate} | {_minutes(m['seconds'])} | {per} |")
    return "\n".join(lines)


def repulsion_table(regime, pictures):
    lines = ["| learning method | stage | entries < 0 | most negative | largest | mean abs | heat map |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for key, m in regime["methods"].items():
        r = m["repulsion"]
        lines.append(f"| {m['label']} | {m['stage']} | {r['negative_share']:.1%} | {r['min']:.2f} | {r['max']:.2f} | "
                     f"{r['mean_abs']:.3f} | [{pictures[key]}]({pictures[key]}) |")
    return "\n".join(lines)


def regime_markdown(name, regime, pictures):
    heat_maps = "\n\n".join(f"![theta, {regime['methods'][k]['label']}, {regime['methods'][k]['stage']}]({p})"
                            for k, p in pictures.items())
    return f"""## Regime `{name}`: {regime['regime']['description']}

The stage-1 CNN alone: {_accuracy(regime['cnn'])}; {regime['regime']['train']} training images.

### Body-part accuracy: learning method x inference method

{table(regime)}

### Paired gains of Gibbs-ML learning (same test images, same inference method)

{gains_table(regime)}

### Paired gains of each CRF over the CNN alone

{over_cnn_table(regime)}

### Training

{training_table(regime)}

### How repulsive is each table set

{repulsion_table(regime, pictures)}

Rows l, columns l' of theta[c, l, l'] per edge class (dy, dx); blue attractive, red repulsive.

{heat_maps}

Evaluation: {regime['eval_seconds'] / 60:.1f} min.
"""


def markdown(report, pictures, figure):
    """report.md; pictures {regime: {method key: heat map file}}, figure: the gains figure's file."""
    s, run = report["settings"], report["settings"]["run_settings"]
    sections = "\n".join(regime_markdown(name, r, pictures[name]) for name, r in report["regimes"].items())
    return f"""# Learning-method comparison: scale `{s['scale']}`

The same CRF (edge classes `{run['edges']}`) learned by each method in each regime (unary
strength) on the replication run `{s['run']}` ({run['width']}x{run['height']}, batch
{run['batch_size']}); separate methods learn theta on the regime's stage-1 CNN's stored scores,
end-to-end ones the CNN and theta together from there. Metric: per-pixel accuracy over body-part
pixels (background excluded) on the first {s['test_images']} test images (the same for every regime
and method), 95% bootstrap intervals over those images; Gibbs inference with {run['burn_in']}
burn-in and {run['samples']} averaged sweeps, mean field {ITERATIONS['meanfield']}, ICM {ITERATIONS['icm']} and
LBP {ITERATIONS['lbp']} iterations. Gibbs ML's
models are the replication run's in the default regime (times from its Caffe logs) and learned
here with its stage-2 solver elsewhere; piecewise tables need no gradient steps.

![the CRF's gain over the CNN alone against the CNN's accuracy]({figure})

```
{plan_text(report['plan'])}
```
Wall time: {_minutes(report.get('seconds'))}.

Memory for the whole training set (`sampler.learning.memory_figures`): Chen et al.'s warm start
keeps every message between an image's visits, the paper's persistent chains one label per pixel.

{memory_markdown(report['memory'])}

{sections}
## Settings

```json
{json.dumps(s, indent=1)}
```
"""
