"""A categorical value is one text in training and serving, whatever type carried it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcycle.data.categories import as_trained, boolean_cells, category_text
from mlcycle.data.ingest import parse_file
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


def test_a_declared_categorical_column_is_read_as_written() -> None:
    """Codes keep their zeros; true/false and a float writer's 12345.0 are spelt as pandas
    reads them in an undeclared column, so declaring a column changes nothing else."""
    data = b"zip,flag,shop,x,y\n00712,true,12345.0,00712,p\n,FALSE,,1.5,q\n02134,False,678.0,3,p\n"
    declared = parse_file("a.csv", data, text_columns=["zip", "flag", "shop"])
    assert declared["zip"].tolist()[::2] == ["00712", "02134"] and pd.isna(declared["zip"][1])
    assert declared["flag"].tolist() == ["True", "False", "False"]
    assert declared["shop"].tolist()[::2] == ["12345", "678"]
    assert declared["x"].tolist() == [712.0, 1.5, 3.0]  # not declared: a number
    plain, _ = coerce_features(
        parse_file("a.csv", data), dict.fromkeys(["flag", "shop"], "categorical")
    )
    assert plain["flag"].tolist() == declared["flag"].tolist()
    assert plain["shop"].tolist()[::2] == declared["shop"].tolist()[::2]


def test_a_declared_column_of_other_text_is_kept_as_written() -> None:
    frame = parse_file("a.csv", b"c,y\ntrue,p\nmaybe,q\n-3.00,p\n1.50,q\n", text_columns=["c"])
    assert frame["c"].tolist() == ["true", "maybe", "-3", "1.50"]
