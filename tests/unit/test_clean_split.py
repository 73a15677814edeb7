import numpy as np
import pandas as pd

from mlcycle.data.clean import clean
from mlcycle.data.schema import build_feature_schema, feature_types
from mlcycle.data.split import split_data


def test_clean_reports_every_change(bc_frame, config) -> None:
    dirty = pd.concat([bc_frame, bc_frame.head(4)], ignore_index=True).assign(notes="x")
    dirty.loc[10, "diagnosis"] = None
    dirty.loc[11, "mean_area"] = np.nan
    types = feature_types(dirty.drop(columns=["notes"]), config)
    out, changes = clean(dirty, config, types)
    assert changes["dropped_columns"] == ["id", "notes"]
    assert changes["dropped_duplicate_rows"] == 4
    assert changes["dropped_unlabelled_rows"] == 1
    assert changes["missing_values_left_for_imputation"] == {"mean_area": 1}
    assert changes["rows_out"] == len(out) == len(bc_frame) - 1
    assert list(out.columns) == [*types, "diagnosis"]


def test_clean_names_classes_as_validate_counts_them(bc_frame, config) -> None:
    """0/1 read as floats (a blank label among them) are the classes 0 and 1; spaces around a
    label and a blank one are no class."""
    frame = bc_frame.drop(columns=["id"]).head(6)
    frame["diagnosis"] = [1.0, 0.0, np.nan, 1.0, 0.0, 0.0]
    types = feature_types(frame, config)
    out, changes = clean(frame, config, types)
    assert out["diagnosis"].tolist() == ["1", "0", "1", "0", "0"]
    frame["diagnosis"] = ["yes ", " no", "  ", "yes", "no", "no"]
    out, changes = clean(frame, config, types)
    assert out["diagnosis"].tolist() == ["yes", "no", "yes", "no", "no"]
    assert changes["dropped_unlabelled_rows"] == 1


def test_split_is_stratified_and_seeded(bc_frame, config) -> None:
    frame = bc_frame.drop(columns=["id"])
    train, test = split_data(frame, config)
    again, _ = split_data(frame, config)
    assert len(test) == round(len(frame) * config.test_size)
    pd.testing.assert_frame_equal(train, again)
    share = frame.diagnosis.eq("malignant").mean()
    assert abs(test.diagnosis.eq("malignant").mean() - share) < 0.01
    assert abs(train.diagnosis.eq("malignant").mean() - share) < 0.01


def test_feature_schema_holds_ranges_medians_and_real_examples(bc_frame, config) -> None:
    frame = bc_frame.drop(columns=["id"])
    schema = build_feature_schema(frame, feature_types(frame, config), config)
    radius = next(f for f in schema["features"] if f["name"] == "mean_radius")
    assert radius["min"] == frame.mean_radius.min()
    assert radius["max"] == frame.mean_radius.max()
    assert radius["median"] == frame.mean_radius.median()
    assert schema["classes"] == ["benign", "malignant"]
    for cls, rows in schema["examples"].items():
        assert len(rows) == 3
        for row in rows:  # each example is a real row of that class
            match = frame[(frame[list(row)] == pd.Series(row)).all(axis=1)]
            assert set(match.diagnosis) == {cls}


def test_categorical_types_are_inferred_and_overridable(config) -> None:
    frame = pd.DataFrame(
        {
            "zip": ["1001", "2002", None],
            "n": ["1", "2", "x"],
            "c": ["a", "b", "c"],
            "diagnosis": ["p", "q", "p"],
        }
    )
    assert feature_types(frame, config) == {
        "zip": "numeric",
        "n": "categorical",
        "c": "categorical",
    }
    forced = config.model_copy(update={"column_types": {"zip": "categorical"}})
    assert feature_types(frame, forced)["zip"] == "categorical"
