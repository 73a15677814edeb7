"""A version's reference statistics: what its training split looked like, feature by feature.

Stored beside the model as `reference.json` when the version is registered, so that the drift
monitor (model/drift.py) compares live features with training without the training data.
Small by design: per numeric feature the percentiles, mean, std, missing share and the PSI
bins (edges at training quantiles, each bin's share); per categorical feature the share of
each category and of missing values.

Numeric bins are right-closed: (-inf, e0], (e0, e1], ..., (e_last, inf), so a constant
feature still gets two bins (its value, and above it) and ties stay in one bin.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import Field

from mlcycle.config import ColumnType
from mlcycle.model.version import Record

if TYPE_CHECKING:  # readers of a reference (the API, the monitor's report) need no pandas
    import pandas as pd

REFERENCE_FILE = "reference.json"
PERCENTILES = 101  # 0, 1, ..., 100: enough to stand in for the training sample


class NumericReference(Record):
    name: str
    type: Literal["numeric"] = "numeric"
    rows: int = Field(description="Training rows.")
    missing_fraction: float
    mean: float | None = None
    std: float | None = Field(None, description="Sample standard deviation (ddof=1).")
    percentiles: list[float] = Field(
        default_factory=list, description="The 0th to 100th percentile of the non-missing values."
    )
    edges: list[float] = Field(
        default_factory=list, description="Inner bin edges (training quantiles, right-closed)."
    )
    shares: list[float] = Field(
        default_factory=list, description="Each bin's share of the non-missing values."
    )

    def bin_of(self, values: np.ndarray) -> np.ndarray:
        """The bin index of each (non-missing) value: 0 .. len(edges)."""
        return np.searchsorted(np.asarray(self.edges, dtype=float), values, side="left")


class CategoricalReference(Record):
    name: str
    type: Literal["categorical"] = "categorical"
    rows: int
    missing_fraction: float
    shares: dict[str, float] = Field(
        default_factory=dict, description="Each category's share of the non-missing values."
    )


FeatureReference = Annotated[NumericReference | CategoricalReference, Field(discriminator="type")]


class Reference(Record):
    """`models/versions/<version>/reference.json`."""

    created_at: str = Field(description="ISO 8601, UTC.")
    source: str = Field("train split", description="What the statistics were computed on.")
    rows: int
    bins: int = Field(description="Numeric bins asked for (ties can merge some).")
    features: list[FeatureReference]

    def to_json(self) -> dict:
        """Every field, defaults too: `type` tells a reader which kind of feature it holds."""
        return self.model_dump(mode="json")

    def feature(self, name: str) -> NumericReference | CategoricalReference | None:
        return next((f for f in self.features if f.name == name), None)


def _numeric(name: str, column: pd.Series, bins: int) -> NumericReference:
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce").astype("float64")
    present = values.dropna().to_numpy()
    missing = float(values.isna().mean()) if len(values) else 0.0
    if not len(present):
        return NumericReference(name=name, rows=len(values), missing_fraction=missing)
    inner = np.quantile(present, np.arange(1, bins) / bins)
    edges = np.unique(inner)
    ref = NumericReference(
        name=name,
        rows=len(values),
        missing_fraction=missing,
        mean=float(present.mean()),
        std=float(present.std(ddof=1)) if len(present) > 1 else 0.0,
        percentiles=np.quantile(present, np.linspace(0, 1, PERCENTILES)).tolist(),
        edges=edges.tolist(),
    )
    counts = np.bincount(ref.bin_of(present), minlength=len(edges) + 1)
    return ref.model_copy(update={"shares": (counts / len(present)).tolist()})


def _categorical(name: str, column: pd.Series) -> CategoricalReference:
    present = column.dropna().astype(str)
    shares = present.value_counts(normalize=True).sort_index()
    return CategoricalReference(
        name=name,
        rows=len(column),
        missing_fraction=float(column.isna().mean()) if len(column) else 0.0,
        shares={str(k): float(v) for k, v in shares.items()},
    )


def build_reference(train: pd.DataFrame, types: dict[str, ColumnType], bins: int = 10) -> Reference:
    """The reference statistics of `train` (the training split) for the features in `types`."""
    features = [
        _numeric(name, train[name], bins) if kind == "numeric" else _categorical(name, train[name])
        for name, kind in types.items()
    ]
    return Reference(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        rows=len(train),
        bins=bins,
        features=features,
    )
