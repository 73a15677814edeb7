"""Train and register real models for the API tests by calling the pipeline steps directly.

The steps are what the KFP components run; calling them in-process skips kfp.local's
per-step subprocesses and keeps the API suite fast. The full pipeline has its own tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mlcycle.config import DatasetConfig, load_config
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
