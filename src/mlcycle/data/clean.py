"""Clean: keep the model's columns, coerce types, drop unlabelled and duplicate rows."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlcycle.config import ColumnType, DatasetConfig
from mlcycle.data.schema import coerce_features


def clean(
    frame: pd.DataFrame, config: DatasetConfig, types: dict[str, ColumnType]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The training table and a record of every change made to get it.

    Missing feature values stay missing: the model imputes them with statistics learned on
    the training split only, the same way at serving time.
    """
    features = list(types)
    dropped_columns = [c for c in frame.columns if c not in features and c != config.label]
    out, not_numbers = coerce_features(frame[[*features, config.label]], types)
    out[config.label] = out[config.label].map(lambda v: v if pd.isna(v) else str(v))

    unlabelled = out[config.label].isna()
    out = out[~unlabelled]
    duplicated = out.duplicated()
    out = out[~duplicated].reset_index(drop=True)
    out[config.label] = out[config.label].astype(str)

    changes = {
        "rows_in": len(frame),
        "rows_out": len(out),
        "dropped_columns": dropped_columns,
        "dropped_unlabelled_rows": int(unlabelled.sum()),
        "dropped_duplicate_rows": int(duplicated.sum()),
        "values_not_numbers_set_missing": {k: len(v) for k, v in not_numbers.items()},
        "missing_values_left_for_imputation": {
            c: int(n) for c, n in out[features].isna().sum().items() if n
        },
    }
    return out, changes
