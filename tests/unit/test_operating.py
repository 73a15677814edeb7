"""The operating point (chosen out of fold, applied by one function), calibration and ECE."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from mlcycle.config import ConfigError, DatasetConfig, load_config
from mlcycle.data.validate import validate
from mlcycle.model.metrics import expected_calibration_error, score
from mlcycle.model.operating import choose_threshold, labels, rates
from mlcycle.model.train import train_model
from mlcycle.model.version import OperatingPoint

CLASSES = ["benign", "malignant"]
POINT = OperatingPoint(positive_class="malignant", negative_class="benign", threshold=0.3)


def noisy_binary(rows: int = 400, seed: int = 3) -> pd.DataFrame:
    """Two overlapping classes (no threshold separates them), 'yes' the minority."""
    rng = np.random.default_rng(seed)
    y = rng.random(rows) < 0.35
    x = rng.normal(size=(rows, 3)) + np.where(y, 1.2, 0.0)[:, None]
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["label"] = np.where(y, "yes", "no")
    return frame


def config_for(**changes: object) -> DatasetConfig:
    fields = {
        "name": "noisy",
        "label": "label",
        "positive_class": "yes",
        "cv_folds": 4,
        "candidates": [{"name": "lr", "estimator": "logistic_regression", "grid": {}}],
        **changes,
    }
    return DatasetConfig.model_validate(fields)


TYPES = {"a": "numeric", "b": "numeric", "c": "numeric"}


def test_the_threshold_is_the_highest_that_reaches_the_target_recall() -> None:
    rng = np.random.default_rng(0)
    is_positive = rng.random(500) < 0.4
    p = np.clip(rng.normal(np.where(is_positive, 0.65, 0.35), 0.2), 0, 1)
    for target in (0.8, 0.9, 0.95, 0.99, 1.0):
        t = choose_threshold(is_positive, p, target)
        assert rates(is_positive, p >= t)["recall"] >= target
        # Any higher threshold (the next positive score up) misses the target.
        higher = np.min(p[is_positive & (p > t)], initial=np.inf)
        assert rates(is_positive, p >= higher)["recall"] < target


def test_the_operating_point_is_chosen_on_out_of_fold_predictions_of_the_training_split() -> None:
    frame = noisy_binary()
    config = config_for(decision={"target_recall": 0.95}, calibration="sigmoid")
    result = train_model(frame, config, TYPES)
    point = result.operating_point
    assert point.chosen_by == "target_recall" and point.target_recall == 0.95
    assert point.positive_class == "yes" and point.calibration == "sigmoid"
    assert point.oof_rows == len(frame) and point.oof_recall >= 0.95
    # The same threshold again from the calibrated model's own out-of-fold probabilities,
    # fitted per fold on the same folds: nothing else chose it.
    assert isinstance(result.model.steps[-1][1], CalibratedClassifierCV)
    cv = StratifiedKFold(n_splits=4, shuffle=True, random_state=config.seed)
    X, y = frame[list(TYPES)], frame["label"]
    oof = cross_val_predict(clone(result.model), X, y, cv=cv, method="predict_proba")[:, 1]
    assert point.threshold == choose_threshold((y == "yes").to_numpy(), oof, 0.95)
    # In-sample probabilities would have given another threshold (they are too confident).
    in_sample = result.model.predict_proba(X)[:, 1]
    assert choose_threshold((y == "yes").to_numpy(), in_sample, 0.95) != point.threshold
    # Well below 0.5: a high recall on overlapping classes costs false alarms.
    assert point.threshold < 0.5 and point.oof_false_alarms_per_100 > 0


def test_an_svm_is_calibrated_into_probabilities_and_gets_an_operating_point() -> None:
    frame = noisy_binary()
    svm = {"name": "svm", "estimator": "svm", "params": {"class_weight": "balanced"}}
    config = config_for(candidates=[svm], decision={"target_recall": 0.9})
    result = train_model(frame, config, TYPES)
    assert result.chosen == "svm" and result.calibration == "sigmoid"
    proba = result.model.predict_proba(frame[list(TYPES)])
    assert np.allclose(proba.sum(axis=1), 1.0) and 0 < proba[:, 1].min() < proba[:, 1].max() < 1
    assert result.operating_point.oof_recall >= 0.9


def test_an_svm_on_more_than_two_classes_needs_a_label_metric() -> None:
    frame = noisy_binary()
    frame.loc[frame.index[::3], "label"] = "maybe"
    svm = {"name": "svm", "estimator": "svm"}
    config = config_for(candidates=[svm], positive_class=None)
    with pytest.raises(ValueError, match="'svm' \\(svm\\) cannot be tuned by roc_auc on 3 classes"):
        train_model(frame, config, TYPES)
    by_f1 = config_for(candidates=[svm], positive_class=None, gate={"primary_metric": "f1"})
    assert train_model(frame, by_f1, TYPES).chosen == "svm"


def test_a_fixed_threshold_and_the_default_are_recorded_as_such() -> None:
    frame = noisy_binary()
    fixed = train_model(frame, config_for(decision={"threshold": 0.3}), TYPES).operating_point
    assert (fixed.threshold, fixed.chosen_by, fixed.target_recall) == (0.3, "threshold", None)
    default = train_model(frame, config_for(calibration="none"), TYPES).operating_point
    assert (default.threshold, default.chosen_by) == (0.5, "default")


def test_labels_follow_the_operating_point_and_argmax_without_one() -> None:
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.2, 0.8], [0.71, 0.29]])
    assert labels(proba, CLASSES, POINT).tolist() == [
        "benign",
        "malignant",  # 0.4: between the threshold and 0.5
        "malignant",  # exactly at the threshold
        "malignant",
        "benign",
    ]
    assert labels(proba, CLASSES, None).tolist() == [
        "benign",
        "benign",
        "benign",
        "malignant",
        "benign",
    ]
    # The positive class in the first column works the same.
    flipped = labels(proba[:, ::-1], CLASSES[::-1], POINT)
    assert flipped.tolist() == labels(proba, CLASSES, POINT).tolist()
    three = np.array([[0.2, 0.5, 0.3]])
    assert labels(three, ["a", "b", "c"], POINT).tolist() == ["b"]


def test_metrics_at_the_operating_point_beside_argmax() -> None:
    y = np.array(["malignant", "malignant", "benign", "benign", "benign", "benign"])
    p = np.array([0.8, 0.4, 0.35, 0.2, 0.1, 0.6])
    proba = np.column_stack([1 - p, p])
    m = score(y, proba, CLASSES, "malignant", POINT)
    # At 0.3: both malignant found; 0.35 and 0.6 are false alarms.
    assert m["recall"] == 1.0 and m["precision"] == 0.5 and m["specificity"] == 0.5
    assert m["false_alarms_per_100"] == pytest.approx(100 * 2 / 6, abs=1e-4)
    # At argmax: one malignant missed, one false alarm.
    assert m["recall_argmax"] == 0.5 and m["precision_argmax"] == 0.5
    assert m["specificity_argmax"] == 0.75
    assert m["false_alarms_per_100_argmax"] == pytest.approx(100 / 6, abs=1e-4)
    assert m["roc_auc"] == score(y, proba, CLASSES, "malignant")["roc_auc"]


def test_expected_calibration_error_bins_by_predicted_probability() -> None:
    # Bins (0.2, 0.3] and (0.7, 0.8]: 4 rows at 0.25 with 1 positive, 4 at 0.75 with 2.
    p = np.array([0.25] * 4 + [0.75] * 4)
    y = np.array([1, 0, 0, 0, 1, 1, 0, 0])
    assert expected_calibration_error(y, p) == pytest.approx(0.5 * 0.0 + 0.5 * 0.25)
    # The first bin includes 0, every other its upper edge: 0.1 is in the first bin.
    assert expected_calibration_error(np.array([0, 1]), np.array([0.0, 0.1])) == pytest.approx(0.45)
    # Calibrated by construction: outcomes drawn with the stated probability.
    rng = np.random.default_rng(1)
    q = rng.random(200_000)
    assert expected_calibration_error(rng.random(q.size) < q, q) < 0.01
    # Over-confident scores are not.
    assert expected_calibration_error(rng.random(q.size) < q, q**3) > 0.1
    # The same bins as scikit-learn's calibration curve.
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert expected_calibration_error(y, p) == pytest.approx(
        np.mean(np.abs(observed - predicted))  # equal-sized bins here
    )


def test_a_decision_is_validated() -> None:
    base = config_for().model_dump()
    for bad in ({}, {"target_recall": 0.9, "threshold": 0.3}, {"target_recall": 1.5},
                {"threshold": 0.0}, {"threshold": 1.0}):  # fmt: skip
        with pytest.raises(ValueError, match="decision"):
            DatasetConfig.model_validate({**base, "decision": bad})
    with pytest.raises(ValueError, match="needs positive_class"):
        DatasetConfig.model_validate(
            {**base, "positive_class": None, "decision": {"threshold": 0.3}}
        )
    with pytest.raises(ValueError, match="calibration"):
        DatasetConfig.model_validate({**base, "calibration": "platt"})


def test_the_shipped_config_sets_an_operating_point(tmp_path) -> None:
    config = load_config("configs/breast_cancer.yaml")
    # Its target and calibration are the ones the training-split study chose (the comment
    # there says so): bench/operating_point.py, results committed.
    study = json.loads(Path("bench/results/operating_point.json").read_text())["decision"]
    assert config.decision.target_recall == study["target_recall"]
    assert config.calibration == study["calibration"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nlabel: y\ncandidates: []\ndecision: {threshold: 2}\n")
    with pytest.raises(ConfigError, match="decision"):
        load_config(bad)


def test_a_decision_on_more_than_two_classes_is_a_config_error() -> None:
    frame = noisy_binary()
    frame.loc[:40, "label"] = "maybe"
    config = config_for(decision={"threshold": 0.3})
    report = validate(frame, {"upload.csv": list(frame.columns)}, config)
    rules = {issue.rule: issue.message for issue in report.errors}
    assert "decision" in rules and "3" in rules["decision"]
