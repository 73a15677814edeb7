"""Train and register real models for the API tests by calling the pipeline steps directly.

The steps are what the KFP components run; calling them in-process skips kfp.local's
per-step subprocesses and keeps the API suite fast. The full pipeline has its own tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from mlcycle.config import DatasetConfig, load_config
from mlcycle.data.ingest import incoming_uri
from mlcycle.data.seed import seed_incoming
from mlcycle.model.registry import Registry
from mlcycle.pipeline import steps

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
    work.mkdir(parents=True, exist_ok=True)
    registry = Registry(root)
    if not registry.versions() and config.seed_data:
        seed_incoming(incoming_uri(root), config.seed_data)
    champion = registry.champion_version() or ""
    p = {
        name: str(work / name)
        for name in (
            "snap",
            "ingest",
            "validate",
            "clean",
            "changes",
            "train",
            "test",
            "model",
            "cands",
            "eval",
            "roc",
            "cm",
            "reg",
        )
    }
    steps.ingest(root, p["snap"], p["ingest"])
    types = steps.validate(config.to_json(), root, champion, p["snap"], p["ingest"], p["validate"])
    steps.clean(config.to_json(), types, p["snap"], p["clean"], p["changes"])
    steps.split(config.to_json(), p["clean"], p["train"], p["test"])
    steps.train(config.to_json(), types, p["train"], p["model"], p["cands"])
    steps.evaluate(
        config.to_json(), types, root, champion, p["model"], p["test"], p["eval"], p["roc"], p["cm"]
    )
    lineage = {"data_hash": "test", "pipeline_run": "tests", "git_commit": "", "code_version": ""}
    return steps.register(
        config.to_json(),
        types,
        root,
        champion,
        lineage,
        p["model"],
        p["train"],
        p["eval"],
        p["cands"],
        {"roc_curve.png": p["roc"], "confusion_matrix.png": p["cm"]},
        p["reg"],
        p["test"],
    )


def load_test_split(work: Path) -> pd.DataFrame:
    return pd.read_parquet(work / "test")


def metadata(root: str, version: str) -> dict[str, Any]:
    return json.loads(json.dumps(Registry(root).get(version)))
