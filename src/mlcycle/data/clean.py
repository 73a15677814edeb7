"""Clean: keep the model's columns, coerce types, drop unlabelled and duplicate rows."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlcycle.config import ColumnType, DatasetConfig
from mlcycle.data.schema import coerce_features, label_column


def clean(
    frame: pd.DataFrame, config: DatasetConfig, types: dict[str, ColumnType]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The training table and a record of every change made to get it.

    `frame` is the whole snapshot, id and drop columns included: under `deduplicate: records`
    a duplicate is the same record twice, equal in the ids, every feature and the label as
    read. Rows that only share the features and label are distinct records (discrete
    measurements collide) and are kept; `rows_sharing_features_kept` counts them.

    Missing feature values stay missing: the model imputes them with statistics learned on
    the training split only, the same way at serving time.
    """
    features = list(types)
    dropped_columns = [c for c in frame.columns if c not in features and c != config.label]
    out, not_numbers = coerce_features(frame[[*features, config.label]], types)
    out[config.label] = label_column(out[config.label])

    unlabelled = out[config.label].isna()
    out = out[~unlabelled]
    # A record is what the config knows of a row: ids (drop_columns), features and label.
    # Columns it does not know were dropped as unknown by validate; one file carrying an
    # extra column must not make its rows new records.
    record = [c for c in frame.columns if c in config.drop_columns or c in out.columns]
    duplicated = _duplicated(frame.loc[~unlabelled, record], out, config.deduplicate)
    out = out[~duplicated].reset_index(drop=True)
    out[config.label] = out[config.label].astype(str)

    changes = {
        "rows_in": len(frame),
        "rows_out": len(out),
        "dropped_columns": dropped_columns,
        "dropped_unlabelled_rows": int(unlabelled.sum()),
        "deduplicate": config.deduplicate,
        "dropped_duplicate_rows": int(duplicated.sum()),
        "rows_sharing_features_kept": int(out.duplicated().sum()),
        "values_not_numbers_set_missing": {k: len(v) for k, v in not_numbers.items()},
        "missing_values_left_for_imputation": {
            c: int(n) for c, n in out[features].isna().sum().items() if n
        },
    }
    return out, changes


def _duplicated(raw: pd.DataFrame, model_columns: pd.DataFrame, rule: str) -> pd.Series:
    """Rows to drop as repeats of an earlier row, by the config's rule."""
    if rule == "records":  # ids included: two patients may share every measurement
        return raw.duplicated()
    if rule == "features":  # the model's columns and the label, as coerced
        return model_columns.duplicated()
    return pd.Series(False, index=model_columns.index)
