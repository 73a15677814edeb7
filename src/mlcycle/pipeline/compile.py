"""Compile the pipeline to the spec YAML that Vertex AI's PipelineJob takes."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlcycle.config import DatasetConfig
from mlcycle.pipeline.components import DEFAULT_IMAGE


def compile_pipeline(output: str | Path, config: DatasetConfig, image: str = DEFAULT_IMAGE) -> Path:
    """Write the pipeline spec with every component running in `image`, sized by the config."""
    from kfp import compiler

    from mlcycle.pipeline.definition import build_pipeline

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(build_pipeline(config.resources), package_path=str(output))
    if image != DEFAULT_IMAGE:
        spec = yaml.safe_load(output.read_text())
        for executor in spec["deploymentSpec"]["executors"].values():
            executor["container"]["image"] = image
        output.write_text(yaml.safe_dump(spec, sort_keys=False))
    return output
