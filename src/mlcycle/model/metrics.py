"""Test-set metrics, the same for the challenger and the champion."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

import numpy as np

from mlcycle.config import Metric
from mlcycle.model.operating import labels, positive_index, rates

if TYPE_CHECKING:
    from mlcycle.model.version import OperatingPoint

NAMES: tuple[str, ...] = get_args(Metric)  # what the config's gate may name
# Binary problems also carry these as `<name>_argmax`: the same metric had every label been the
# most probable class, beside the figures at the operating point.
AT_ARGMAX = ("accuracy", "precision", "recall", "f1", "specificity", "false_alarms_per_100")
ARGMAX_NAMES = tuple(f"{name}_argmax" for name in AT_ARGMAX)
LOWER_IS_BETTER = frozenset({"brier", "ece", "false_alarms_per_100"})
ECE_BINS = 10
# What each metric says, for people (the model page, the report, the API's /v1/model).
DESCRIPTIONS = {
    "roc_auc": "Area under the ROC curve: how well the scores rank positives above negatives "
    "(1 = perfect, 0.5 = chance). Multi-class: one class against the rest, averaged.",
    "accuracy": "Share of test rows whose predicted class is right.",
    "precision": "Of the rows predicted positive, the share that are (multi-class: averaged "
    "over classes).",
    "recall": "Of the rows that are positive, the share the model finds (multi-class: averaged "
    "over classes).",
    "f1": "Harmonic mean of precision and recall.",
    "specificity": "Of the rows that are negative, the share the model calls negative.",
    "false_alarms_per_100": "Negative rows predicted positive, per 100 test rows.",
    "brier": "Mean squared error of the predicted probabilities (0 = perfect; lower is "
    "better): how well calibrated they are.",
    "ece": f"Expected calibration error: the gap between predicted probability and observed "
    f"frequency, averaged over {ECE_BINS} probability bins weighted by their rows (0 = "
    f"perfect).",
}
DESCRIPTIONS |= {
    f"{name}_argmax": f"{DESCRIPTIONS[name]} Labels by the most probable class."
    for name in AT_ARGMAX
}


def probability_bins(p: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """Each probability's bin: `bins` equal-width bins over [0, 1], each (low, high] but the
    first, [0, high] (as scikit-learn's `calibration_curve(strategy="uniform")`)."""
    return np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], p)


def expected_calibration_error(outcome: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """The expected calibration error of probabilities `p` for 0/1 `outcome`s.

    Binning: `probability_bins`. ECE is the
    sum over non-empty bins of (rows in bin / rows) * |mean outcome - mean p| in that bin.
    Binary models pass the positive class's probability and whether each row is positive;
    multi-class ones the top probability and whether that label was right.
    """
    p = np.asarray(p, dtype=np.float64)
    outcome = np.asarray(outcome, dtype=np.float64)
    if not len(p):
        return 0.0
    which = probability_bins(p, bins)
    # Per bin, sum(y - p) = rows * (mean y - mean p); an empty bin adds 0.
    gap = np.bincount(which, weights=outcome - p, minlength=bins)
    return float(np.abs(gap).sum() / len(p))


def score(
    y_true: np.ndarray,
    proba: np.ndarray,
    classes: list[str],
    positive_class: str | None,
    point: OperatingPoint | None = None,
) -> dict[str, float]:
    """ROC AUC, accuracy, precision, recall, F1, Brier score and ECE; binary problems also
    specificity, false alarms per 100 rows, and the label metrics at argmax (`*_argmax`).

    Labels come from `point` (operating.labels: argmax without one). Binary: precision,
    recall and F1 of the positive class. Multi-class: macro averages, one-vs-rest ROC AUC,
    ECE of the top probability.
    """
    from sklearn import metrics as skm  # here: the gate needs this module, not scikit-learn

    classes = list(classes)
    y_true = np.asarray(y_true).astype(str)
    y_pred = labels(proba, classes, point)
    if len(classes) == 2:
        pos = positive_index(classes, positive_class)
        p, truth = proba[:, pos], y_true == classes[pos]
        roc_auc = skm.roc_auc_score(truth, p)
        brier = skm.brier_score_loss(truth, p)
        ece = expected_calibration_error(truth, p)
    else:
        roc_auc = skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
        brier = skm.brier_score_loss(y_true, proba, labels=classes)
        top = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
        ece = expected_calibration_error(top == y_true, proba.max(axis=1))
    out = {"roc_auc": roc_auc, **_label_metrics(y_true, y_pred, classes, positive_class)}
    out |= {"brier": brier, "ece": ece}
    if len(classes) == 2:
        argmax = _label_metrics(y_true, labels(proba, classes, None), classes, positive_class)
        out |= {f"{name}_argmax": argmax[name] for name in AT_ARGMAX}
    return {k: round(float(v), 6) for k, v in out.items()}


def _label_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, classes: list[str], positive_class: str | None
) -> dict[str, float]:
    from sklearn import metrics as skm

    y_pred = np.asarray(y_pred).astype(str)
    averaged: dict[str, Any] = {"average": "macro"}
    if len(classes) == 2:
        positive = classes[positive_index(classes, positive_class)]
        averaged = {"average": "binary", "pos_label": positive}
    out = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0, **averaged),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0, **averaged),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0, **averaged),
    }
    if len(classes) == 2:
        at = rates(y_true == positive, y_pred == positive)
        out |= {k: at[k] for k in ("specificity", "false_alarms_per_100")}
    return out


def better(metric: str, a: float, b: float, margin: float = 0.0) -> bool:
    """Whether `a` beats `b` on `metric` by more than `margin` (ties do not)."""
    return b - a > margin if metric in LOWER_IS_BETTER else a - b > margin


def passes(metric: str, value: float, threshold: float) -> bool:
    """A floor for scores, a ceiling for losses."""
    return value <= threshold if metric in LOWER_IS_BETTER else value >= threshold
