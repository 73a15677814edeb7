"""The operating point: when a binary model's label is the positive class.

A missed positive (a malignancy) can cost far more than a false alarm, so the label is not
always the most probable class: it is the positive class when that class's probability is at
least a threshold. The threshold comes from the config (`decision`), either as given or as the
highest one whose recall reaches a target on out-of-fold predictions of the training split:
the test split never helps choose it. `labels` is the one function that turns probabilities
into labels, for evaluation, the gate, the API's answers and the report alike.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from mlcycle.model.version import OperatingPoint

if TYPE_CHECKING:
    import pandas as pd

    from mlcycle.config import DatasetConfig

DEFAULT_THRESHOLD = 0.5


def positive_index(classes: list[str], positive_class: str | None) -> int:
    """The positive class's column in a binary model's probabilities (the second when the
    config names none, as scikit-learn's binary metrics take it)."""
    return list(classes).index(positive_class) if positive_class in classes else 1


def labels(proba: np.ndarray, classes: list[str], point: OperatingPoint | None) -> np.ndarray:
    """The label of each row: the positive class when its probability is at least the
    operating point's threshold; the most probable class when there is no operating point
    (multi-class models, and versions registered before operating points)."""
    names = np.asarray(classes, dtype=object)
    if point is None or len(classes) != 2 or point.positive_class not in classes:
        return names[proba.argmax(axis=1)]
    pos = list(classes).index(point.positive_class)
    return np.where(proba[:, pos] >= point.threshold, names[pos], names[1 - pos])


def choose_threshold(is_positive: np.ndarray, p: np.ndarray, target_recall: float) -> float:
    """The highest threshold t whose recall, the share of positives with p >= t, is at least
    `target_recall`: the fewest false alarms that still find that share of positives."""
    scores = np.sort(np.asarray(p, dtype=np.float64)[np.asarray(is_positive, dtype=bool)])[::-1]
    if not len(scores):
        raise ValueError("no positive rows to choose a threshold on")
    # The k-th highest positive score lets exactly k (or more, on ties) positives through.
    k = max(1, math.ceil(target_recall * len(scores) - 1e-9))
    return float(scores[k - 1])


def rates(is_positive: np.ndarray, said_positive: np.ndarray) -> dict[str, float]:
    """Recall, precision, specificity and false alarms (negatives said positive) per 100 rows."""
    truth = np.asarray(is_positive, dtype=bool)
    said = np.asarray(said_positive, dtype=bool)
    tp, fp = int((truth & said).sum()), int((~truth & said).sum())
    positives, negatives = int(truth.sum()), int((~truth).sum())
    return {
        "recall": tp / positives if positives else 0.0,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "specificity": (negatives - fp) / negatives if negatives else 0.0,
        "false_alarms_per_100": 100.0 * fp / len(truth) if len(truth) else 0.0,
    }


def choose_operating_point(
    model: Any, X: pd.DataFrame, y: pd.Series, config: DatasetConfig, cv: Any
) -> OperatingPoint | None:
    """The operating point of a binary model, from out-of-fold probabilities of the training
    split: `model` (unfitted, exactly as it will be fitted: calibration included) is fitted on
    each fold's other rows and predicts that fold. None for more than two classes."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_predict

    classes = sorted(y.unique())
    if len(classes) != 2:
        return None
    pos = positive_index(classes, config.positive_class)
    proba = cross_val_predict(clone(model), X, y, cv=cv, method="predict_proba")
    p, is_positive = proba[:, pos], (y == classes[pos]).to_numpy()
    decision = config.decision
    if decision is None:
        threshold, chosen_by = DEFAULT_THRESHOLD, "default"
    elif decision.threshold is not None:
        threshold, chosen_by = decision.threshold, "threshold"
    else:
        threshold = choose_threshold(is_positive, p, decision.target_recall)
        chosen_by = "target_recall"
    at = rates(is_positive, p >= threshold)
    return OperatingPoint(
        positive_class=classes[pos],
        negative_class=classes[1 - pos],
        threshold=float(threshold),  # unrounded: a positive at it must stay positive
        chosen_by=chosen_by,
        target_recall=decision.target_recall if decision else None,
        calibration=config.calibration,
        oof_rows=len(y),
        **{f"oof_{name}": round(value, 6) for name, value in at.items()},
    )
