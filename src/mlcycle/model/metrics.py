"""Test-set metrics, the same for the challenger and the champion."""

from __future__ import annotations

import numpy as np

NAMES = ("roc_auc", "accuracy", "precision", "recall", "f1", "brier")
LOWER_IS_BETTER = frozenset({"brier"})
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
    "brier": "Mean squared error of the predicted probabilities (0 = perfect; lower is "
    "better): how well calibrated they are.",
}


def score(
    y_true: np.ndarray, proba: np.ndarray, classes: list[str], positive_class: str | None
) -> dict[str, float]:
    """ROC AUC, accuracy, precision, recall, F1 and Brier score.

    Binary: precision/recall/F1 of the positive class. Multi-class: macro averages and
    one-vs-rest ROC AUC.
    """
    from sklearn import metrics as skm  # here: the gate needs this module, not scikit-learn

    classes = list(classes)
    y_true = np.asarray(y_true).astype(str)
    y_pred = np.asarray(classes)[proba.argmax(axis=1)]
    if len(classes) == 2:
        pos = classes.index(positive_class) if positive_class in classes else 1
        p = proba[:, pos]
        averaged = {"average": "binary", "pos_label": classes[pos]}
        roc_auc = skm.roc_auc_score(y_true == classes[pos], p)
        brier = skm.brier_score_loss(y_true == classes[pos], p)
    else:
        averaged = {"average": "macro"}
        roc_auc = skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
        brier = skm.brier_score_loss(y_true, proba, labels=classes)
    out = {
        "roc_auc": roc_auc,
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0, **averaged),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0, **averaged),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0, **averaged),
        "brier": brier,
    }
    return {k: round(float(v), 6) for k, v in out.items()}


def better(metric: str, a: float, b: float, margin: float = 0.0) -> bool:
    """Whether `a` beats `b` on `metric` by more than `margin` (ties do not)."""
    return b - a > margin if metric in LOWER_IS_BETTER else a - b > margin


def passes(metric: str, value: float, threshold: float) -> bool:
    """A floor for scores, a ceiling for losses."""
    return value <= threshold if metric in LOWER_IS_BETTER else value >= threshold
