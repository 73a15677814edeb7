from pathlib import Path

import pytest

from mlcycle.config import ConfigError, DatasetConfig, load_config
from mlcycle.settings import Settings, get_settings


def test_default_config_describes_the_breast_cancer_problem(config: DatasetConfig) -> None:
    assert config.label == "diagnosis"
    assert config.positive_class == "malignant"
    assert {c.estimator for c in config.candidates} >= {
        "logistic_regression",
        "hist_gradient_boosting",
    }
    assert config.gate.thresholds == {"roc_auc": 0.98, "recall": 0.95}
    assert (config.serving.range_tolerance, config.serving.max_missing_fraction) == (1.0, 0.5)
    assert config.validation.non_negative  # declared bounds: refused at serving too


def test_config_travels_as_json_unchanged(config: DatasetConfig) -> None:
    assert DatasetConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("label: y\n", "candidates"),
        ("name: x\nlabel: y\ncandidates: []\n", "candidates"),
        (
            "name: x\nlabel: y\nbogus: 1\ncandidates: [{name: a, estimator: logistic_regression}]",
            "bogus",
        ),
        ("name: x\nlabel: y\ncandidates: [{name: a, estimator: naive_bayes}]", "estimator"),
        # An SVM gives scores: without calibration the model would have no probabilities,
        # and its grid search (before calibration) cannot score probabilities.
        (
            "name: x\nlabel: y\ncalibration: none\ncandidates: [{name: a, estimator: svm}]",
            "'a' \\(svm\\) gives scores, not probabilities: it needs calibration",
        ),
        (
            "name: x\nlabel: y\ngate: {primary_metric: brier}\n"
            "candidates: [{name: a, estimator: svm}]",
            "gate.primary_metric must be one of roc_auc, accuracy",
        ),
        (
            "name: x\nlabel: y\ndrop_columns: [y]\n"
            "candidates: [{name: a, estimator: logistic_regression}]",
            "drop_columns",
        ),
        (
            "name: x\nlabel: y\nserving: {range_tolerance: -1}\n"
            "candidates: [{name: a, estimator: logistic_regression}]",
            "range_tolerance",
        ),
        (
            "name: x\nlabel: y\nserving: {max_missing_fraction: 1.5}\n"
            "candidates: [{name: a, estimator: logistic_regression}]",
            "max_missing_fraction",
        ),
        ("- just a list", "mapping"),
        ("name: [unclosed", "not valid YAML"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLCYCLE_ROOT", raising=False)
    assert Settings().root == str(Path(".mlcycle").resolve())  # ./.mlcycle, normalised
    monkeypatch.setenv("MLCYCLE_ROOT", "gs://bucket/prefix")
    assert get_settings().root == "gs://bucket/prefix"
    assert get_settings(root="/elsewhere", config=None).root == "/elsewhere"
