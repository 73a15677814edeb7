"""Shared fixtures: the default config and data, and a trained root built once per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

# gcsfs hangs against the GCS emulator unless this is set before it is imported.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from mlcycle.config import DatasetConfig, load_config
from mlcycle.data.seed import breast_cancer_frame
from support import free_port

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "src/mlcycle/configs/breast_cancer.yaml"


@pytest.fixture(scope="session")
def config() -> DatasetConfig:
    return load_config(DEFAULT_CONFIG)


@pytest.fixture(scope="session")
def bc_frame() -> pd.DataFrame:
    return breast_cancer_frame()


@pytest.fixture(scope="session")
def trained_root(tmp_path_factory: pytest.TempPathFactory, config: DatasetConfig) -> Path:
    """A root where the real pipeline has run once on the default data (do not modify)."""
    from mlcycle.pipeline.local import run_pipeline

    root = tmp_path_factory.mktemp("trained")
    result = run_pipeline(str(root), config)
    assert result.ok, Path(result.log_path).read_text()[-3000:]
    return root


@pytest.fixture
def champion_root(trained_root: Path, tmp_path: Path) -> Path:
    """A private copy of the trained root's data and registry (no pipeline cache)."""
    root = tmp_path / "root"
    for part in ("data", "models"):
        shutil.copytree(trained_root / part, root / part)
    return root


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """A GCS emulator (gcp-storage-emulator, in memory) on 127.0.0.1; yields its bucket.

    STORAGE_EMULATOR_HOST is set for this process and every pipeline step it starts.
    """
    from gcp_storage_emulator.server import create_server

    bucket = "mlcycle-test"
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket)
    server.start()
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    try:
        yield bucket
    finally:
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous
        server.stop()
