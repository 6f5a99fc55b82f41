"""report.json and report.md of a learning comparison: body-part accuracy of every learning
method under every inference method (95% bootstrap intervals over test images), paired gains of
Gibbs-ML learning over each other method of its stage under each inference method, training
wall time per method, and how repulsive each learned table set is (with heat maps)."""
import json

import numpy as np

from ..evaluation import paired_gain
from .evaluate import INFERENCES
from ..methods import gibbs_of

INFERENCE_LABELS = {"gibbs": "Gibbs max-marginals", "meanfield": "mean field", "icm": "ICM"}


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
                        for m in methods if not m.reused}
            for inference in INFERENCES}


def _slim(result):
    return {k: v for k, v in result.items() if not k.startswith("per_image")}


def build(methods, results, cnn, training, tables, settings, eval_seconds):
    """The report: training {key: train.train's record plus "model"}, tables {key: theta}."""
    return {"settings": settings,
            "methods": {m.key: {"label": m.label, "stage": m.stage, **training[m.key],
                                "repulsion": repulsion(tables[m.key])} for m in methods},
            "results": {key: {inference: _slim(r) for inference, r in rows.items()} for key, rows in results.items()},
            "cnn": _slim(cnn),
            "gains": gains(methods, results),
            "eval_seconds": eval_seconds}


def _accuracy(r):
    lo, hi = r["part_accuracy_ci"]
    return f"**{r['part_accuracy']:.4f}** ({lo:.4f}-{hi:.4f})"


def _gain(g):
    return f"{g['mean']:+.4f} ({g['ci'][0]:+.4f} to {g['ci'][1]:+.4f})"


def _minutes(seconds):
    return "unknown" if seconds is None else f"{seconds / 60:.1f} min"


def table(report):
    """Learning method x inference method, as Markdown."""
    lines = ["| learning method | stage | " + " | ".join(INFERENCE_LABELS[i] for i in INFERENCES) + " |",
             "| --- | --- |" + " --- |" * len(INFERENCES)]
    for key, m in report["methods"].items():
        lines.append(f"| {m['label']} | {m['stage']} | "
                     + " | ".join(_accuracy(report["results"][key][i]) for i in INFERENCES) + " |")
    return "\n".join(lines)


def gains_table(report):
    lines = ["| Gibbs ML minus | " + " | ".join(f"with {INFERENCE_LABELS[i]}" for i in INFERENCES) + " |",
             "| --- |" + " --- |" * len(INFERENCES)]
    for name in report["gains"][INFERENCES[0]]:
        other = name.split("_vs_", 1)[1]
        lines.append(f"| {report['methods'][other]['label']} ({report['methods'][other]['stage']}) | "
                     + " | ".join(_gain(report["gains"][i][name]) for i in INFERENCES) + " |")
    return "\n".join(lines)


def training_table(report):
    lines = ["| learning method | stage | iterations | Adam base_lr | training wall time | seconds per iteration, "
             "once running |",
             "| --- | --- | --- | --- | --- | --- |"]
    for m in report["methods"].values():
        per = "-" if m["seconds_per_iteration"] is None else f"{m['seconds_per_iteration']:.3f}"
        rate = "-" if m["base_lr"] is None else f"{m['base_lr']:.3g}"
        lines.append(f"| {m['label']} | {m['stage']} | {m['iterations']} | {rate} | {_minutes(m['seconds'])} | {per} |")
    return "\n".join(lines)


def repulsion_table(report, pictures):
    lines = ["| learning method | stage | entries < 0 | most negative | largest | mean abs | heat map |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for key, m in report["methods"].items():
        r = m["repulsion"]
        lines.append(f"| {m['label']} | {m['stage']} | {r['negative_share']:.1%} | {r['min']:.2f} | {r['max']:.2f} | "
                     f"{r['mean_abs']:.3f} | [{pictures[key]}]({pictures[key]}) |")
    return "\n".join(lines)


def markdown(report, pictures):
    s, run = report["settings"], report["settings"]["run_settings"]
    cnn = report["cnn"]
    heat_maps = "\n\n".join(f"![theta, {report['methods'][k]['label']}, {report['methods'][k]['stage']}]({p})"
                            for k, p in pictures.items())
    return f"""# Learning-method comparison: scale `{s['scale']}`

The same CRF (edge classes `{run['edges']}`) learned by each method on the replication run
`{s['run']}` ({run['train']} training / {run['test']} test images at {run['width']}x{run['height']},
batch {run['batch_size']}); separate methods learn theta on its stage-1 CNN's stored scores,
end-to-end ones the CNN and theta together from there. Metric: per-pixel accuracy over body-part
pixels (background excluded), 95% bootstrap intervals over test images; Gibbs inference with
{run['burn_in']} burn-in and {run['samples']} averaged sweeps, mean field and ICM 10 iterations.
The stage-1 CNN alone: {_accuracy(cnn)}.

## Body-part accuracy: learning method x inference method

{table(report)}

## Paired gains of Gibbs-ML learning (same test images, same inference method)

{gains_table(report)}

## Training

Gibbs ML's models are the replication run's (times from its Caffe logs); piecewise tables need
no gradient steps (the time is counting the training labels' pairs).

{training_table(report)}

## How repulsive is each table set

{repulsion_table(report, pictures)}

## Settings

```json
{json.dumps(s, indent=1)}
```

Evaluation: {report['eval_seconds'] / 60:.1f} min.

## Learned tables

Rows l, columns l' of theta[c, l, l'] per edge class (dy, dx); blue attractive, red repulsive.

{heat_maps}
"""
