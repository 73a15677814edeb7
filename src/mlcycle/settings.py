"""The one settings object. Built when asked for; nothing is read at import time."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CONFIG = Path("configs/breast_cancer.yaml")


class Settings(BaseSettings):
    """Every knob of mlcycle, read from `MLCYCLE_*` environment variables (and `.env`)."""

    model_config = SettingsConfigDict(env_prefix="MLCYCLE_", env_file=".env", extra="ignore")

    root: str = Field(
        "./.mlcycle",
        description="Where data, pipeline artifacts and the model registry live: "
        "a local folder or any fsspec URI such as gs://bucket/prefix.",
    )
    config: Path = Field(DEFAULT_CONFIG, description="The data-set config file (YAML).")
    pipeline_root: str | None = Field(
        None,
        description="Local folder for kfp.local's artifacts; defaults to <root>/pipeline "
        "when root is local, else ./.mlcycle-pipeline (kfp.local cannot write to a bucket).",
    )


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (non-None) overrides on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
