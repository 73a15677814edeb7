"""Evaluate: a fitted model on the test split — metrics, ROC curve, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, roc_curve

from mlcycle.model.candidates import prepare_features
from mlcycle.model.metrics import score

MAX_CURVE_POINTS = 200


@dataclass
class Evaluation:
    metrics: dict[str, float]
    classes: list[str]
    confusion: list[list[int]]
    roc: dict[str, dict[str, list[float]]]  # curve name -> fpr, tpr, thresholds

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "classes": self.classes,
            "confusion": self.confusion,
            "roc": self.roc,
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


def evaluate_model(
    model: Any, test: pd.DataFrame, types: dict[str, str], label: str, positive_class: str | None
) -> Evaluation:
    """Metrics on the test split and the curves behind them."""
    classes = [str(c) for c in model.classes_]
    proba = predict_proba(model, test, types)
    y_true = test[label].astype(str).to_numpy()
    y_pred = np.asarray(classes)[proba.argmax(axis=1)]
    if len(classes) == 2:
        pos = classes.index(positive_class) if positive_class in classes else 1
        curves = {classes[pos]: roc_curve(y_true == classes[pos], proba[:, pos])}
    else:
        curves = {c: roc_curve(y_true == c, proba[:, i]) for i, c in enumerate(classes)}
    return Evaluation(
        metrics=score(y_true, proba, classes, positive_class),
        classes=classes,
        confusion=confusion_matrix(y_true, y_pred, labels=classes).tolist(),
        roc={name: _thin(*curve) for name, curve in curves.items()},
    )
