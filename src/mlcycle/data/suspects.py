"""Suspect columns: features whose inferred type is likely not what the file means.

Numbers written with thousands separators read as text, an id left in as text or as a count
of the rows: each is a valid column, so these are warnings, and a column_types declaration
(the caller leaves declared columns out) says the column is meant as it is.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlcycle.data.report import Issue, examples_of
from mlcycle.data.schema import NUMERIC_SHARE

MIN_VALUES = 20  # fewer values say too little to suspect anything
UNIQUE_SHARE = 0.9  # text this nearly all distinct: a category seen once teaches nothing


def suspect_columns(frame: pd.DataFrame, types: dict[str, str]) -> list[Issue]:
    """A warning for each column of `types` (inferred, coerced in `frame`) that looks like
    numbers as text, an id or free text, or a row counter."""
    issues = []
    for column, kind in types.items():
        issue = _text_suspect(frame[column]) if kind == "categorical" else _row_id(frame[column])
        if issue:
            issues.append(Issue(column=column, **issue))
    return issues


def _text_suspect(column: pd.Series) -> dict[str, Any] | None:
    values = column.dropna().astype(str)
    if values.empty:
        return None
    commas = values.str.contains(",", regex=False)
    plain = pd.to_numeric(values.str.replace(",", "", regex=False).str.strip(), errors="coerce")
    if commas.any() and plain.notna().mean() >= NUMERIC_SHARE:
        return {
            "rule": "numbers_as_text",
            "count": int(commas.sum()),
            "examples": examples_of(values[commas]),
            "message": "numbers written with thousands separators (1,234.5) are read as text, "
            "each value a category of its own: save the file without the separators (or, if "
            "it is text, declare it categorical under column_types)",
        }
    distinct = values.nunique()
    if len(values) >= MIN_VALUES and distinct >= UNIQUE_SHARE * len(values):
        return {
            "rule": "mostly_unique_text",
            "count": int(distinct),
            "unit": "distinct value",
            "examples": examples_of(values),
            "message": f"{distinct} distinct values in {len(values)} rows: a category seen once "
            "teaches the model nothing. An id or free text? List it under drop_columns, or "
            "declare it categorical under column_types to keep it",
        }
    return None


def _row_id(values: pd.Series) -> dict[str, Any] | None:
    """Whole numbers, each once, rising in file order: a model would learn the export's order."""
    if len(values) < MIN_VALUES or values.isna().any() or (values % 1 != 0).any():
        return None
    if not (values.is_monotonic_increasing and values.is_unique):
        return None
    return {
        "rule": "row_id",
        "message": f"whole numbers from {values.iloc[0]:.0f} to {values.iloc[-1]:.0f}, each "
        "once and rising in file order: a row id? A model would learn the order of the export; "
        "list it under drop_columns, or declare it numeric under column_types to keep it",
    }
