"""The one settings object. Built when asked for; nothing is read at import time."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Shipped inside the package, so the default works from any folder; configs/ in the repository
# holds the same file for users to copy.
DEFAULT_CONFIG = Path(__file__).parent / "configs" / "breast_cancer.yaml"


class Settings(BaseSettings):
    """Every knob of mlcycle, read from `MLCYCLE_*` environment variables (and `.env`)."""

    model_config = SettingsConfigDict(env_prefix="MLCYCLE_", env_file=".env", extra="ignore")

    root: str = Field(
        "./.mlcycle",
        description="Where data, pipeline artifacts and the model registry live: "
        "a local folder or any fsspec URI such as gs://bucket/prefix.",
    )
    config: Path = Field(
        DEFAULT_CONFIG,
        description="The data-set config file (YAML); a relative path is relative to the "
        "current folder. Default: the breast-cancer config shipped in the package.",
    )
    pipeline_root: str | None = Field(
        None,
        description="Local folder for kfp.local's artifacts; defaults to <root>/pipeline "
        "when root is local, else ./.mlcycle-pipeline (kfp.local cannot write to a bucket).",
    )
    keep_runs: int = Field(
        10,
        ge=1,
        description="Local runs whose intermediate artifacts (and logs) stay under the "
        "pipeline root; older ones are deleted after each run, except the run folders that "
        "hold a registered version's snapshot.",
    )


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (non-None) overrides on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
