"""Shared fixtures: real models trained once per session, servers on free loopback ports."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from mlcycle.api import create_app
from mlcycle.api.serving import Serving
from mlcycle.api.settings import ApiSettings
from mlcycle.model.registry import Registry
from support import LiveServer

from .training import fast_config, train_and_register

ADMIN_TOKEN = "test-admin-token"
FOREST = [
    {
        "name": "random_forest",
        "estimator": "random_forest",
        "params": {"n_estimators": 25, "max_depth": 6},
        "grid": {},
    }
]


@dataclass(frozen=True)
class Trained:
    """A registry with a champion (first) and a second registered version (not promoted)."""

    root: Path
    work: Path
    first: str
    second: str


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    base = tmp_path_factory.mktemp("trained")
    root = base / "root"
    first = train_and_register(str(root), base / "work1", fast_config())
    assert first["promoted"], first
    # A different model family: a second, distinct version to promote in the swap tests.
    second = train_and_register(str(root), base / "work2", fast_config(candidates=FOREST))
    assert second["registered"] and second["version"] != first["version"]
    registry = Registry(str(root))
    if registry.champion_version() != first["version"]:
        registry.promote(first["version"])
    return Trained(root, base / "work1", first["version"], second["version"])


@pytest.fixture
def root(trained: Trained, tmp_path: Path) -> Path:
    """A private copy of the trained registry: tests may promote, corrupt or delete in it."""
    copy = tmp_path / "root"
    shutil.copytree(trained.root / "models", copy / "models")
    return copy


def api_settings(**changes: Any) -> ApiSettings:
    return ApiSettings(**{"admin_token": ADMIN_TOKEN, "poll_seconds": 0.2, **changes})


def serving_for(root: Path, **changes: Any) -> Serving:
    fields = {
        "root": str(root),
        "host": "127.0.0.1",
        "port": 0,
        "health_route": None,
        "predict_route": None,
        **changes,
    }
    return Serving(**fields)


@pytest.fixture
def client(root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings(), serving_for(root))) as c:
        yield c


@pytest.fixture
def live(root: Path) -> Iterator[LiveServer]:
    with LiveServer(create_app(api_settings(), serving_for(root))) as server:
        yield server


def wait_until(check: Any, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def get_json(url: str) -> Any:
    return httpx.get(url, timeout=10).json()
