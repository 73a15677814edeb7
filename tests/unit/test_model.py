"""Training, metrics, the gate and model behaviour on the breast-cancer data."""

import io

import joblib
import numpy as np
import pandas as pd
import pytest

from mlcycle.config import Gate
from mlcycle.data.schema import feature_types
from mlcycle.data.split import split_data
from mlcycle.model.evaluate import evaluate_model, predict_proba
from mlcycle.model.gate import decide
from mlcycle.model.metrics import score
from mlcycle.model.train import train_model


@pytest.fixture(scope="module")
def split(bc_frame, config):
    return split_data(bc_frame.drop(columns=["id"]), config)


@pytest.fixture(scope="module")
def types(bc_frame, config):
    return feature_types(bc_frame.drop(columns=["id"]), config)


@pytest.fixture(scope="module")
def trained(split, config, types):
    return train_model(split[0], config, types)


def test_every_candidate_is_tuned_and_the_best_kept(trained, config) -> None:
    assert [c["name"] for c in trained.candidates] == [c.name for c in config.candidates]
    best = max(trained.candidates, key=lambda c: c["cv_score"])
    assert trained.chosen == best["name"]
    assert all(c["grid_size"] >= 3 for c in trained.candidates)


def test_training_is_reproducible(trained, split, config, types) -> None:
    again = train_model(split[0], config, types)
    a = predict_proba(trained.model, split[1], types)
    b = predict_proba(again.model, split[1], types)
    np.testing.assert_array_equal(a, b)
    dump = io.BytesIO()
    joblib.dump(trained.model, dump)
    dump2 = io.BytesIO()
    joblib.dump(again.model, dump2)
    assert dump.getvalue() == dump2.getvalue()


def test_test_metrics_reach_the_default_gate(trained, split, types, config) -> None:
    point = trained.operating_point
    evaluation = evaluate_model(trained.model, split[1], types, "diagnosis", "malignant", point)
    metrics = evaluation.metrics
    # Issue 14's figures on the held-out split, at the operating point chosen out of fold.
    # Its recall >= 0.97 is not met: at the target chosen on the training split alone
    # (bench/operating_point.py) the test split's recall is 0.9524, 2 of 42 malignant cases
    # missed (README). Raising the target on that would tune it on the test split; the gate's
    # recall floor holds.
    assert point.chosen_by == "target_recall" and point.threshold < 0.5
    assert point.target_recall == config.decision.target_recall
    assert metrics["recall"] >= config.gate.thresholds["recall"] and metrics["roc_auc"] >= 0.995
    assert metrics["brier"] <= 0.03
    # The operating point finds more malignancies than argmax, at the cost of false alarms.
    assert metrics["recall"] > metrics["recall_argmax"]
    assert metrics["false_alarms_per_100"] >= metrics["false_alarms_per_100_argmax"]
    assert evaluation.classes == ["benign", "malignant"]
    assert sum(map(sum, evaluation.confusion)) == len(split[1])
    assert decide(evaluation.metrics, None, config.gate).promote


def test_more_extreme_malignant_features_never_lower_the_score(trained, split, types) -> None:
    """Tumours grow worse with size: scaling up the 'worst' size features of a malignant case
    must not make the model less sure it is malignant."""
    test = split[1]
    cases = test[test.diagnosis == "malignant"].head(10)
    classes = list(trained.model.classes_)
    base = predict_proba(trained.model, cases, types)[:, classes.index("malignant")]
    bigger = cases.copy()
    for col in ("worst_radius", "worst_perimeter", "worst_area", "worst_concave_points"):
        bigger[col] = bigger[col] * 1.2
    worse = predict_proba(trained.model, bigger, types)[:, classes.index("malignant")]
    assert (worse >= base - 1e-9).all()


def test_metrics_binary_use_the_positive_class() -> None:
    y = np.array(["b", "m", "m", "b"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    m = score(y, proba, ["b", "m"], "m")
    assert m["recall"] == 0.5 and m["precision"] == 0.5 and m["accuracy"] == 0.5
    assert m["brier"] == pytest.approx(np.mean([0.01, 0.04, 0.36, 0.49]))
    flipped = score(y, proba, ["b", "m"], "b")
    assert flipped["recall"] == 0.5 and flipped["roc_auc"] == m["roc_auc"]


def test_metrics_multiclass_are_macro() -> None:
    y = np.array(["a", "b", "c", "c"])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]])
    m = score(y, proba, ["a", "b", "c"], None)
    assert m["accuracy"] == 0.75
    assert m["recall"] == pytest.approx((1 + 1 + 0.5) / 3)


GATE = Gate(
    primary_metric="roc_auc", thresholds={"roc_auc": 0.98, "recall": 0.95}, min_improvement=0.001
)
GOOD = {"roc_auc": 0.995, "recall": 0.96, "brier": 0.02}


@pytest.mark.parametrize(
    ("challenger", "champion", "promote", "says"),
    [
        (GOOD, None, True, "no champion yet"),
        ({**GOOD, "recall": 0.9}, None, False, "recall 0.9000 fails threshold 0.95"),
        (GOOD, {**GOOD, "roc_auc": 0.99}, True, "beats champion's 0.9900"),
        (GOOD, GOOD, False, "ties keep the champion"),
        (GOOD, {**GOOD, "roc_auc": 0.9945}, False, "does not beat"),  # within the margin
        (GOOD, {**GOOD, "roc_auc": 0.999}, False, "does not beat"),
    ],
)
def test_gate(challenger, champion, promote, says) -> None:
    decision = decide(challenger, champion, GATE)
    assert decision.promote is promote
    assert any(says in r for r in decision.reasons), decision.reasons


def test_gate_lower_is_better_for_brier() -> None:
    gate = Gate(primary_metric="brier", thresholds={"brier": 0.05})
    assert decide({"brier": 0.02}, {"brier": 0.03}, gate).promote
    assert not decide({"brier": 0.04}, {"brier": 0.03}, gate).promote
    assert not decide({"brier": 0.06}, None, gate).promote


def test_multiclass_with_categories_and_missing_values(config) -> None:
    rng = np.random.default_rng(0)
    n = 300
    y = rng.choice(["low", "mid", "high"], n)
    frame = pd.DataFrame(
        {
            "x": np.where(y == "high", 2.0, np.where(y == "mid", 1.0, 0.0)) + rng.normal(0, 0.5, n),
            "colour": np.where(y == "low", "red", rng.choice(["green", "blue"], n)),
            "label": y,
        }
    )
    frame.loc[::10, "x"] = np.nan
    frame.loc[::7, "colour"] = None
    cfg = config.model_copy(update={"label": "label", "positive_class": None, "drop_columns": []})
    types = feature_types(frame, cfg)
    assert types == {"x": "numeric", "colour": "categorical"}
    train, test = split_data(frame, cfg)
    result = train_model(train, cfg, types)
    evaluation = evaluate_model(result.model, test, types, "label", None)
    assert evaluation.classes == ["high", "low", "mid"]
    assert evaluation.metrics["roc_auc"] > 0.8
    assert set(evaluation.roc) == {"high", "low", "mid"}
