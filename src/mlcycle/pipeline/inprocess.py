"""Every pipeline step, one after another, in this process: no KFP, no subprocesses.

What the pipeline does, minus its orchestration: the floor a pipeline run is measured
against (bench/pipeline.py), and a quick way for tests to train and register real models.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlcycle.config import DatasetConfig
from mlcycle.model.registry import Registry
from mlcycle.pipeline import steps
from mlcycle.pipeline.launch import seed_if_first_run

ARTIFACTS = (
    "snapshot",
    "ingest_report",
    "validation_report",
    "cleaned",
    "changes",
    "train",
    "test",
    "model",
    "candidates",
    "evaluation",
    "roc",
    "confusion",
    "registration",
    "report",
)


def run_in_process(
    root: str, config: DatasetConfig, work: Path, timings: dict[str, float] | None = None
) -> dict[str, Any]:
    """Run ingest → … → register on `<root>`'s incoming data, artifacts under `work`.

    Seeds the config's default data into an empty root, as a pipeline run does. Returns the
    registration summary; per-step wall seconds go into `timings` when given.
    """
    work.mkdir(parents=True, exist_ok=True)
    p = {name: str(work / name) for name in ARTIFACTS}
    seed_if_first_run(root, config)
    champion = Registry(root).champion_version() or ""
    cfg = config.to_json()
    clock = timings if timings is not None else {}

    def timed(name: str, fn: Any, *args: Any) -> Any:
        started = time.perf_counter()
        out = fn(*args)
        clock[name] = round(time.perf_counter() - started, 3)
        return out

    data_hash = timed("ingest", steps.ingest, cfg, root, p["snapshot"], p["ingest_report"])
    types = timed(
        "validate",
        steps.validate,
        cfg,
        root,
        champion,
        p["snapshot"],
        p["ingest_report"],
        p["validation_report"],
    )
    timed("clean", steps.clean, cfg, types, p["snapshot"], p["cleaned"], p["changes"])
    timed("split", steps.split, cfg, p["cleaned"], p["train"], p["test"])
    timed("train", steps.train, cfg, types, p["train"], p["model"], p["candidates"])
    timed(
        "evaluate",
        steps.evaluate,
        cfg,
        types,
        root,
        champion,
        p["model"],
        p["test"],
        p["evaluation"],
        p["roc"],
        p["confusion"],
    )
    lineage = {"data_hash": data_hash, "snapshot_uri": p["snapshot"], "pipeline_run": "in-process"}
    return timed(
        "register",
        steps.register,
        cfg,
        types,
        root,
        champion,
        lineage,
        p["model"],
        p["cleaned"],
        p["test"],
        p["evaluation"],
        p["candidates"],
        p["validation_report"],
        p["changes"],
        {"roc_curve.png": p["roc"], "confusion_matrix.png": p["confusion"]},
        p["registration"],
        p["report"],
    )
