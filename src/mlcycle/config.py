"""The data-set config: everything that makes a CSV a learning problem, in one YAML file."""

from __future__ import annotations

import difflib
import inspect
import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

ColumnType = Literal["numeric", "categorical"]
Metric = Literal[
    "roc_auc",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "specificity",
    "false_alarms_per_100",
    "brier",
    "ece",
]
Calibration = Literal["none", "sigmoid", "isotonic"]
NumericTransform = Literal["standard", "power"]
# The metrics a grid search can take from a model that gives scores without probabilities.
SCORE_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")


def class_as_text(value: Any, where: str) -> Any:
    """A class value as the label column holds it: text. YAML reads `1` as a number, which
    is the class "1"; it reads unquoted yes/no/true/false/on/off as a boolean, which no
    label column holds, so that is refused with the fix."""
    if isinstance(value, bool):
        raise ValueError(
            f"{where} {value!r}: YAML reads an unquoted yes/no/true/false/on/off as a boolean; "
            f'quote the class as the data spells it (e.g. "yes")'
        )
    if isinstance(value, int):
        return str(value)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Candidate(_Strict):
    """One model family to try, with the grid searched by cross-validation."""

    name: str
    estimator: Literal["logistic_regression", "hist_gradient_boosting", "random_forest", "svm"]
    params: dict[str, Any] = Field(default_factory=dict, description="Fixed hyperparameters.")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="Searched by CV.")


def default_candidates() -> list[Candidate]:
    """A config without `candidates` tries these: a linear model (classes weighted evenly, so
    a minority class is not ignored) and boosted trees (for what a line cannot separate)."""
    return [
        Candidate(
            name="logistic_regression",
            estimator="logistic_regression",
            params={"max_iter": 2000, "class_weight": "balanced"},
            grid={"C": [0.1, 1.0, 10.0]},
        ),
        Candidate(
            name="gradient_boosting",
            estimator="hist_gradient_boosting",
            params={"max_iter": 100, "early_stopping": False},
            grid={"learning_rate": [0.05, 0.1], "max_leaf_nodes": [7, 15]},
        ),
    ]


class Gate(_Strict):
    """When a challenger may replace the champion."""

    primary_metric: Metric = "roc_auc"
    # Absolute floors (ceilings for brier, ece, false alarms) the challenger must pass on the
    # test split; label metrics are taken at the version's operating point.
    thresholds: dict[Metric, float] = Field(default_factory=dict)
    # The challenger must beat the champion's primary metric by more than this.
    min_improvement: float = Field(0.0, ge=0.0)


class Bounds(_Strict):
    """The values a numeric column can take at all, whatever the data so far has shown."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class Validation(_Strict):
    """Data-quality rules applied to every new snapshot."""

    # A value further outside the champion's observed range than this fraction of the range
    # is an error; anything outside the range at all is a warning.
    range_tolerance: float = Field(0.5, ge=0.0)
    # A column with more missing values than this fraction gets a warning (all missing: error).
    max_missing_fraction: float = Field(0.2, ge=0.0, le=1.0)
    min_rows_per_class: int = Field(10, ge=2)
    # Declared bounds: a value outside them is an error, with or without a champion.
    bounds: dict[str, Bounds] = Field(default_factory=dict, description="Per numeric column.")
    non_negative: bool = Field(
        False, description="Every numeric feature is >= 0, unless `bounds` says otherwise."
    )

    def bounds_for(self, column: str) -> Bounds | None:
        """The declared bounds of a numeric column, if any."""
        if column in self.bounds:
            return self.bounds[column]
        return Bounds(min=0.0) if self.non_negative else None


class ServingRules(_Strict):
    """What the API refuses to score: inputs too far from anything the model was trained on.
    Stored with every version (its feature schema), so each version is served by its own rules."""

    # A value further outside the training range than this multiple of the range's width is
    # refused (422); one outside the range at all is answered with a warning.
    range_tolerance: float = Field(1.0, ge=0.0)
    # An instance with more than this fraction of its features missing is refused (422).
    max_missing_fraction: float = Field(0.5, ge=0.0, le=1.0)


class Limits(_Strict):
    """How much data one run takes; ingest rejects more, naming the limit to raise."""

    # All incoming files together, as stored; checked before any file is read.
    max_bytes: int = Field(100_000_000, ge=1)
    max_rows: int = Field(1_000_000, ge=1)


class Resources(_Strict):
    """Per-step machine size on Vertex AI (ignored locally)."""

    cpu: str = "4"
    memory: str = "16G"


class Decision(_Strict):
    """Binary problems: when the label is the positive class. Exactly one of the two."""

    target_recall: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="The highest threshold whose out-of-fold recall on the training split "
        "reaches this.",
    )
    threshold: float | None = Field(
        None, gt=0.0, lt=1.0, description="A fixed threshold on the positive class's probability."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Decision:
        if (self.target_recall is None) == (self.threshold is None):
            raise ValueError("decision takes exactly one of target_recall or threshold")
        return self


class Drift(_Strict):
    """When `mlcycle monitor` calls a feature drifted: effect sizes over the training
    reference (model/reference.py), never a bare p-value, so a large sample does not cry wolf."""

    # Numeric features are binned at this many training quantiles for the PSI.
    bins: int = Field(10, ge=2, le=50)
    psi_warn: float = Field(0.1, gt=0.0, description="PSI from which a feature is flagged.")
    psi_alert: float = Field(0.25, gt=0.0, description="PSI from which drift is an alert.")
    min_rows: int = Field(100, ge=1, description="Fewer logged rows: no verdict at all.")
    # A PSI must also pass what sampling alone reaches this rarely (its chi-square bound for
    # the rows compared): with few rows, noise is not drift.
    noise_quantile: float = Field(0.999, gt=0.5, lt=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Drift:
        if self.psi_warn > self.psi_alert:
            raise ValueError(f"psi_warn {self.psi_warn} is above psi_alert {self.psi_alert}")
        return self


DEFAULT_DISCLAIMER = "Predictions are estimates from a model trained on past data."


class Display(_Strict):
    """How people see the problem: the words a page shows, so that no page hard-codes one data
    set's. Every field is optional; the defaults are neutral."""

    classes: dict[str, str] = Field(
        default_factory=dict,
        description="Class value -> the name shown for it (e.g. {0: setosa}); others show "
        "the value itself.",
    )
    predicts: str | None = Field(
        None, description='What is predicted, as in "Predicted <predicts>"; default: the label.'
    )
    disclaimer: str = Field(DEFAULT_DISCLAIMER, description="Shown under every page.")

    @field_validator("classes", mode="before")
    @classmethod
    def _values_as_text(cls, classes: Any) -> Any:
        # Classes are text everywhere (a label column of 0/1 has classes "0" and "1"); YAML
        # reads `{0: setosa}` with an int key, so keys become text as the labels do.
        if isinstance(classes, dict):
            return {class_as_text(k, "display.classes key"): v for k, v in classes.items()}
        return classes


class DatasetConfig(_Strict):
    """A tabular classification problem described by configuration alone."""

    name: str = Field(description="The data set's name: lowercase letters, digits, _ and -.")
    label: str
    positive_class: str | None = Field(
        None, description="Binary problems: the class whose recall matters (required)."
    )
    drop_columns: list[str] = Field(default_factory=list, description="Ids and leaks.")
    column_types: dict[str, ColumnType] = Field(
        default_factory=dict,
        description="Overrides; other columns are inferred. A categorical column's cells are "
        "read as written, so codes keep their leading zeros.",
    )
    deduplicate: Literal["records", "features", "none"] = Field(
        "records",
        description="Which rows clean drops as duplicates. `records`: the same record twice, "
        "equal in ids (drop_columns), features and label; rows that only share their "
        "features and label are kept and counted. `features`: rows equal once the id and "
        "drop columns are gone (distinct records with discrete measurements can collide). "
        "`none`: keep every row.",
    )
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 42
    cv_folds: int = Field(5, ge=2)
    threads: int | None = Field(
        None,
        ge=1,
        description="BLAS/OpenMP threads for training; default: 1 for small data "
        "(threads cost more than they save there), all cores for large.",
    )
    candidates: list[Candidate] = Field(
        default_factory=default_candidates,
        min_length=1,
        description="The models to try, each with its grid; default: default_candidates().",
    )
    numeric_transform: NumericTransform = Field(
        "standard",
        description="How numbers are scaled for the models: standard (mean 0, variance 1) or "
        "power (Yeo-Johnson, then standardized: makes skewed measurements, such as areas, "
        "closer to normal; trees are unaffected).",
    )
    decision: Decision | None = Field(
        None,
        description="Binary problems: the operating point. None: the positive class when its "
        "probability is at least 0.5 (the most probable class).",
    )
    calibration: Calibration = Field(
        "sigmoid",
        description="How the chosen model's probabilities are calibrated on the training split "
        "(CalibratedClassifierCV): sigmoid (Platt; few parameters, fit for small data), "
        "isotonic (needs about a thousand rows or more) or none.",
    )
    gate: Gate = Field(default_factory=Gate)
    validation: Validation = Field(default_factory=Validation)
    serving: ServingRules = Field(default_factory=ServingRules)
    limits: Limits = Field(default_factory=Limits)
    resources: Resources = Field(default_factory=Resources)
    display: Display = Field(default_factory=Display)
    drift: Drift = Field(default_factory=Drift)
    seed_data: Literal["sklearn_breast_cancer"] | None = Field(
        None, description="Data written to an empty incoming folder on the first run."
    )

    @field_validator("positive_class", mode="before")
    @classmethod
    def _class_as_text(cls, value: Any) -> Any:
        return class_as_text(value, "positive_class")

    @field_validator("name")
    @classmethod
    def _name_is_an_identifier(cls, name: str) -> str:
        # It names each version's data set and the Vertex AI job (mlcycle-<name>).
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
            example = re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_-") or "my_data"
            raise ValueError(
                f"{name!r}: a name is lowercase letters, digits, _ and -, starting with a "
                f"letter or digit (e.g. {example!r})"
            )
        return name

    @field_validator("candidates")
    @classmethod
    def _unique_names(cls, candidates: list[Candidate]) -> list[Candidate]:
        names = [c.name for c in candidates]
        if len(set(names)) != len(names):
            raise ValueError(f"candidate names must be unique, got {names}")
        return candidates

    @model_validator(mode="after")
    def _label_not_dropped(self) -> DatasetConfig:
        if self.label in self.drop_columns:
            raise ValueError(f"label column {self.label!r} is also in drop_columns")
        return self

    @model_validator(mode="after")
    def _scores_become_probabilities(self) -> DatasetConfig:
        # An SVM ranks rows by a score, not a probability: calibration makes that score one,
        # and the grid search, which runs before calibration, can only use metrics of labels
        # or ranks.
        for c in self.candidates:
            if c.estimator != "svm":
                continue
            if self.calibration == "none":
                raise ValueError(
                    f"candidate {c.name!r} (svm) gives scores, not probabilities: it needs "
                    "calibration sigmoid or isotonic"
                )
            if self.gate.primary_metric not in SCORE_METRICS:
                raise ValueError(
                    f"candidate {c.name!r} (svm) is tuned before calibration, on a score: "
                    f"gate.primary_metric must be one of {', '.join(SCORE_METRICS)}, "
                    f"not {self.gate.primary_metric}"
                )
        return self

    @model_validator(mode="after")
    def _decision_names_its_class(self) -> DatasetConfig:
        # A threshold is on one class's probability: which one must be said, not guessed.
        if self.decision is not None and self.positive_class is None:
            raise ValueError("decision (an operating point) needs positive_class")
        return self

    def to_json(self) -> str:
        """Canonical JSON: how the config travels into pipeline components."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> DatasetConfig:
        return cls.model_validate_json(text)


class ConfigError(ValueError):
    """The data-set config file is missing or invalid."""


def load_config(path: str | Path) -> DatasetConfig:
    """Read and validate a data-set config file, naming the file in every error."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        where = "" if path.is_absolute() else f" (relative to the current folder, {Path.cwd()})"
        raise ConfigError(f"config file not found: {path}{where}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder: give the YAML file in it") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if raw is None:
        raise ConfigError(f"config file {path} is empty: it must hold a data-set config mapping")
    if not isinstance(raw, dict):
        # A data file given as the config is the likely mistake: YAML reads a CSV as text.
        data = path.suffix.lower() in {".csv", ".parquet", ".json", ".txt", ".tsv"}
        hint = "; data files go in with `mlcycle data add`" if data else ""
        raise ConfigError(
            f"config file {path} must hold a mapping (name, label, candidates, ...; see "
            f"configs/breast_cancer.yaml), got {type(raw).__name__}{hint}"
        )
    try:
        return DatasetConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "\n".join(f"  {line}" for line in describe_errors(exc))
        raise ConfigError(f"config file {path} is invalid:\n{problems}") from None


def describe_errors(exc: ValidationError) -> list[str]:
    """Each of a config's errors as one line: where (`gate.thresholds.recal`), what is wrong,
    the value given, and for an unknown key the nearest known one."""
    lines = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if part != "[key]")  # a dict's bad key
        where = ".".join(str(part) for part in loc)
        message = error["msg"].removeprefix("Value error, ")
        given = error.get("input")
        if error["type"] == "literal_error":  # one of fixed words: the nearest, if any
            words = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
            near = difflib.get_close_matches(str(given), words, n=1)
            message = f"{message} (got {given!r}" + (f"; did you mean {near[0]}?)" if near else ")")
        elif error["type"] == "missing":
            message = "required"
        elif error["type"] == "extra_forbidden":
            known = _keys_at(loc[:-1])
            near = difflib.get_close_matches(str(loc[-1]), known, n=1)
            message = "not a key here" + (
                f": did you mean {near[0]}?" if near else f" (known: {', '.join(known)})"
            )
        elif isinstance(given, str | int | float | bool) and not error["type"].startswith(
            "value_error"  # our validators quote what they refuse themselves
        ):
            message = f"{message} (got {given!r})"
        lines.append(f"{where}: {message}" if where else message)
    return lines


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the config allows at `loc` (e.g. ("gate",) -> primary_metric, thresholds...)."""
    kind: Any = DatasetConfig
    for part in loc:
        kind = _inner(kind, part)
    kind = _inner(kind, None)
    return list(kind.model_fields) if _is_model(kind) else []


def _inner(kind: Any, part: Any) -> Any:
    """What `kind[part]` holds: a model's field, a list's item, a dict's value, through
    `X | None`. With part None, only the optional is unwrapped."""
    if get_origin(kind) not in (None, list, dict):  # X | None, Annotated[X, ...]: X
        kind = next(k for k in get_args(kind) if k is not type(None))
    if part is None:
        return kind
    if _is_model(kind):
        field = kind.model_fields.get(str(part))
        return field.annotation if field else None
    if get_origin(kind) in (list, dict):
        return get_args(kind)[-1]
    return None


def _is_model(kind: Any) -> bool:
    return inspect.isclass(kind) and issubclass(kind, BaseModel)
