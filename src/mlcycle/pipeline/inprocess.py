"""Every pipeline step, one after another, in this process: no KFP, no subprocesses.

What the pipeline does, minus its orchestration: the floor a pipeline run is measured
against (bench/pipeline.py), and a quick way for tests to train and register real models.
The steps, their wiring and the run's parameters are the pipeline's own (`contract.STEPS`,
`launch.pipeline_arguments`); artifacts land where kfp.local puts them: `<work>/<step>/<output>`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlcycle.config import DatasetConfig
from mlcycle.pipeline import contract
from mlcycle.pipeline.launch import pipeline_arguments, seed_if_first_run

RUN_NAME = "in-process"


def run_in_process(
    root: str,
    config: DatasetConfig,
    work: Path,
    timings: dict[str, float] | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Run ingest → … → register on `<root>`'s incoming data, artifacts under `work`.

    Seeds the config's default data into an empty root, as a pipeline run does. Returns the
    registration summary; per-step wall seconds go into `timings` when given. `until` names
    a step to stop after (e.g. "split": the pipeline's own training split, nothing trained);
    the run then returns that step's result.
    """
    seed_if_first_run(root, config)
    parameters = pipeline_arguments(root, config)
    clock = timings if timings is not None else {}
    produced: dict[str, Any] = {}  # "<step>.<output>" -> a path or a step's string result
    out: Any = None
    for step in contract.STEPS:
        values = {name: _value(src, parameters, produced) for name, src in step.inputs.items()}
        folder = work / step.name
        folder.mkdir(parents=True, exist_ok=True)
        for name in step.outputs:
            values[name] = produced[f"{step.name}.{name}"] = str(folder / name)
        started = time.perf_counter()
        out = contract.call(step.name, values)
        clock[step.name] = round(time.perf_counter() - started, 3)
        if step.result:
            produced[f"{step.name}.{step.result}"] = out
        if step.name == until:
            break
    return out  # the register step's summary


def _value(source: str, parameters: dict[str, str], produced: dict[str, Any]) -> Any:
    if source == contract.RUN_ID:
        return RUN_NAME
    return produced[source] if contract.source_step(source) else parameters[source]
