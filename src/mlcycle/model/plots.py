"""Evaluation plots as PNG bytes (matplotlib, no display needed)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from mlcycle.model.evaluate import Evaluation

if TYPE_CHECKING:
    from mlcycle.model.drift import FeatureDrift


def _png(fig: plt.Figure, dpi: int = 110, tight: bool = True) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return buf.getvalue()


def roc_png(evaluation: Evaluation, title: str = "ROC curve (test split)") -> bytes:
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for name, curve in evaluation.roc.items():
        ax.plot(curve["fpr"], curve["tpr"], lw=2, label=f"{name}")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.set(
        xlabel="False positive rate",
        ylabel="True positive rate",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title=f"{title}\nROC AUC = {evaluation.metrics['roc_auc']:.4f}",
    )
    ax.legend(loc="lower right", title="positive class")
    return _png(fig)


def confusion_png(evaluation: Evaluation, title: str = "Confusion matrix (test split)") -> bytes:
    n = len(evaluation.classes)
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * n, 1.3 + 1.0 * n))
    matrix = evaluation.confusion
    ax.imshow(matrix, cmap="Blues")
    peak = max(max(row) for row in matrix) or 1
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                str(matrix[i][j]),
                ha="center",
                va="center",
                color="white" if matrix[i][j] > peak / 2 else "black",
                fontsize=12,
            )
    ax.set_xticks(range(n), evaluation.classes, rotation=30, ha="right")
    ax.set_yticks(range(n), evaluation.classes)
    ax.set(xlabel="Predicted", ylabel="Actual", title=title)
    return _png(fig)


def reliability_png(evaluation: Evaluation, title: str = "Reliability curve (test split)") -> bytes:
    """Observed frequency against mean predicted probability per bin: on the diagonal, the
    probabilities mean what they say. Marker area follows the bin's rows."""
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    for name, curve in evaluation.reliability.items():
        sizes = [min(300, 12 + 3 * n) for n in curve["rows"]]
        ax.plot(curve["predicted"], curve["observed"], lw=1.5)
        ax.scatter(curve["predicted"], curve["observed"], s=sizes, alpha=0.7, label=name)
    metrics = evaluation.metrics
    ax.set(
        xlabel="Mean predicted probability",
        ylabel="Observed frequency",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title=f"{title}\nBrier = {metrics['brier']:.4f}, ECE = {metrics['ece']:.4f}",
    )
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


DRIFT_COLOURS = {"alert": "#a4262c", "warn": "#b86e00", "ok": "#2f6fb0", "not_measured": "grey"}


def drift_png(feature: FeatureDrift) -> bytes:
    """Training against live shares over the buckets the feature's PSI was computed on."""
    buckets = [b for b in feature.buckets if b.reference or b.live or b.label != "missing"]
    fig, ax = plt.subplots(figsize=(4.6, 3.1))
    # Fixed margins, not a tight bounding box: a report draws one per feature, and "tight"
    # draws each twice.
    fig.subplots_adjust(left=0.14, right=0.98, top=0.9, bottom=0.34)
    x = range(len(buckets))
    shares = [b.reference for b in buckets]
    ax.bar([i - 0.2 for i in x], shares, 0.4, label="training", color="#b8c2d1")
    ax.bar(
        [i + 0.2 for i in x],
        [b.live for b in buckets],
        0.4,
        label="live",
        color=DRIFT_COLOURS.get(feature.status, "grey"),
    )
    ax.set_xticks(list(x), [b.label for b in buckets], rotation=40, ha="right", fontsize=7)
    psi = "" if feature.psi is None else f"  PSI {feature.psi:.3f}"
    ax.set(ylabel="share of rows", title=f"{feature.name}{psi}")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, frameon=False)
    return _png(fig, dpi=80, tight=False)
