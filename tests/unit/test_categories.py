"""A categorical value is one text in training and serving, whatever type carried it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcycle.data.categories import as_trained, boolean_cells, category_text
from mlcycle.data.schema import coerce_features
from mlcycle.model.candidates import prepare_features


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "True"),
        (np.bool_(False), "False"),
        (12345, "12345"),
        (np.int64(7), "7"),
        (12345.0, "12345"),  # a code column with a gap, as pandas reads it
        (np.float64(3.0), "3"),
        (2.5, "2.5"),
        ("007", "007"),  # text keeps its zeros
        ("red", "red"),
    ],
)
def test_category_text(value: object, text: str) -> None:
    assert category_text(value) == text


def test_a_code_column_with_a_gap_reads_as_the_codes() -> None:
    frame = pd.DataFrame({"shop": [12345.0, np.nan, 678.0], "member": [True, False, True]})
    types = {"shop": "categorical", "member": "categorical"}
    coerced, bad = coerce_features(frame, types)
    assert not bad
    assert coerced["shop"].tolist()[::2] == ["12345", "678"] and pd.isna(coerced["shop"][1])
    assert coerced["member"].tolist() == ["True", "False", "True"]
    prepared = prepare_features(frame, types)
    assert prepared["shop"].tolist()[::2] == ["12345", "678"] and pd.isna(prepared["shop"][1])


def test_boolean_cells_are_those_of_a_true_false_column() -> None:
    assert boolean_cells(["False", "True"]) and boolean_cells(["True"])
    assert not boolean_cells(["False", "True", "maybe"]) and not boolean_cells(None)
    assert as_trained(["true", "FALSE", None, "maybe"], ["False", "True"]) == [
        "True",
        "False",
        None,
        "maybe",
    ]
    assert as_trained(["true"], ["true", "yes"]) == ["true"]  # not a true/false column
