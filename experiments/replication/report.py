"""report.json and report.md of a replication run: the results table with bootstrap
intervals, paired gains, each stage's last validation accuracy (its test net's), settings,
stage times and pictures."""
import json
from pathlib import Path

from nets.prototxt import VALIDATION_GIBBS

from ..caffe_log import validation_curve
from ..evaluation import paired_gain
from .evaluation import ROWS

# (gain key, better row, baseline row): the comparisons the paper argues for.
GAINS = (
    ("cnn_vs_forest", "cnn", "forest"),
    ("joint_vs_forest", "joint", "forest"),
    ("joint_vs_cnn", "joint", "cnn"),
    ("separate_vs_cnn", "separate", "cnn"),
    ("joint_vs_separate", "joint", "separate"),
    ("gibbs_vs_meanfield", "joint", "meanfield"),
    ("gibbs_vs_icm", "joint", "icm"),
    # image-dependent factors against the stationary ones and the CNN alone
    ("gated_separate_vs_separate", "gated_separate", "separate"),
    ("gated_joint_vs_joint", "gated_joint", "joint"),
    ("gated_joint_vs_cnn", "gated_joint", "cnn"),
    ("gated_separate_vs_cnn", "gated_separate", "cnn"),
)
METRICS = ("part_accuracy", "pixel_accuracy", "mean_class_accuracy", "mean_iou")


def build(results, settings, stage_seconds, eval_seconds, logs):
    """logs: {stage: its `caffe train` log}, whose test net figures give validation_accuracy."""
    gains = {key: paired_gain(results[a], results[b]) for key, a, b in GAINS}
    slim = {key: {k: v for k, v in r.items() if not k.startswith("per_image")}
            for key, r in results.items()}
    return {"results": slim, "gains": gains, "validation_accuracy": last_validation(logs), "settings": settings,
            "stage_seconds": stage_seconds, "eval_seconds": eval_seconds}


def last_validation(logs):
    """{stage: {"iteration", "accuracy"} of its test net's last figure, or None (a stage trained
    before the solvers had test nets)}."""
    last = {stage: validation_curve(Path(log).read_text())[-1:] for stage, log in logs.items()}
    return {stage: {"iteration": v[0][0], "accuracy": v[0][1]} if v else None for stage, v in last.items()}


def validation_table(report):
    g = VALIDATION_GIBBS
    lines = [f"Each stage's test net (`caffe train`'s \"Test net output\"): body-part accuracy on the validation "
             f"split (never the test set) at the stage's last test; the CRF stages' labelling is Gibbs with "
             f"{g['burn_in']} burn-in and {g['samples']} sample sweeps, cheaper than the table's.", "",
             "| stage | iteration | validation body-part accuracy |", "| --- | --- | --- |"]
    for stage, v in report["validation_accuracy"].items():
        lines.append(f"| {stage} | " + ("- | not logged (trained before the solvers had test nets)" if v is None
                                         else f"{v['iteration']} | {v['accuracy']:.4f}") + " |")
    return "\n".join(lines)


def table(report):
    """The results table as Markdown."""
    lines = ["| method | body-part accuracy (95% CI) | on body pixels with depth | on dropped-depth body pixels "
             "| left/right swaps | pixel acc. | mean class acc. | mean IoU |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, label, *_ in ROWS:
        r = report["results"][key]
        lo, hi = r["part_accuracy_ci"]
        lines.append(f"| {label} | **{r['part_accuracy']:.4f}** ({lo:.4f}-{hi:.4f}) | "
                     f"{r['part_accuracy_valid_depth']:.4f} | {r['part_accuracy_dropped_depth']:.4f} | "
                     f"{r['left_right_swaps']:.4f} | {r['pixel_accuracy']:.4f} | {r['mean_class_accuracy']:.4f} | "
                     f"{r['mean_iou']:.4f} |")
    return "\n".join(lines)


def gains_table(report):
    lines = ["| comparison | gain in body-part accuracy | paired 95% CI |", "| --- | --- | --- |"]
    for key, *_ in GAINS:
        g = report["gains"][key]
        lines.append(f"| {key.replace('_', ' ')} | {g['mean']:+.4f} | "
                     f"{g['ci'][0]:+.4f} to {g['ci'][1]:+.4f} |")
    return "\n".join(lines)


def markdown(report, figures):
    s = report["settings"]
    times = "\n".join(f"| training stage {stage} | "
                      f"{'trained by an earlier run' if sec is None else f'{sec / 60:.1f} min'} |"
                      for stage, sec in report["stage_seconds"].items())
    rows = "\n".join(f"| evaluation row {key} | {r['seconds'] / 60:.1f} min |" for key, r in report["results"].items())
    pictures = "\n\n".join(f"![{name}]({path})" for name, path in figures.items())
    return f"""# Replication run: scale `{s['scale']}`

{s['train']} training / {s['test']} test images at {s['width']}x{s['height']}; metric: per-pixel
accuracy over body-part pixels (background excluded), 95% bootstrap intervals over test images;
the same accuracy on body pixels with a depth reading and on those the sensor dropped (they read
the background's depth), and the share of body pixels labelled as their mirror part.

## Results

{table(report)}

## Gains (paired over the same test images)

{gains_table(report)}

## Validation while training

{validation_table(report)}

## Settings

```json
{json.dumps(s, indent=1)}
```

## Wall time

| stage | time |
| --- | --- |
{times}
{rows}
| evaluation (all rows) | {report['eval_seconds'] / 60:.1f} min |

## Pictures

{pictures}
"""
