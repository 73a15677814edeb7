"""Prediction logs for the drift tests: rows as the API logs them (predictions.write_part),
with the features of a frame, so the monitor reads what it would read in production."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from mlcycle import predictions
from mlcycle.model.registry import Registry

PART_ROWS = 10_000  # the API flushes far smaller parts; the reader must not care


def log_features(root: Path, version: str, frame: pd.DataFrame, when: datetime | None = None):
    """Log one prediction per row of `frame` (its feature columns) as answered by `version`."""
    schema = Registry(str(root)).get(version).feature_schema
    types, classes = schema.feature_types(), schema.classes
    when = when or datetime.now(UTC)
    for start in range(0, len(frame), PART_ROWS):
        chunk = frame.iloc[start : start + PART_ROWS]
        rows = [
            {
                "time": when,
                "request_id": f"req-{start + i}",
                "row": 0,
                "version": version,
                "label": classes[0],
                "warnings": "[]",
                **{f"p.{c}": 1 / len(classes) for c in classes},
                **{f"f.{name}": record[name] for name in types},
            }
            for i, record in enumerate(chunk.to_dict("records"))
        ]
        predictions.write_part(str(root), version, rows, classes, types)


def unshifted(train: pd.DataFrame, features: list[str], rows: int, seed: int = 0) -> pd.DataFrame:
    """`rows` drawn from the training distribution: training rows resampled, each feature
    measured again with noise of 5% of its spread."""
    rng = np.random.default_rng(seed)
    sample = train.sample(rows, replace=True, random_state=seed, ignore_index=True)
    spread = train[features].std().to_numpy()
    sample[features] = sample[features] + rng.normal(0, 0.05, (rows, len(features))) * spread
    return sample


def shifted(train: pd.DataFrame, feature: str, rows: int, seed: int = 0) -> pd.DataFrame:
    """`rows` training rows with `feature` moved up by one training standard deviation."""
    sample = train.sample(rows, replace=True, random_state=seed, ignore_index=True)
    sample[feature] = sample[feature] + train[feature].std()
    return sample
