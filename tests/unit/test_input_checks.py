"""The serving rules on small schemas made here: what is warned about, what is refused, and the
edge cases (a constant feature, one never observed, text features missing or never seen, a
fraction of 1)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlcycle.model.input_checks import InputRules, InputWarnings
from mlcycle.model.predict import FeatureBatch
from mlcycle.model.version import FeatureSchema


def schema(serving: dict | None = None, **extra: dict) -> FeatureSchema:
    features = [
        {"name": "size", "type": "numeric", "min": 2.0, "max": 6.0, "median": 4.0,
         "bounds": {"min": 0.0, "max": None}},
        {"name": "ratio", "type": "numeric", "min": 0.1, "max": 0.3, "median": 0.2,
         "bounds": {"min": 0.0, "max": 1.0}},
        {"name": "constant", "type": "numeric", "min": 5, "max": 5, "median": 5},
        {"name": "unseen", "type": "numeric", "min": None, "max": None, "median": None},
        {"name": "colour", "type": "categorical", "categories": ["red", "blue"], "mode": "red"},
    ]  # fmt: skip
    body = {"label": "y", "classes": ["a", "b"], "features": features, **extra}
    if serving is not None:
        body["serving"] = serving
    return FeatureSchema.model_validate(body)


NUMERIC = ["size", "ratio", "constant", "unseen"]
NONE = {"out_of_range": [], "imputed": 0, "unseen_category": []}


def batch(rows: list[list[float]], colours: list[str | None] | None = None) -> FeatureBatch:
    colours = colours if colours is not None else ["red"] * len(rows)
    return FeatureBatch(
        NUMERIC, np.array(rows, dtype=float), ["colour"], np.array([[c] for c in colours], object)
    )


GOOD = [4.0, 0.2, 5.0, 1.0]


def test_rows_within_range_have_no_warnings_and_none_are_visited() -> None:
    checked = InputRules(schema()).check(batch([GOOD] * 3))
    assert checked.problems == [] and checked.outside == {} and checked.unseen == {}
    assert checked.warnings() == [NONE] * 3
    assert checked.warnings_text().tolist() == [None, None, None]


def test_outside_the_range_is_a_warning_naming_feature_value_and_range() -> None:
    rows = [GOOD, [6.5, 0.05, 5.0, 1.0], [np.nan, 0.2, 5.0, 1.0]]
    checked = InputRules(schema()).check(batch(rows, ["red", "blue", None]))
    assert checked.problems == []
    warnings = checked.warnings()
    assert warnings[1] == {
        "out_of_range": [
            {"feature": "size", "value": 6.5, "min": 2.0, "max": 6.0},
            {"feature": "ratio", "value": 0.05, "min": 0.1, "max": 0.3},
        ],
        "imputed": 0,
        "unseen_category": [],
    }
    assert warnings[2] == {**NONE, "imputed": 2}  # a number and a text missing
    for w in warnings:
        InputWarnings.model_validate(w)  # the type the API documents
    text = checked.warnings_text()
    assert text[0] is None and text[2] == '{"out_of_range":[],"imputed":2,"unseen_category":[]}'


def test_a_category_never_seen_is_a_warning_naming_feature_and_value() -> None:
    rows = [GOOD, GOOD, GOOD, [6.5, 0.2, 5.0, 1.0], GOOD]
    colours = ["blue", "purple", None, "Red", "red"]  # categories compare exactly, case too
    checked = InputRules(schema()).check(batch(rows, colours))
    assert checked.problems == [] and sorted(checked.unseen) == [1, 3]
    warnings = checked.warnings()
    assert warnings[0] == warnings[4] == NONE  # a known category
    assert warnings[1] == {**NONE, "unseen_category": [{"feature": "colour", "value": "purple"}]}
    assert warnings[2] == {**NONE, "imputed": 1}  # missing: imputed, not unseen
    assert warnings[3] == {  # out of range and unseen on one row: both named
        "out_of_range": [{"feature": "size", "value": 6.5, "min": 2.0, "max": 6.0}],
        "imputed": 0,
        "unseen_category": [{"feature": "colour", "value": "Red"}],
    }
    for w in warnings:
        InputWarnings.model_validate(w)
    text = checked.warnings_text()
    assert [text[0], text[4]] == [None, None]
    assert text[1] == (
        '{"out_of_range":[],"imputed":0,"unseen_category":[{"feature":"colour","value":"purple"}]}'
    )
    assert [json.loads(t) for t in text[1:4]] == warnings[1:4]


def test_a_text_feature_without_recorded_categories_is_not_checked() -> None:
    features = [
        {"name": "size", "type": "numeric", "min": 2.0, "max": 6.0, "median": 4.0},
        {"name": "note", "type": "categorical"},
        {"name": "shape", "type": "categorical", "categories": ["round"]},
    ]
    rules = InputRules(FeatureSchema(label="y", classes=["a", "b"], features=features))
    rows = FeatureBatch(
        ["size"], np.array([[4.0], [4.0]]), ["note", "shape"],
        np.array([["anything", "round"], ["else", "square"]], object),
    )  # fmt: skip
    assert rules.check(rows).unseen == {1: [{"feature": "shape", "value": "square"}]}


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        (0, -0.5, "below_bound"),  # size >= 0 declared
        (1, 1.2, "above_bound"),  # ratio <= 1 declared
        (0, 10.01, "out_of_range"),  # 6 + 1 x width 4 = 10
        (1, 0.5 + 1e-9, "out_of_range"),  # 0.3 + 0.2 = 0.5
        (2, 10.5, "out_of_range"),  # a constant 5: a width of 5, so up to 10
        (3, 1e13, "out_of_range"),  # never observed: only the hard limits
    ],
)
def test_refusals_name_the_row_the_field_and_why(column: int, value: float, kind: str) -> None:
    bad = list(GOOD)
    bad[column] = value
    checked = InputRules(schema()).check(batch([GOOD, bad]))
    assert [(p.instance, p.field, p.type) for p in checked.problems] == [(1, NUMERIC[column], kind)]


def test_just_within_the_tolerance_is_answered() -> None:
    rows = [[10.0, 0.5, 10.0, 1e11], [0.0, 0.0, 0.0, -1e11]]
    checked = InputRules(schema()).check(batch(rows))
    assert checked.problems == []
    assert [len(w["out_of_range"]) for w in checked.warnings()] == [3, 3]


def test_the_tolerance_and_missing_fraction_come_from_the_version() -> None:
    strict = InputRules(schema({"range_tolerance": 0.1, "max_missing_fraction": 0.2}))
    assert [p.type for p in strict.check(batch([[6.5, 0.2, 5.0, 1.0]])).problems] == [
        "out_of_range"
    ]
    one_missing = batch([[np.nan, 0.2, 5.0, 1.0]])
    assert strict.check(one_missing).problems == []  # 1 of 5 <= 0.2
    two_missing = batch([[np.nan, 0.2, 5.0, 1.0]], [None])
    assert [p.type for p in strict.check(two_missing).problems] == ["too_many_missing"]


def test_an_instance_mostly_missing_is_refused_unless_the_fraction_is_one() -> None:
    empty = batch([[np.nan] * 4, GOOD], [None, "red"])
    problems = InputRules(schema()).check(empty).problems
    assert [(p.instance, p.field, p.type) for p in problems] == [
        (0, "instances", "too_many_missing")
    ]
    assert problems[0].message.startswith("5 of 5 features are missing; at most 2 may be")
    lenient = InputRules(schema({"range_tolerance": 1.0, "max_missing_fraction": 1.0}))
    assert lenient.check(empty).warnings()[0] == {**NONE, "imputed": 5}


def test_a_schema_without_rules_gets_the_defaults() -> None:
    rules = InputRules(schema())
    assert (rules.tolerance, rules.max_missing_fraction) == (1.0, 0.5)
