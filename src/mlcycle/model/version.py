"""A model version, typed: the one definition of what `metadata.json` holds.

The registry writes and reads `ModelVersion`; the pipeline builds it (model/registration.py),
the API returns its parts (so /openapi.json describes every field), the CLI and the reports
render it. Change a field here and every reader sees it.

Records are lenient on the way in: fields added later have defaults, so versions written
before them still load, and fields this code does not know are kept (`extra="allow"`), so
rewriting a record (`Registry.amend`) loses nothing. `to_json` writes only the fields a record
was given: an old version is rewritten as it was, a new one carries every field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlcycle.config import ColumnType

Scalar = int | float | str | bool | None  # a feature value as stored (ints stay ints)


class Record(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, serialize_by_alias=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored (and served) for this record."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Bounds(Record):
    min: float | None = None
    max: float | None = None


class Feature(Record):
    """One input column. Numeric features carry min/max/median/integer (and the config's
    bounds, if declared); categorical ones carry categories and mode."""

    name: str
    type: ColumnType
    missing_fraction: float | None = Field(None, description="Share of missing values seen.")
    min: int | float | None = Field(None, description="Numeric: smallest value seen.")
    max: int | float | None = Field(None, description="Numeric: largest value seen.")
    median: int | float | None = Field(None, description="Numeric: median, what fills a gap.")
    integer: bool | None = Field(None, description="Numeric: every value seen was whole.")
    bounds: Bounds | None = Field(None, description="Numeric: what no value may ever cross.")
    categories: list[str] | None = Field(None, description="Categorical: every value seen.")
    mode: str | None = Field(None, description="Categorical: the most frequent value.")


class Display(Record):
    """The data-set config's words for pages, resolved when the version was built: every class
    has a name, `predicts` and `disclaimer` are set. Versions built before this have none."""

    classes: dict[str, str] = Field(default_factory=dict, description="Class value -> name shown.")
    predicts: str = Field(description='What is predicted, as in "Predicted <predicts>".')
    disclaimer: str = Field(description="What a page says about its predictions.")


class ServingRules(Record):
    """The config's `serving` section as the version was built with it: what the API refuses.
    Versions built before it have none and are served with these defaults."""

    range_tolerance: float = Field(
        1.0, description="Refused beyond this many training-range widths outside the range."
    )
    max_missing_fraction: float = Field(
        0.5, description="Refused with more than this share of the features missing."
    )


class FeatureSchema(Record):
    """What a version knows about its inputs: the features in model order, the classes, and a
    few real rows per class."""

    label: str
    classes: list[str]
    positive_class: str | None = None
    features: list[Feature]
    examples: dict[str, list[dict[str, Scalar]]] = Field(
        default_factory=dict, description="Real training instances per class."
    )
    display: Display | None = Field(None, description="Names for pages (none: older versions).")
    serving: ServingRules | None = Field(
        None, description="What the API refuses to score (none: older versions, the defaults)."
    )

    def serving_rules(self) -> ServingRules:
        """The version's own serving rules, or the defaults for versions built before them."""
        return self.serving or ServingRules()

    def feature_types(self) -> dict[str, ColumnType]:
        """Feature name -> numeric | categorical, in model order."""
        return {f.name: f.type for f in self.features}

    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]


class ModelFile(Record):
    file: str
    sha256: str
    candidate: str | None = Field(None, description="The candidate training chose.")


class GateDecision(Record):
    """May the challenger replace the champion, and why."""

    decision: Literal["promoted", "rejected"]
    promote: bool = False
    reasons: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, promote: bool, reasons: list[str]) -> GateDecision:
        return cls(decision="promoted" if promote else "rejected", promote=promote, reasons=reasons)

    def refused(self, reason: str) -> GateDecision:
        """The same decision, not promoted after all, with the reason added."""
        return GateDecision.of(False, [*self.reasons, reason])


class Evaluation(Record):
    """The test split's outcome, beside `metrics`."""

    classes: list[str] = Field(default_factory=list)
    confusion: list[list[int]] = Field(default_factory=list, description="Rows: true class.")
    test_rows: int | None = None


class ChampionScore(Record):
    """The champion a version was compared with, scored on the same test split."""

    version: str
    metrics: dict[str, float]


class Candidate(Record):
    name: str
    estimator: str | None = None
    best_params: dict[str, Any] = Field(default_factory=dict)
    cv_score: float | None = None
    cv_std: float | None = None
    grid_size: int | None = None
    seconds: float | None = None


class OperatingPoint(Record):
    """Binary versions: the label is `positive_class` when its probability is at least
    `threshold` (model/operating.py). Chosen on out-of-fold predictions of the training split;
    the `oof_*` figures are those predictions' at it. Versions registered before have none and
    label by the most probable class."""

    positive_class: str
    negative_class: str
    threshold: float = Field(0.5, description="On the positive class's probability.")
    chosen_by: Literal["default", "threshold", "target_recall"] = Field(
        "default",
        description="default: 0.5 (the most probable class); threshold: the config's; "
        "target_recall: the highest threshold reaching the config's target out of fold.",
    )
    target_recall: float | None = None
    calibration: str | None = Field(None, description="How the probabilities were calibrated.")
    oof_rows: int | None = Field(None, description="Training rows predicted out of fold.")
    oof_recall: float | None = None
    oof_precision: float | None = None
    oof_specificity: float | None = None
    oof_false_alarms_per_100: float | None = Field(
        None, description="Negatives labelled positive, per 100 rows."
    )


class Training(Record):
    chosen: str | None = None
    scoring: str | None = None
    calibration: str | None = Field(None, description="none, sigmoid or isotonic.")
    candidates: list[Candidate] = Field(default_factory=list)


class Validation(Record):
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    info: dict[str, Any] = Field(default_factory=dict)


class Cleaning(Record):
    """What clean changed (data/clean.py). `deduplicate` and `rows_sharing_features_kept` are
    absent from versions trained before the rule was configurable (they dropped by features)."""

    rows_in: int | None = None
    rows_out: int | None = None
    dropped_columns: list[str] = Field(default_factory=list)
    dropped_unlabelled_rows: int | None = None
    deduplicate: Literal["records", "features", "none"] | None = Field(
        None, description="The rule duplicates were dropped by (the config's `deduplicate`)."
    )
    dropped_duplicate_rows: int | None = None
    rows_sharing_features_kept: int | None = Field(
        None, description="Rows kept that equal another in every model column and the label."
    )
    values_not_numbers_set_missing: dict[str, int] = Field(default_factory=dict)
    missing_values_left_for_imputation: dict[str, int] = Field(default_factory=dict)


class DataRecord(Record):
    """What validation warned about and what cleaning changed."""

    validation: Validation = Field(default_factory=Validation)
    cleaning: Cleaning = Field(default_factory=Cleaning)


class Lineage(Record):
    data_hash: str | None = None
    snapshot_uri: str | None = None
    pipeline_run: str | None = None
    git_commit: str | None = None
    code_version: str | None = Field(None, description="Hash of the code behind the steps.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="The data-set config.")
    libraries: dict[str, str] = Field(default_factory=dict)


class OnnxAttempt(Record):
    dtype: str
    seconds: float | None = None
    max_abs_diff: float | None = None
    error: str | None = None


class OnnxRecord(Record):
    """The ONNX export: `exported` (served by onnxruntime) or `failed` with the reason (served
    by scikit-learn)."""

    status: Literal["exported", "failed"]
    reason: str | None = None
    file: str | None = None
    sha256: str | None = None
    input: str | None = Field(None, description="The numeric input: (n, numeric_features).")
    input_dtype: str | None = None
    features: list[str] | None = None
    numeric_features: list[str] | None = Field(
        None, description="Fed to `input`, in this order (before text features: `features`)."
    )
    text_input: str | None = Field(None, description="The text input: (n, text_features).")
    text_features: list[str] | None = None
    text_fill: dict[str, str] | None = Field(
        None, description="What the server writes for a missing text value (training's imputer)."
    )
    classes: list[str] | None = None
    max_abs_diff: float | None = None
    tolerance: float | None = None
    rows_checked: int | None = None
    rows_with_missing_values_checked: int | None = None
    attempts: list[OnnxAttempt] = Field(default_factory=list)

    @property
    def exported(self) -> bool:
        return self.status == "exported"

    @property
    def numeric_inputs(self) -> list[str]:
        """The features `input` takes, in order: all of them in records written before text
        features were exported."""
        return self.features or [] if self.numeric_features is None else self.numeric_features


class ModelVersion(Record):
    """One registered version: `models/versions/<version>/metadata.json`."""

    version: str
    created_at: str = Field(description="ISO 8601, UTC.")
    dataset: str | None = None
    model: ModelFile
    feature_schema: FeatureSchema = Field(alias="schema")
    metrics: dict[str, float]
    evaluation: Evaluation = Field(default_factory=Evaluation)
    champion_at_evaluation: ChampionScore | None = None
    gate: GateDecision
    training: Training = Field(default_factory=Training)
    operating_point: OperatingPoint | None = Field(
        None, description="Binary versions: how a probability becomes a label."
    )
    data: DataRecord = Field(default_factory=DataRecord)
    lineage: Lineage
    onnx: OnnxRecord | None = None
    artifacts: list[str] = Field(default_factory=list, description="The version's files.")

    def has(self, name: str) -> bool:
        return name in self.artifacts
