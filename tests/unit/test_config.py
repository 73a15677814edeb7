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
        ("label: y\n", "\n  name: required$"),
        ("name: x\nlabel: y\ncandidates: []\n", "candidates: List should have at least 1"),
        ("name: x\nlabel: y\nbogus: 1\n", "bogus: not a key here \\(known: name, label, "),
        # A misspelt key or word: the nearest the config knows, with where it is.
        (
            "name: x\nlabel: y\ngate: {primary: roc_auc}\n",
            "gate.primary: .*did you mean primary_metric",
        ),
        (
            "name: x\nlabel: y\ngate: {thresholds: {recal: 0.9}}\n",
            "gate.thresholds.recal: .*\\(got 'recal'; did you mean recall\\?\\)",
        ),
        ("name: x\nlabel: y\ncalibration: sigmod\n", "calibration: .*did you mean sigmoid"),
        (
            "name: x\nlabel: y\ncandidates: [{name: a, estimator: naive_bayes}]",
            "candidates.0.estimator: Input should be .* \\(got 'naive_bayes'\\)",
        ),
        (
            "name: My Loans\nlabel: y\n",
            "name: 'My Loans': a name is lowercase .* \\(e.g. 'my_loans'\\)",
        ),
        ("name: x\nlabel: y\ntest_size: 2\n", "test_size: Input should be less than 1 \\(got 2\\)"),
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
    assert "errors.pydantic.dev" not in str(info.value)  # pydantic's own help link, not ours


def test_a_config_needs_only_a_name_and_a_label(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: loans\nlabel: outcome\n")
    config = load_config(path)
    assert [c.estimator for c in config.candidates] == [
        "logistic_regression",
        "hist_gradient_boosting",
    ]


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_a_data_file_given_as_the_config_says_where_data_goes(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b,y\n1,2,x\n")
    with pytest.raises(ConfigError, match=r"must hold a mapping.*`mlcycle data add`"):
        load_config(path)


def test_a_folder_an_empty_or_an_unreadable_config_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match="is empty"):
        load_config(empty)

    def denied(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", denied)  # chmod 000 does not stop root
    with pytest.raises(ConfigError, match=f"{empty} cannot be read: Permission denied"):
        load_config(empty)


_MINIMAL = "name: x\nlabel: y\ncandidates: [{name: a, estimator: logistic_regression}]\n"


def test_class_values_yaml_reads_as_numbers_are_the_classes_as_text(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(_MINIMAL + "positive_class: 1\ndisplay: {classes: {0: healthy, 1: ill}}\n")
    config = load_config(path)
    assert config.positive_class == "1"
    assert config.display.classes == {"0": "healthy", "1": "ill"}


@pytest.mark.parametrize("extra", ["positive_class: yes\n", "display: {classes: {no: fine}}\n"])
def test_an_unquoted_yes_or_no_class_says_to_quote_it(tmp_path: Path, extra: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(_MINIMAL + extra)
    with pytest.raises(ConfigError, match="quote the class"):
        load_config(path)


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLCYCLE_ROOT", raising=False)
    assert Settings().root == str(Path(".mlcycle").resolve())  # ./.mlcycle, normalised
    monkeypatch.setenv("MLCYCLE_ROOT", "gs://bucket/prefix")
    assert get_settings().root == "gs://bucket/prefix"
    assert get_settings(root="/elsewhere", config=None).root == "/elsewhere"
