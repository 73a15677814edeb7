"""A stalled bucket cannot take the API down: with every storage read blocked, the health
checks and the model's info still answer at once, artifact reads and reloads answer 504 within
the storage timeout, /readyz says what is wrong, and all recovers when storage does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from mlcycle import storage
from mlcycle.api import create_app
from support import LiveServer

from .conftest import ADMIN_TOKEN, api_settings, serving_for, wait_until

TIMEOUT = 1.0  # MLCYCLE_STORAGE_TIMEOUT_SECONDS in these tests
REQUESTS = 45  # more than the threads that answer sync routes (40)


@pytest.fixture
def stalled(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, threading.Event]]:
    """A started API, then storage that blocks every read until the event is set."""
    app = create_app(api_settings(storage_timeout_seconds=TIMEOUT), serving_for(root))
    with LiveServer(app) as server:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        release = threading.Event()
        read = storage.read_bytes

        def blocked(uri: str) -> bytes:
            release.wait(30)
            return read(uri)

        monkeypatch.setattr(storage, "read_bytes", blocked)
        try:
            yield server.url, release
        finally:
            release.set()


def test_a_stalled_bucket_leaves_health_and_model_info_answering(
    stalled: tuple[str, threading.Event],
) -> None:
    url, release = stalled
    with ThreadPoolExecutor(REQUESTS) as pool:
        artifacts = [
            pool.submit(httpx.get, f"{url}/v1/model/artifacts/roc_curve.png", timeout=20)
            for _ in range(REQUESTS)
        ]
        time.sleep(0.3)  # the artifact requests are all waiting on storage now
        for path in ("/healthz", "/readyz", "/v1/model", "/v1/schema"):
            assert httpx.get(f"{url}{path}", timeout=2).status_code == 200, path
        answers = [a.result() for a in artifacts]
    assert {a.status_code for a in answers} == {504}
    assert all(a.headers["content-type"] == "application/json" for a in answers)
    assert "did not answer within 1 s" in answers[0].json()["detail"]
    assert max(a.elapsed.total_seconds() for a in answers) < TIMEOUT + 4
    # A reload waits no longer than the storage timeout either.
    began = time.monotonic()
    reload = httpx.post(
        f"{url}/v1/model/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=20
    )
    assert reload.status_code == 504 and time.monotonic() - began < TIMEOUT + 4
    # Readiness: the model in memory still serves, and the detail says what is failing.
    ready = wait_until(lambda: httpx.get(f"{url}/readyz", timeout=1).json()["detail"], 5)
    assert "did not answer" in ready
    assert httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    # Storage back: the next check clears the problem.
    release.set()
    assert wait_until(lambda: httpx.get(f"{url}/readyz").json()["detail"] is None, 10)
    assert httpx.get(f"{url}/v1/model/artifacts/roc_curve.png").status_code == 200
