"""The feature schema: what a model knows about its inputs.

Inferred once from the cleaned data, registered with every model version, and used again to
validate new uploads, to build the API's request checks and the UI's form.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mlcycle.config import ColumnType, DatasetConfig
from mlcycle.data.categories import category_text

EXAMPLES_PER_CLASS = 3
# A column whose non-missing values are at least this share numbers is numeric; the rest of
# its values are then errors, not categories.
NUMERIC_SHARE = 0.9


def infer_type(series: pd.Series) -> ColumnType:
    """numeric or categorical, from the values themselves."""
    if pd.api.types.is_bool_dtype(series):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    values = series.dropna()
    if values.empty:
        return "numeric"
    parsed = pd.to_numeric(values, errors="coerce")
    return "numeric" if parsed.notna().mean() >= NUMERIC_SHARE else "categorical"


def feature_columns(columns: list[str], config: DatasetConfig) -> list[str]:
    """Every column that is neither the label nor dropped, in file order."""
    return [c for c in columns if c != config.label and c not in config.drop_columns]


def feature_types(
    frame: pd.DataFrame, config: DatasetConfig, champion: dict[str, Any] | None = None
) -> dict[str, ColumnType]:
    """Types by column: the config's overrides, then the champion's, then inferred."""
    known = {f["name"]: f["type"] for f in champion["features"]} if champion else {}
    return {
        c: config.column_types.get(c) or known.get(c) or infer_type(frame[c])
        for c in feature_columns(list(frame.columns), config)
    }


def _plain(value: Any) -> Any:
    """A JSON-safe Python scalar (NaN becomes None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def build_feature_schema(
    frame: pd.DataFrame, types: dict[str, ColumnType], config: DatasetConfig
) -> dict[str, Any]:
    """Names, types, observed ranges and medians (and the config's declared bounds), and a few
    real rows per class.

    Built from the whole cleaned table (train and test), so that later uploads are checked
    against every value the version was built from.
    """
    features = []
    for name, kind in types.items():
        column = frame[name]
        entry: dict[str, Any] = {
            "name": name,
            "type": kind,
            "missing_fraction": round(float(column.isna().mean()), 6),
        }
        if kind == "numeric":
            entry |= {
                "min": _plain(column.min()),
                "max": _plain(column.max()),
                "median": _plain(column.median()),
                "integer": bool((column.dropna() % 1 == 0).all()),
            }
            if bounds := config.validation.bounds_for(name):  # what no value may ever cross
                entry["bounds"] = bounds.model_dump()
        else:
            counts = column.dropna().astype(str).value_counts()
            entry |= {
                "categories": sorted(counts.index.tolist()),
                "mode": counts.index[0] if len(counts) else None,
            }
        features.append(entry)
    classes = sorted(frame[config.label].astype(str).unique().tolist())
    examples = {}
    for cls in classes:
        rows = frame[frame[config.label].astype(str) == cls]
        picked = rows.sample(min(EXAMPLES_PER_CLASS, len(rows)), random_state=config.seed)
        examples[cls] = [
            {k: _plain(v) for k, v in row.items()} for row in picked[list(types)].to_dict("records")
        ]
    return {
        "label": config.label,
        "classes": classes,
        "positive_class": config.positive_class,
        "features": features,
        "examples": examples,
        "display": display_names(config, classes),
        "serving": config.serving.model_dump(),
    }


def display_names(config: DatasetConfig, classes: list[str]) -> dict[str, Any]:
    """The config's display words with its defaults filled in, for every class: readers of a
    version never need the config to name things."""
    display = config.display
    return {
        "classes": {c: display.classes.get(c, c) for c in classes},
        "predicts": display.predicts or config.label,
        "disclaimer": display.disclaimer,
    }


def coerce_features(
    frame: pd.DataFrame, types: dict[str, str]
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Numeric columns as floats, categorical as text (`category_text`: 12345.0 is "12345",
    as in a file without the gap that made pandas read floats); returns the values that were
    not numbers."""
    out = frame.copy()
    bad: dict[str, pd.Series] = {}
    for name, kind in types.items():
        raw = out[name]
        if kind == "numeric":
            parsed = pd.to_numeric(raw, errors="coerce").astype("float64")
            wrong = raw.notna() & parsed.isna()
            if wrong.any():
                bad[name] = raw[wrong]
            out[name] = parsed
        else:
            out[name] = category_column(raw).astype(object)
    return out, bad


def category_column(raw: pd.Series) -> pd.Series:
    """A categorical column as text (`category_text`); missing values stay as they are."""
    return raw.map(lambda v: v if pd.isna(v) else category_text(v))


def label_column(raw: pd.Series) -> pd.Series:
    """The label as class names: spelt as `category_text` spells a code (a 0/1 column with
    unlabelled rows, read as 0.0/1.0, has classes 0 and 1), without surrounding spaces
    ("yes " is yes); a blank label is a missing one."""
    return raw.map(lambda v: v if pd.isna(v) else (category_text(v).strip() or None))
