"""The comparison's one figure: each separate learning method's paired gain over the CNN alone
(Gibbs max-marginal inference, 95% interval bars) against the regime's CNN accuracy."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def points(report, inference="gibbs"):
    """{method key: [(CNN accuracy, gain, lo, hi, regime)]} sorted by CNN accuracy, for the
    separate methods every regime has."""
    lines = {}
    for name, regime in sorted(report["regimes"].items(), key=lambda r: r[1]["cnn"]["part_accuracy"]):
        for key, m in regime["methods"].items():
            if m["stage"] == "separate":
                g = regime["over_cnn"][inference][key]
                lines.setdefault(key, []).append((regime["cnn"]["part_accuracy"], g["mean"], *g["ci"], name))
    return lines


def plot(report, out):
    labels = {k: m["label"] for r in report["regimes"].values() for k, m in r["methods"].items()}
    fig, ax = plt.subplots(figsize=(8, 5))
    lines = points(report)
    for i, (key, pts) in enumerate(lines.items()):
        shift = (i - len(lines) / 2) * 0.002  # side by side, so that the bars do not hide each other
        x = [p[0] + shift for p in pts]
        ax.errorbar(x, [p[1] for p in pts], yerr=[[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]],
                    marker="o", capsize=3, label=labels[key])
    for acc, *_, name in next(iter(lines.values()), []):
        ax.annotate(name, (acc, 0), textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("the CNN alone's test body-part accuracy")
    ax.set_ylabel("CRF minus CNN alone (Gibbs max-marginals)")
    ax.set_title("The CRF's paired gain over the CNN, per learning method (95% intervals)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
