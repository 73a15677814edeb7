"""Validation rules, each against the breast-cancer data and a champion's feature schema."""

import numpy as np
import pandas as pd
import pytest

from mlcycle.config import Bounds, DatasetConfig
from mlcycle.data.schema import build_feature_schema, feature_types
from mlcycle.data.validate import validate


@pytest.fixture(scope="module")
def champion_schema(bc_frame: pd.DataFrame, config: DatasetConfig) -> dict:
    frame = bc_frame.drop(columns=["id"])
    return build_feature_schema(frame, feature_types(frame, config), config)


def _check(frame: pd.DataFrame, config: DatasetConfig, champion: dict | None = None):
    return validate(frame, {"new.csv": list(frame.columns)}, config, champion)


def _rules(issues) -> set[str]:
    return {i.rule for i in issues}


def test_clean_data_passes(bc_frame, config, champion_schema) -> None:
    report = _check(bc_frame, config, champion_schema)
    assert report.passed, report.render()
    assert report.info["types"]["mean_radius"] == "numeric"
    assert report.info["class_counts"] == {"benign": 357, "malignant": 212}


def test_missing_feature_column_is_named(bc_frame, config, champion_schema) -> None:
    report = _check(bc_frame.drop(columns=["mean_radius"]), config, champion_schema)
    [issue] = report.errors
    assert (issue.rule, issue.column, issue.file) == ("missing_column", "mean_radius", "new.csv")
    renamed = bc_frame.rename(columns={"mean_radius": "Mean Radius", "mean_area": "area"})
    [issue] = _check(renamed, config, champion_schema).errors
    assert issue.message.endswith(
        "missing: mean_radius (did you mean 'Mean Radius'?), mean_area (did you mean 'area'?)"
    )


def test_missing_label_column(bc_frame, config, champion_schema) -> None:
    """In no file and no champion yet: the config's label is wrong, and no file is blamed.
    Against a champion, or missing from one file of several, the file is at fault."""
    renamed = bc_frame.rename(columns={"diagnosis": "Diagnosis"})
    [issue] = _check(renamed, config).errors
    assert issue.rule == "label" and issue.file is None
    assert "'diagnosis' is a column of no file (did you mean 'Diagnosis'?)" in issue.message
    [issue] = _check(renamed, config, champion_schema).errors
    assert issue.rule == "missing_label" and issue.file == "new.csv"
    assert "did you mean 'Diagnosis'?" in issue.message
    columns = {"a.csv": list(bc_frame.columns), "b.csv": list(renamed.columns)}
    frame = pd.concat([bc_frame, renamed], ignore_index=True)
    report = validate(frame, columns, config)
    assert [(i.rule, i.file) for i in report.errors] == [("missing_label", "b.csv")]


def test_unknown_columns_warn_and_are_dropped(bc_frame, config, champion_schema) -> None:
    report = _check(bc_frame.assign(notes="x"), config, champion_schema)
    assert report.passed
    assert [(w.rule, w.column) for w in report.warnings] == [("unknown_column", "notes")]
    assert report.info["dropped_columns"] == ["notes"]
    assert "notes" not in report.info["types"]


def test_text_in_a_numeric_column(bc_frame, config, champion_schema) -> None:
    frame = bc_frame.astype({"mean_area": object})
    frame.loc[[3, 7], "mean_area"] = ["big", "n/a?"]
    report = _check(frame, config, champion_schema)
    [issue] = report.errors
    assert (issue.rule, issue.column, issue.count) == ("wrong_type", "mean_area", 2)
    assert issue.examples == ["big", "n/a?"]


def test_all_missing_column(bc_frame, config, champion_schema) -> None:
    report = _check(bc_frame.assign(mean_texture=np.nan), config, champion_schema)
    assert [(i.rule, i.column) for i in report.errors] == [("not_all_missing", "mean_texture")]


def test_single_class(bc_frame, config) -> None:
    report = _check(bc_frame[bc_frame.diagnosis == "benign"], config)
    assert "single_class" in _rules(report.errors)


def test_too_few_rows_of_a_class(bc_frame, config) -> None:
    frame = pd.concat([bc_frame[bc_frame.diagnosis == "benign"], bc_frame.head(3)])
    report = _check(frame[frame.diagnosis.isin(["benign", "malignant"])], config)
    assert "too_few_rows" in _rules(report.errors)


def test_a_measured_label_says_it_is_no_classes(bc_frame, config) -> None:
    """A regression target: hundreds of classes of one row each. The error names a few and
    says what the label is, rather than listing every value."""
    frame = bc_frame.assign(diagnosis=bc_frame["mean_area"].round(1))
    report = _check(frame, config.model_copy(update={"positive_class": None}))
    [issue] = [i for i in report.errors if i.rule == "too_few_rows"]
    assert issue.count > 400
    assert len(issue.examples) == 5 and f"and {issue.count - 5} more" in issue.message
    assert "fractional numbers, a measurement rather than classes" in issue.message


def test_far_out_of_range_is_an_error_near_is_a_warning(bc_frame, config, champion_schema) -> None:
    far = bc_frame.copy()
    far.loc[0, "mean_radius"] = 1e6
    report = _check(far, config, champion_schema)
    [issue] = report.errors
    assert (issue.rule, issue.column, issue.examples) == ("in_range", "mean_radius", [1e6])

    near = bc_frame.copy()
    near.loc[0, "mean_radius"] = bc_frame.mean_radius.max() * 1.05
    report = _check(near, config, champion_schema)
    assert report.passed
    assert ("in_range_observed", "mean_radius") in {(w.rule, w.column) for w in report.warnings}


def test_infinity_is_an_error(bc_frame, config) -> None:
    frame = bc_frame.copy()
    frame.loc[5, "worst_area"] = np.inf
    report = _check(frame, config)
    assert ("finite", "worst_area") in {(i.rule, i.column) for i in report.errors}


def test_unknown_class_against_champion(bc_frame, config, champion_schema) -> None:
    frame = bc_frame.copy()
    frame.loc[:20, "diagnosis"] = "uncertain"
    report = _check(frame, config, champion_schema)
    assert ("known_class", "diagnosis") in {(i.rule, i.column) for i in report.errors}


def test_positive_class_must_exist(bc_frame, config) -> None:
    frame = bc_frame.replace({"diagnosis": {"malignant": "M", "benign": "B"}})
    report = _check(frame, config)
    [issue] = [i for i in report.errors if i.rule == "positive_class"]
    assert "'malignant'" in issue.message and "'B'" in issue.message and "'M'" in issue.message


def test_a_coded_label_with_unlabelled_rows_has_the_codes_as_classes(bc_frame, config) -> None:
    """A 0/1 label with blank cells reads as floats, and stray spaces ride along with text:
    the classes are still 0 and 1 (and yes, not "yes ")."""
    coded = bc_frame.assign(diagnosis=bc_frame["diagnosis"].eq("malignant").astype(float))
    coded.loc[::40, "diagnosis"] = np.nan
    report = _check(coded, config.model_copy(update={"positive_class": "1"}))
    assert not report.errors, report.errors
    assert set(report.info["class_counts"]) == {"0", "1"}
    label = bc_frame["diagnosis"]
    spaced = bc_frame.assign(diagnosis=label.where(bc_frame.index % 3 > 0, " " + label + " "))
    report = _check(spaced, config)
    assert report.info["class_counts"] == _check(bc_frame, config).info["class_counts"]


def test_a_binary_label_without_positive_class_says_to_set_it(bc_frame, config) -> None:
    report = _check(bc_frame, config.model_copy(update={"positive_class": None}))
    [issue] = [i for i in report.errors if i.rule == "positive_class"]
    assert "set positive_class" in issue.message
    assert "'benign'" in issue.message and "'malignant'" in issue.message


def test_display_names_for_values_the_label_never_takes_warn(bc_frame, config) -> None:
    display = config.display.model_copy(update={"classes": {"M": "cancer", "benign": "fine"}})
    report = _check(bc_frame, config.model_copy(update={"display": display}))
    assert report.passed
    [warning] = [i for i in report.warnings if i.rule == "display.classes"]
    assert warning.examples == ["M"] and "'malignant'" in warning.message
    assert "display.classes" not in _rules(_check(bc_frame, config).warnings)


def test_an_unknown_column_in_one_of_several_files_names_it(bc_frame, config, champion_schema):
    columns = list(bc_frame.columns)
    report = validate(
        bc_frame.assign(notes="x"),
        {"a.csv": columns, "b.csv": [*columns, "notes"]},
        config,
        champion_schema,
    )
    [warning] = report.warnings
    assert (warning.rule, warning.file, warning.column) == ("unknown_column", "b.csv", "notes")


def test_a_file_lacking_a_column_the_champion_needs(bc_frame, config, champion_schema) -> None:
    columns = list(bc_frame.columns)
    report = validate(bc_frame, {"a.csv": columns, "b.csv": columns[:-1]}, config, champion_schema)
    [issue] = report.errors
    assert (issue.file, issue.column) == ("b.csv", columns[-1])
    assert f"[file 'b.csv', column '{columns[-1]}'] missing_column (1 column):" in report.render()


@pytest.mark.parametrize("odd", ["extra", "lacking"])
def test_without_a_champion_a_column_not_in_every_file_blames_no_file(
    bc_frame, config, odd
) -> None:
    """No champion says which file is right: the column is dropped with a warning naming the
    files, and the good file is never rejected for a column another file added."""
    columns = list(bc_frame.columns)
    other = [*columns, "foo_extra"] if odd == "extra" else columns[:-1]
    frame = bc_frame.assign(foo_extra=1.0)
    report = validate(frame, {"sklearn_breast_cancer.csv": columns, "new.csv": other}, config)
    assert report.passed, report.render()
    dropped = "foo_extra" if odd == "extra" else columns[-1]
    [warning] = report.warnings
    assert (warning.rule, warning.column) == ("unknown_column", dropped)
    assert "'new.csv'" in warning.message and "'sklearn_breast_cancer.csv'" in warning.message
    assert dropped not in report.info["types"]


def test_files_sharing_no_feature_are_an_error(bc_frame, config) -> None:
    report = validate(
        bc_frame, {"a.csv": ["diagnosis", "mean_radius"], "b.csv": ["diagnosis", "x"]}, config
    )
    assert [i.rule for i in report.errors] == ["no_features"]


def _two_files(first: pd.DataFrame, second: pd.DataFrame, config, champion=None, kinds=None):
    frame = pd.concat([first, second], ignore_index=True)
    return validate(
        frame,
        {"a.csv": list(first.columns), "b.parquet": list(second.columns)},
        config,
        champion,
        rows_by_file={"a.csv": len(first), "b.parquet": len(second)},
        value_kinds_by_file=kinds,
    )


def test_text_in_one_of_several_files_names_the_file_and_row(
    bc_frame, config, champion_schema
) -> None:
    second = bc_frame.iloc[:50].astype({"mean_area": object}).reset_index(drop=True)
    second.loc[6, "mean_area"] = "big"
    report = _two_files(bc_frame, second, config, champion_schema)
    [issue] = report.errors
    assert (issue.rule, issue.file, issue.column, issue.rows) == (
        "wrong_type",
        "b.parquet",
        "mean_area",
        [7],
    )
    assert "found text" in issue.message


def test_dates_are_named_as_dates(bc_frame, config, champion_schema) -> None:
    as_text = bc_frame.iloc[:50].assign(mean_radius="2024-01-05")
    [issue] = _two_files(bc_frame, as_text, config, champion_schema).errors
    assert (issue.file, issue.column) == ("b.parquet", "mean_radius")
    assert "expected numbers, found dates" in issue.message and "drop_columns" in issue.message

    # A Parquet datetime column, no champion: inference alone would have made it a number.
    visits = bc_frame.iloc[:50].assign(visit=pd.Timestamp("2024-01-01"))
    report = _two_files(
        bc_frame.assign(visit=pd.Timestamp("2023-06-01")),
        visits,
        config,
        kinds={"a.csv": {"visit": "datetime"}, "b.parquet": {"visit": "datetime"}},
    )
    assert [(i.rule, i.file, i.column) for i in report.errors] == [
        ("wrong_type", "a.csv", "visit"),
        ("wrong_type", "b.parquet", "visit"),
    ]
    assert all("holds dates" in i.message for i in report.errors)


def test_date_text_without_a_champion_is_not_a_category(bc_frame, config) -> None:
    report = _check(bc_frame.assign(visit="2024-01-03"), config)
    [issue] = report.errors
    assert (issue.rule, issue.column) == ("wrong_type", "visit")
    assert "holds dates" in issue.message


def test_a_boolean_column_where_numbers_are_expected(bc_frame, config, champion_schema) -> None:
    flags = bc_frame.iloc[:50].assign(mean_radius=lambda f: f.mean_radius > 13)
    report = _two_files(
        bc_frame, flags, config, champion_schema, {"b.parquet": {"mean_radius": "boolean"}}
    )
    [issue] = report.errors
    assert (issue.rule, issue.file, issue.column) == ("wrong_type", "b.parquet", "mean_radius")
    assert "true/false" in issue.message
    assert set(issue.examples) == {"True", "False"}


def test_counts_say_what_they_count(bc_frame, config) -> None:
    text = _check(bc_frame[bc_frame.diagnosis == "benign"], config).render()
    assert "single_class (1 class):" in text
    few = pd.concat([bc_frame[bc_frame.diagnosis == "benign"], bc_frame.head(3)])
    text = _check(few[few.diagnosis.isin(["benign", "malignant"])], config).render()
    assert "too_few_rows (1 class):" in text


def test_report_renders_column_rule_count_and_examples(bc_frame, config, champion_schema) -> None:
    frame = bc_frame.copy()
    frame.loc[0, "mean_radius"] = 1e6
    text = _check(frame, config, champion_schema).render()
    assert "REJECTED" in text
    assert "mean_radius" in text and "in_range" in text and "1000000.0" in text


def test_a_column_empty_in_one_file_is_named(bc_frame, config, champion_schema) -> None:
    columns = list(bc_frame.columns)
    report = validate(
        bc_frame,
        {"old.csv": columns, "new.csv": columns},
        config,
        champion_schema,
        {"new.csv": ["mean_texture"]},
    )
    [issue] = report.errors
    assert (issue.rule, issue.file, issue.column) == ("not_all_missing", "new.csv", "mean_texture")


def test_a_range_error_with_two_files_names_the_file_and_row(
    bc_frame, config, champion_schema
) -> None:
    first, second = bc_frame.iloc[:300], bc_frame.iloc[300:].reset_index(drop=True)
    second = second.assign(mean_radius=second["mean_radius"].astype(float))
    second.loc[3, "mean_radius"] = 1e6  # row 4 of b.csv
    frame = pd.concat([first, second], ignore_index=True)
    columns = list(frame.columns)
    report = validate(
        frame,
        {"a.csv": columns, "b.csv": columns},
        config,
        champion_schema,
        rows_by_file={"a.csv": len(first), "b.csv": len(second)},
    )
    [issue] = report.errors
    assert (issue.rule, issue.column, issue.file, issue.rows) == (
        "in_range",
        "mean_radius",
        "b.csv",
        [4],
    )
    text = report.render()
    assert "(1 error, " in text and "1 errors" not in text
    assert "[file 'b.csv', column 'mean_radius'] in_range (1 value, row 4)" in text


def test_declared_bounds_reject_impossible_values(bc_frame, config, champion_schema) -> None:
    """-3.0 lies within the tolerance of the observed range; the config says sizes are >= 0."""
    frame = bc_frame.copy()
    frame.loc[4, "mean_radius"] = -3.0
    for champion in (champion_schema, None):
        report = _check(frame, config, champion)
        [issue] = report.errors
        assert (issue.rule, issue.column, issue.examples) == ("bounds", "mean_radius", [-3.0])
        assert "min 0" in issue.message


def test_bounds_per_column_override_the_default(bc_frame, config) -> None:
    rules = config.validation.model_copy(
        update={"bounds": {"mean_smoothness": Bounds(max=0.1), "mean_radus": Bounds(min=1)}}
    )
    strict = config.model_copy(update={"validation": rules})
    report = _check(bc_frame.assign(mean_texture=-1.0), strict)
    assert {(i.rule, i.column) for i in report.errors} == {
        ("bounds", "mean_smoothness"),  # its own max
        ("bounds", "mean_texture"),  # the config's non_negative
    }
    assert ("unknown_bounds", "mean_radus") in {(w.rule, w.column) for w in report.warnings}
    with pytest.raises(ValueError, match="above max"):
        Bounds(min=2, max=1)


def test_the_feature_schema_records_the_declared_bounds(champion_schema) -> None:
    [radius] = [f for f in champion_schema["features"] if f["name"] == "mean_radius"]
    assert radius["bounds"] == {"min": 0.0, "max": None}


def test_fractions_where_the_champion_saw_whole_numbers(bc_frame, config) -> None:
    frame = bc_frame.drop(columns=["id"]).assign(lymph_nodes=np.arange(len(bc_frame)) % 7)
    champion = build_feature_schema(frame, feature_types(frame, config), config)
    upload = frame.assign(lymph_nodes=frame.lymph_nodes.astype(float))
    assert _check(upload, config, champion).passed  # 3.0 is a whole number
    upload.loc[2, "lymph_nodes"] = 2.5
    [issue] = _check(upload, config, champion).errors
    assert (issue.rule, issue.column, issue.examples) == ("integer", "lymph_nodes", [2.5])


def test_an_upload_that_extends_the_observed_range_says_so(
    bc_frame, config, champion_schema
) -> None:
    frame = bc_frame.copy()
    top = bc_frame.mean_radius.max()
    frame.loc[0, "mean_radius"] = top * 1.05
    report = _check(frame, config, champion_schema)
    assert report.passed
    [warning] = [w for w in report.warnings if w.column == "mean_radius"]
    assert "extends the observed range" in warning.message
    low = bc_frame.mean_radius.min()
    assert report.info["range_extended"] == {
        "mean_radius": {"from": [low, top], "to": [low, top * 1.05]}
    }


def test_text_that_is_not_a_category_warns(bc_frame, config) -> None:
    """Numbers with thousands separators, and an id left in: each value a category of its
    own. Declaring the column categorical says it is meant."""
    frame = bc_frame.assign(
        mean_area=bc_frame["mean_area"].map(lambda v: f"{v * 10:,.1f}"),
        patient=[f"p-{i:05d}" for i in range(len(bc_frame))],
    )
    report = _check(frame, config)
    assert not report.errors, report.errors
    warned = {i.rule: i for i in report.warnings}
    assert warned["numbers_as_text"].column == "mean_area"
    assert "," in warned["numbers_as_text"].examples[0]
    assert warned["mostly_unique_text"].column == "patient"
    assert (
        f"{len(frame)} distinct values in {len(frame)} rows" in warned["mostly_unique_text"].message
    )
    meant = config.model_copy(
        update={"column_types": {"mean_area": "categorical", "patient": "categorical"}}
    )
    assert not _rules(_check(frame, meant).warnings) & {"numbers_as_text", "mostly_unique_text"}
    few = _check(bc_frame.assign(site=np.where(bc_frame.index % 2, "north", "south")), config)
    assert not _rules(few.warnings) & {"numbers_as_text", "mostly_unique_text"}


def test_a_row_id_left_in_warns(bc_frame, config) -> None:
    frame = bc_frame.assign(row=range(100, 100 + len(bc_frame)))
    [issue] = [i for i in _check(frame, config).warnings if i.rule == "row_id"]
    assert issue.column == "row" and f"from 100 to {99 + len(frame)}" in issue.message
    meant = config.model_copy(update={"column_types": {"row": "numeric"}})
    assert "row_id" not in _rules(_check(frame, meant).warnings)
    shuffled = frame.sample(frac=1.0, random_state=0)  # ids, but not in file order: unknown
    assert "row_id" not in _rules(_check(shuffled, config).warnings)


def test_config_columns_of_no_file_warn(bc_frame, config) -> None:
    typo = config.model_copy(
        update={"drop_columns": ["idd"], "column_types": {"mean_radiuss": "numeric"}}
    )
    warned = {(i.column, i.message) for i in _check(bc_frame, typo).warnings}
    assert ("idd", "drop_columns (config) names a column of no file (did you mean 'id'?)") in warned
    assert (
        "mean_radiuss",
        "column_types (config) names a column of no file (did you mean 'mean_radius'?)",
    ) in warned
    assert "unknown_config_column" not in _rules(_check(bc_frame, config).warnings)


def test_classes_spelt_in_two_cases_warn(bc_frame, config) -> None:
    label = bc_frame["diagnosis"].where(bc_frame.index % 10 > 0, "Malignant")
    [issue] = [
        i
        for i in _check(bc_frame.assign(diagnosis=label), config).warnings
        if i.rule == "classes_differ_in_case"
    ]
    assert sorted(issue.examples) == ["Malignant", "malignant"]
    assert "'Malignant': 57 rows" in issue.message
    assert "classes_differ_in_case" not in _rules(_check(bc_frame, config).warnings)
