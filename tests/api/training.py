"""Train and register real models for the API tests by calling the pipeline steps directly.

The steps are what the KFP components run; calling them in-process skips kfp.local's
per-step subprocesses and keeps the API suite fast. The full pipeline has its own tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlcycle import storage
from mlcycle.config import DatasetConfig, load_config
from mlcycle.data.incoming import incoming_uri
from mlcycle.model.registry import Registry
from mlcycle.pipeline.inprocess import run_in_process

CONFIG = Path(__file__).parents[2] / "configs" / "breast_cancer.yaml"


def fast_config(**changes: Any) -> DatasetConfig:
    """The shipped config with one quick candidate (or the candidates given)."""
    config = load_config(CONFIG).model_dump()
    config["candidates"] = changes.pop(
        "candidates",
        [
            {
                "name": "logistic_regression",
                "estimator": "logistic_regression",
                "params": {"max_iter": 2000, "class_weight": "balanced"},
                "grid": {},
            }
        ],
    )
    config["cv_folds"] = 2
    return DatasetConfig.model_validate({**config, **changes})


def train_and_register(root: str, work: Path, config: DatasetConfig) -> dict[str, Any]:
    """Run ingest → ... → register on <root>'s incoming data; returns the registration summary."""
    return run_in_process(root, config, work)


def load_test_split(work: Path) -> pd.DataFrame:
    return pd.read_parquet(work / "split" / "test_set")  # <work>/<step>/<output>


# -- a data set whose classes are integer codes, named only in its config ------------------

CODED_NAMES = {"0": "setosa", "1": "versicolor", "2": "virginica"}
CODED_DISCLAIMER = "Species estimates for field use; confirm with a key."


def coded_config(**display: Any) -> DatasetConfig:
    """Three classes coded 0/1/2 in `species`; the config names them (YAML's int keys)."""
    display = display or {
        "classes": {0: "setosa", 1: "versicolor", 2: "virginica"},
        "predicts": "iris species",
        "disclaimer": CODED_DISCLAIMER,
    }
    return DatasetConfig.model_validate(
        {
            "name": "coded",
            "label": "species",
            "cv_folds": 2,
            "candidates": [
                {"name": "lr", "estimator": "logistic_regression", "params": {"max_iter": 500}}
            ],
            "display": display,
        }
    )


def coded_frame(rows: int = 240) -> pd.DataFrame:
    """Two well-separated measurements per class, the label an int column."""
    rng = np.random.default_rng(7)
    species = rng.integers(0, 3, rows)
    return pd.DataFrame(
        {
            "petal_length": rng.normal(1.5 + 2.5 * species, 0.4).round(2),
            "petal_width": rng.normal(0.3 + 0.9 * species, 0.2).round(2),
            "species": species,
        }
    )


def train_coded(root: str, work: Path, config: DatasetConfig | None = None) -> str:
    """Write the coded data to <root>'s incoming folder, train, promote; the version."""
    storage.write_text(
        storage.join(incoming_uri(root), "coded.csv"), coded_frame().to_csv(index=False)
    )
    version = train_and_register(root, work, config or coded_config())["version"]
    Registry(root).promote(version)
    return version


# -- a data set with text features: one with a few categories, one with many --------------

SITES = [f"site-{i:02d}" for i in range(60)]  # more than the UI's select shows: a text input


def mixed_config() -> DatasetConfig:
    """Two classes from a number and two text features (`colour`: 3 values, `site`: 60)."""
    return DatasetConfig.model_validate(
        {
            "name": "mixed",
            "label": "kind",
            "positive_class": "yes",
            "column_types": {"colour": "categorical", "site": "categorical"},
            "cv_folds": 2,
            "candidates": [
                {"name": "lr", "estimator": "logistic_regression", "params": {"max_iter": 500}}
            ],
        }
    )


def mixed_frame(rows: int = 360) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    kind = rng.choice(["yes", "no"], rows)
    colour = np.where(kind == "yes", "red", rng.choice(["green", "blue"], rows))
    return pd.DataFrame(
        {
            "x": rng.normal(np.where(kind == "yes", 2.0, 0.0), 1.0).round(3),
            "colour": colour,
            "site": [SITES[i % len(SITES)] for i in range(rows)],
            "kind": kind,
        }
    )


def train_mixed(root: str, work: Path) -> str:
    """Write the mixed data to <root>'s incoming folder, train, promote; the version."""
    storage.write_text(
        storage.join(incoming_uri(root), "mixed.csv"), mixed_frame().to_csv(index=False)
    )
    version = train_and_register(root, work, mixed_config())["version"]
    Registry(root).promote(version)
    return version
