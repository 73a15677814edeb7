"""Inputs a model has never seen: what is answered with a warning, and what is refused.

A numeric value outside the range seen in training is answered, with a warning naming the
feature, the value and the range; so is an instance with features missing (they are imputed,
and the warning counts them), and a categorical value never seen in training (the model's
encoder reads it as none of the categories it knows: answered, with its feature and value
named). Refused: a value further outside the range than the version's
`serving.range_tolerance` times the range's width, a value across a bound the config declares
(e.g. a size below 0), and an instance with more than `serving.max_missing_fraction` of its
features missing. A model extrapolates without saying so: these are the cases where its answer
would be a confident number about nothing it learnt.

Pure numpy over one `FeatureBatch`, a few whole-array comparisons per request (and one set
look-up per categorical value, in C): only the rows that have something to say (a warning or
a refusal) are visited one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, Field
from pydantic_core import to_json

from mlcycle.model.predict import FeatureBatch
from mlcycle.model.version import Feature, FeatureSchema

# Whatever the tolerance, a number more than this many ranges outside the training range is
# refused: extreme enough values make a model's arithmetic overflow (the fuzzer found
# probabilities of NaN for values near float32's limit). Within these limits every model here
# computes finite probabilities.
RANGE_FACTOR = 1e6
UNSEEN_LIMIT = 1e12  # a feature never observed: still finite in float32 arithmetic


class OutOfRange(BaseModel):
    """One feature of an instance outside the range seen in training."""

    feature: str
    value: float
    min: float = Field(description="The smallest value seen in training.")
    max: float = Field(description="The largest value seen in training.")


class UnseenCategory(BaseModel):
    """One categorical feature of an instance with a value never seen in training."""

    feature: str
    value: str = Field(description="The value sent; not among the feature's categories.")


class InputWarnings(BaseModel):
    """What the model did not see in training, for one instance."""

    out_of_range: list[OutOfRange] = Field(
        default_factory=list, description="Features outside their training range."
    )
    imputed: int = Field(0, description="Features missing (null), imputed as in training.")
    unseen_category: list[UnseenCategory] = Field(
        default_factory=list,
        description="Categorical features whose value was never seen in training (the "
        "schema's `categories`): answered, the model reading the value as none of the "
        "categories it knows. A missing value (null) is imputed, not unseen.",
    )


class Problem(NamedTuple):
    """One refused value or instance: the API's error entry (`instance` counts from 0)."""

    instance: int
    field: str
    type: str
    message: str


def _width(feature: Feature) -> float:
    """The training range's width; a feature seen with one value gets that value's size (at
    least 1), so a constant feature does not refuse every other value."""
    low, high = float(feature.min), float(feature.max)  # type: ignore[arg-type]
    return high - low if high > low else max(abs(high), 1.0)


def hard_limits(feature: Feature) -> tuple[float, float]:
    """The values no request may carry, whatever the rules: far enough out to overflow."""
    if feature.min is None or feature.max is None:
        return -UNSEEN_LIMIT, UNSEEN_LIMIT
    span = max(float(feature.max) - float(feature.min), abs(feature.median or 0.0), 1.0)
    return feature.min - RANGE_FACTOR * span, feature.max + RANGE_FACTOR * span


def _only_imputed(count: int) -> dict[str, Any]:
    return {"out_of_range": [], "imputed": count, "unseen_category": []}


@dataclass(frozen=True)
class InputCheck:
    """The outcome for a batch: refusals, or every row's count of imputed features and the
    out-of-range and unseen-category entries of the rows that have any."""

    problems: list[Problem]
    imputed: np.ndarray  # (n,) int
    outside: dict[int, list[dict[str, Any]]]  # row -> OutOfRange entries, as dicts
    unseen: dict[int, list[dict[str, Any]]]  # row -> UnseenCategory entries, as dicts
    # Rows with only imputed features share one dict (and one JSON text) per count: made once
    # per model, indexed by the counts, with no work per row.
    by_count: np.ndarray  # object: count -> InputWarnings dict (shared: never mutate)
    text_by_count: np.ndarray  # object: count -> its JSON text (None for 0)

    def _noted(self) -> dict[int, dict[str, Any]]:
        """The warnings of the rows with an out-of-range or unseen value (InputWarnings)."""
        return {
            row: {
                "out_of_range": self.outside.get(row, []),
                "imputed": int(self.imputed[row]),
                "unseen_category": self.unseen.get(row, []),
            }
            for row in self.outside.keys() | self.unseen.keys()
        }

    def warnings(self) -> list[dict[str, Any]]:
        """Every row's warnings (InputWarnings as dicts), in order."""
        rows = self.by_count[self.imputed].tolist()
        for row, warnings in self._noted().items():
            rows[row] = warnings
        return rows

    def warnings_text(self) -> np.ndarray:
        """Every row's warnings as JSON text, None for rows with none (a table's column)."""
        column = self.text_by_count[self.imputed]
        for row, warnings in self._noted().items():
            column[row] = to_json(warnings).decode()
        return column


class InputRules:
    """A version's checks, as arrays over its numeric features (built once per loaded model)."""

    def __init__(self, schema: FeatureSchema) -> None:
        rules = schema.serving_rules()
        self.tolerance = rules.range_tolerance
        self.max_missing_fraction = rules.max_missing_fraction
        self.feature_count = len(schema.features)
        # More than this many missing features is refused: an empty form always is, unless
        # the fraction is 1.
        self.max_missing = int(np.floor(rules.max_missing_fraction * self.feature_count + 1e-9))
        numeric = [f for f in schema.features if f.type == "numeric"]
        self.names = [f.name for f in numeric]
        self.ranges = [(f.min, f.max) for f in numeric]  # as stored, for the warnings
        limits = np.array([self._limits(f) for f in numeric], dtype=float).reshape(-1, 6)
        self.low, self.high, self.far_low, self.far_high, bound_low, bound_high = limits.T
        self.bound_low, self.bound_high = bound_low, bound_high
        # What one comparison on the hot path accepts: within both the tolerance and the bounds.
        self.accept_low = np.maximum(self.far_low, bound_low)
        self.accept_high = np.minimum(self.far_high, bound_high)
        # The categories training saw, per categorical feature (by its column in
        # FeatureBatch.categorical, schema order); a feature with none recorded is not checked.
        text = [f for f in schema.features if f.type != "numeric"]
        self.known = [
            (j, f.name, frozenset(f.categories))
            for j, f in enumerate(text)
            if f.categories is not None
        ]
        counts = range(self.feature_count + 1)
        self.by_count = np.array([_only_imputed(k) for k in counts], dtype=object)
        self.text_by_count = np.array(
            [to_json(_only_imputed(k)).decode() if k else None for k in counts], dtype=object
        )

    def _limits(self, feature: Feature) -> tuple[float, ...]:
        """Training min and max (NaN if never seen), the tolerance's limits (within the hard
        limits) and the declared bounds (infinite if none) of a numeric feature."""
        hard_low, hard_high = hard_limits(feature)
        bounds = feature.bounds
        bound_low = bounds.min if bounds and bounds.min is not None else -np.inf
        bound_high = bounds.max if bounds and bounds.max is not None else np.inf
        if feature.min is None or feature.max is None:
            return np.nan, np.nan, hard_low, hard_high, bound_low, bound_high
        margin = self.tolerance * _width(feature)
        far_low = max(feature.min - margin, hard_low)
        far_high = min(feature.max + margin, hard_high)
        return feature.min, feature.max, far_low, far_high, bound_low, bound_high

    def check(self, batch: FeatureBatch) -> InputCheck:
        """Refusals and warnings for `batch`, whose numbers are finite or NaN (missing)."""
        values = batch.numeric
        missing = np.isnan(values).sum(axis=1)
        absent = np.equal(batch.categorical, None)  # (n, k) missing text values
        if batch.categorical_names:
            missing = missing + absent.sum(axis=1)
        with np.errstate(invalid="ignore"):  # NaN compares False: a missing value is neither
            outside = (values < self.low) | (values > self.high)
            refused = (values < self.accept_low) | (values > self.accept_high)
        too_many_missing = missing > self.max_missing
        if refused.any() or too_many_missing.any():
            problems = self._problems(values, refused, missing, too_many_missing)
            return InputCheck(problems, missing, {}, {}, self.by_count, self.text_by_count)
        outside_rows = np.flatnonzero(outside.any(axis=1)).tolist()
        entries = {
            row: [
                {
                    "feature": self.names[j],
                    "value": float(values[row, j]),
                    "min": self.ranges[j][0],
                    "max": self.ranges[j][1],
                }
                for j in np.flatnonzero(outside[row]).tolist()
            ]
            for row in outside_rows
        }
        unseen = self._unseen(batch.categorical, absent)
        return InputCheck([], missing, entries, unseen, self.by_count, self.text_by_count)

    def _unseen(self, values: np.ndarray, absent: np.ndarray) -> dict[int, list[dict[str, Any]]]:
        """Row -> its categorical values never seen in training, in schema order."""
        found: dict[int, list[dict[str, Any]]] = {}
        for j, name, known in self.known:
            column = values[:, j]
            # One hash look-up per value, in C (no Python code per row): np.isin on objects
            # compares every value with every category, 10-300x slower at 80 to 1000 categories.
            seen = np.fromiter(map(known.__contains__, column), bool, len(column))
            for row in np.flatnonzero(~(seen | absent[:, j])).tolist():
                found.setdefault(row, []).append({"feature": name, "value": column[row]})
        return found

    def _problems(
        self,
        values: np.ndarray,
        refused: np.ndarray,
        missing: np.ndarray,
        too_many_missing: np.ndarray,
    ) -> list[Problem]:
        found = [self._refusal(row, j, float(values[row, j])) for row, j in zip(
            *np.nonzero(refused), strict=True)]  # fmt: skip
        for row in np.flatnonzero(too_many_missing).tolist():
            message = (
                f"{int(missing[row])} of {self.feature_count} features are missing; at most "
                f"{self.max_missing} may be (serving.max_missing_fraction "
                f"{self.max_missing_fraction:g}): too little is known to predict"
            )
            found.append(Problem(row, "instances", "too_many_missing", message))
        return sorted(found, key=lambda p: p.instance)  # stable: fields keep schema order

    def _refusal(self, row: int, j: int, value: float) -> Problem:
        name = self.names[j]
        if value < self.bound_low[j]:
            message = f"{value:g} is below {self.bound_low[j]:g}, the least {name} can be"
            return Problem(int(row), name, "below_bound", message + " (the config's bounds)")
        if value > self.bound_high[j]:
            message = f"{value:g} is above {self.bound_high[j]:g}, the most {name} can be"
            return Problem(int(row), name, "above_bound", message + " (the config's bounds)")
        low, high = self.ranges[j]
        if low is None or high is None:  # never observed in training: only the hard limits
            message = f"{value:g} is beyond what any model here can compute with"
            return Problem(int(row), name, "out_of_range", message)
        message = (
            f"{value:g} is too far outside the training range ({low:g} to {high:g}) to "
            f"predict from: accepted {self.accept_low[j]:g} to {self.accept_high[j]:g} "
            f"(serving.range_tolerance {self.tolerance:g} x the range's width)"
        )
        return Problem(int(row), name, "out_of_range", message)
