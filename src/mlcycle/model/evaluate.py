"""Evaluate: a fitted model on the test split — metrics, ROC curve, confusion matrix and
reliability curve, with labels at the version's operating point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, roc_curve

from mlcycle.model.candidates import prepare_features
from mlcycle.model.metrics import ECE_BINS, probability_bins, score
from mlcycle.model.operating import labels, positive_index

if TYPE_CHECKING:
    from mlcycle.model.version import OperatingPoint

MAX_CURVE_POINTS = 200


@dataclass
class Evaluation:
    metrics: dict[str, float]
    classes: list[str]
    confusion: list[list[int]]
    roc: dict[str, dict[str, list[float]]]  # curve name -> fpr, tpr, thresholds
    # What is binned (the positive class, or "top probability") -> predicted, observed, rows
    reliability: dict[str, dict[str, list[float]]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "classes": self.classes,
            "confusion": self.confusion,
            "roc": self.roc,
            "reliability": self.reliability,
        }


def _thin(fpr: np.ndarray, tpr: np.ndarray, thr: np.ndarray) -> dict[str, list[float]]:
    """At most MAX_CURVE_POINTS points, keeping both ends; infinite thresholds clipped to 1."""
    idx = np.unique(
        np.linspace(0, len(fpr) - 1, min(len(fpr), MAX_CURVE_POINTS)).round().astype(int)
    )
    thr = np.clip(np.nan_to_num(thr, posinf=1.0), 0.0, 1.0)
    return {
        k: [round(float(x), 6) for x in v[idx]]
        for k, v in (("fpr", fpr), ("tpr", tpr), ("thresholds", thr))
    }


def predict_proba(model: Any, frame: pd.DataFrame, types: dict[str, str]) -> np.ndarray:
    return model.predict_proba(prepare_features(frame, types))


def reliability(outcome: np.ndarray, p: np.ndarray) -> dict[str, list[float]]:
    """The reliability curve: per non-empty probability bin (ECE's bins), the mean predicted
    probability, the observed share of outcomes and the number of rows."""
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(outcome, p, n_bins=ECE_BINS, strategy="uniform")
    rows = np.bincount(probability_bins(p), minlength=ECE_BINS)
    return {
        "predicted": [round(float(x), 6) for x in predicted],
        "observed": [round(float(x), 6) for x in observed],
        "rows": [int(n) for n in rows if n],
    }


def evaluate_model(
    model: Any,
    test: pd.DataFrame,
    types: dict[str, str],
    label: str,
    positive_class: str | None,
    point: OperatingPoint | None = None,
) -> Evaluation:
    """Metrics on the test split and the curves behind them; labels at `point` (the most
    probable class without one)."""
    classes = [str(c) for c in model.classes_]
    proba = predict_proba(model, test, types)
    y_true = test[label].astype(str).to_numpy()
    y_pred = labels(proba, classes, point)
    if len(classes) == 2:
        pos = positive_index(classes, positive_class)
        truth = y_true == classes[pos]
        curves = {classes[pos]: roc_curve(truth, proba[:, pos])}
        calibration = {classes[pos]: reliability(truth, proba[:, pos])}
    else:
        curves = {c: roc_curve(y_true == c, proba[:, i]) for i, c in enumerate(classes)}
        top = np.asarray(classes, dtype=object)[proba.argmax(axis=1)] == y_true
        calibration = {"top probability": reliability(top, proba.max(axis=1))}
    return Evaluation(
        metrics=score(y_true, proba, classes, positive_class, point),
        classes=classes,
        confusion=confusion_matrix(y_true, y_pred.astype(str), labels=classes).tolist(),
        roc={name: _thin(*curve) for name, curve in curves.items()},
        reliability=calibration,
    )
