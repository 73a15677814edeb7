"""Deduplication: a duplicate is the same record twice, not two patients who share values."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mlcycle.config import DatasetConfig
from mlcycle.data.clean import clean
from mlcycle.model.version import ModelVersion

FEATURES = [f"f{i}" for i in range(1, 10)]
TYPES = dict.fromkeys(FEATURES, "numeric")
OLD = Path(__file__).parents[1] / "data/registry-a1f9801/models/versions/20261202-060209-8656e5"


def _config(config: DatasetConfig, rule: str | None = None) -> DatasetConfig:
    update = {} if rule is None else {"deduplicate": rule}
    return DatasetConfig.model_validate(config.model_dump() | update)


def _tiny() -> pd.DataFrame:
    """Row 1 repeats row 0 whole; row 2 is another patient with row 0's values."""
    return pd.DataFrame(
        {
            "id": [1, 1, 2, 3],
            **{f: [5, 5, 5, i] for i, f in enumerate(FEATURES, start=1)},
            "diagnosis": ["benign", "benign", "benign", "malignant"],
        }
    )


def test_records_drops_the_same_record_twice_and_counts_shared_features(config) -> None:
    out, changes = clean(_tiny(), _config(config, "records"), TYPES)
    assert len(out) == 3
    assert changes["deduplicate"] == "records"
    assert changes["dropped_duplicate_rows"] == 1
    assert changes["rows_sharing_features_kept"] == 1
    assert changes["rows_out"] == 3


def test_features_drops_rows_equal_without_the_ids(config) -> None:
    out, changes = clean(_tiny(), _config(config, "features"), TYPES)
    assert len(out) == 2
    assert changes["deduplicate"] == "features"
    assert changes["dropped_duplicate_rows"] == 2
    assert changes["rows_sharing_features_kept"] == 0


def test_none_keeps_every_row(config) -> None:
    out, changes = clean(_tiny(), _config(config, "none"), TYPES)
    assert len(out) == 4
    assert changes["dropped_duplicate_rows"] == 0
    assert changes["rows_sharing_features_kept"] == 2  # the repeat and the other patient


def test_records_is_the_default_and_other_rules_are_rejected(config) -> None:
    assert _config(config).deduplicate == "records"
    assert config.deduplicate == "records"  # the shipped config
    with pytest.raises(ValidationError, match="deduplicate"):
        _config(config, "rows")


def test_a_column_the_config_does_not_know_does_not_make_a_record_new(config) -> None:
    frame = pd.concat([_tiny(), _tiny().head(1).assign(scanner="x")], ignore_index=True)
    out, changes = clean(frame, _config(config, "records"), TYPES)
    assert changes["dropped_duplicate_rows"] == 2 and len(out) == 3
    assert "scanner" in changes["dropped_columns"]


def _cytology(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Integer scores 1..10 per cell feature, as in cytology data: benign cells score mostly
    1, so many distinct benign patients share every value; malignant ones spread out."""
    rng = np.random.default_rng(seed)
    malignant = rng.random(n) < 0.35
    low = rng.choice([1, 2, 3], size=(n, len(FEATURES)), p=[0.9, 0.07, 0.03])
    spread = rng.integers(1, 11, size=(n, len(FEATURES)))
    values = np.where(malignant[:, None], spread, low)
    frame = pd.DataFrame(values, columns=FEATURES)
    frame.insert(0, "id", np.arange(1000, 1000 + n))
    frame["diagnosis"] = np.where(malignant, "malignant", "benign")
    return frame


def test_discrete_measurements_of_distinct_patients_are_kept_under_records(config) -> None:
    frame = _cytology()
    shared = int(frame.drop(columns=["id"]).duplicated().sum())
    assert shared > len(frame) // 5  # the data set has the property the test is about

    kept, changes = clean(frame, _config(config, "records"), TYPES)
    assert len(kept) == len(frame) and changes["dropped_duplicate_rows"] == 0
    assert changes["rows_sharing_features_kept"] == shared
    balance = frame.diagnosis.value_counts()
    assert kept.diagnosis.value_counts().to_dict() == balance.to_dict()

    dropped, changes = clean(frame, _config(config, "features"), TYPES)
    assert changes["dropped_duplicate_rows"] == shared == len(frame) - len(dropped)
    # The old rule removes benign patients far more than malignant ones: the balance shifts.
    before = balance["malignant"] / len(frame)
    after = dropped.diagnosis.eq("malignant").mean()
    assert after > before + 0.05


def test_exact_duplicate_records_are_still_dropped_under_records(config) -> None:
    frame = _cytology()
    repeated = pd.concat([frame, frame.sample(25, random_state=1)], ignore_index=True)
    out, changes = clean(repeated, _config(config, "records"), TYPES)
    assert changes["dropped_duplicate_rows"] == 25
    assert len(out) == len(frame)
    expected = frame.drop(columns=["id"]).astype({"diagnosis": str})
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)


def test_versions_written_before_the_rule_still_load(tmp_path) -> None:
    raw = json.loads((OLD / "metadata.json").read_text())
    version = ModelVersion.model_validate(raw)
    cleaning = version.data.cleaning
    assert cleaning.deduplicate is None and cleaning.rows_sharing_features_kept is None
    assert cleaning.dropped_duplicate_rows == raw["data"]["cleaning"]["dropped_duplicate_rows"]
    assert version.to_json()["data"]["cleaning"] == raw["data"]["cleaning"]
