"""Compile the pipeline to the spec YAML that Vertex AI's PipelineJob takes."""

from __future__ import annotations

from pathlib import Path

from mlcycle.config import DatasetConfig
from mlcycle.pipeline.components import DEFAULT_IMAGE


def compile_pipeline(output: str | Path, config: DatasetConfig, image: str = DEFAULT_IMAGE) -> Path:
    """Write the pipeline spec with every component running in `image`, sized by the config."""
    from kfp import compiler

    from mlcycle.pipeline.definition import build_pipeline

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    pipeline = build_pipeline(config.resources, None if image == DEFAULT_IMAGE else image)
    compiler.Compiler().compile(pipeline, package_path=str(output))
    return output
