"""Fixtures for the fault tests: a registry with small real versions, made in milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from faultkit import META, model_bytes

from mlcycle.model.registry import Registry


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(str(tmp_path / "root"))


@pytest.fixture
def new_version(registry: Registry) -> Callable[[str], str]:
    """Register a version whose model differs by `strategy`; returns its id."""

    def make(strategy: str = "prior") -> str:
        return registry.register({"model.joblib": model_bytes(strategy)}, META).version

    return make
