"""The training pipeline's wiring, made from the steps declared in `contract.STEPS`.

Each step's component is called with its declared inputs: a pipeline parameter, an earlier
task's output, or the run's name. Read contract.py for the data-flow diagram itself.
"""

from typing import Any

from kfp import dsl

from mlcycle.config import Resources
from mlcycle.pipeline import components
from mlcycle.pipeline.contract import BY_NAME, RUN_ID, STEPS, source_step

PIPELINE_NAME = "mlcycle-training"


def build_pipeline(resources: Resources | None = None, image: str | None = None):
    """The pipeline; `resources` sizes each step's machine on Vertex AI (not used locally),
    `image` replaces every step's container image (Vertex AI, kfp.local's DockerRunner)."""

    # No `from __future__ import annotations` in this module: KFP reads these annotations.
    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Ingest, validate, clean, split, train, evaluate, gate and register.",
    )
    def training_pipeline(
        root: str,
        config: str,
        incoming_fingerprint: str,
        champion_version: str = "",
        git_commit: str = "",
        code_version: str = "",
    ) -> dsl.Artifact:
        parameters = dict(locals())
        tasks: dict[str, Any] = {}
        for step in STEPS:
            task = getattr(components, step.name)(
                **{name: _value(source, parameters, tasks) for name, source in step.inputs.items()}
            ).set_display_name(step.label)
            if not step.cache:
                task.set_caching_options(enable_caching=False)
            if resources:
                task.set_cpu_limit(resources.cpu).set_memory_limit(resources.memory)
            if image:
                task.set_container_image(image)
            tasks[step.name] = task
        return tasks["register"].outputs["registration"]

    return training_pipeline


def _value(source: str, parameters: dict[str, Any], tasks: dict[str, Any]) -> Any:
    if source == RUN_ID:
        return dsl.PIPELINE_JOB_NAME_PLACEHOLDER
    upstream = source_step(source)
    if upstream is None:
        return parameters[source]
    step, output = upstream
    # A step's string result is KFP's single "Output"; the contract names it for readers.
    name = "Output" if output == BY_NAME[step].result else output
    return tasks[step].outputs[name]
