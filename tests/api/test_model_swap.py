"""The champion is picked up, swapped and refused as the registry changes, with no failed
request: readiness, the reload endpoint and its auth, integrity checks, a swap under load."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from mlcycle.api import create_app
from mlcycle.model.registry import Registry
from support import LiveServer

from .conftest import ADMIN_TOKEN, Trained, api_settings, serving_for, wait_until

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_reload_needs_the_admin_token(client: TestClient) -> None:
    assert client.post("/v1/model/reload").status_code == 401
    response = client.post("/v1/model/reload", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "Authorization"
    response = client.post("/v1/model/reload", headers={"Authorization": f"Basic {ADMIN_TOKEN}"})
    assert response.status_code == 401
    response = client.post("/v1/model/reload", headers=AUTH)
    assert response.status_code == 200 and response.json()["outcome"] == "unchanged"


def test_reload_is_disabled_without_a_configured_token(root: Path) -> None:
    app = create_app(api_settings(admin_token=None), serving_for(root))
    with TestClient(app) as client:
        response = client.post("/v1/model/reload", headers=AUTH)
        assert response.status_code == 403
        assert "disabled" in response.json()["detail"]


def test_reload_swaps_in_a_promoted_version(root: Path, trained: Trained) -> None:
    app = create_app(api_settings(poll_seconds=3600), serving_for(root))
    with TestClient(app) as client:
        assert client.get("/v1/model").json()["version"] == trained.first
        Registry(str(root)).promote(trained.second)
        response = client.post("/v1/model/reload", headers=AUTH)
        assert response.json() == {
            "outcome": "loaded",
            "model_version": trained.second,
            "detail": "",
        }
        assert client.get("/v1/model").json()["version"] == trained.second
        example = client.get("/v1/schema").json()["examples"]["benign"][0]
        predicted = client.post("/v1/predict", json={"instances": [example]}).json()
        assert predicted["model_version"] == trained.second


def test_a_champion_failing_its_sha256_is_refused_and_the_old_one_serves(
    root: Path, trained: Trained
) -> None:
    app = create_app(api_settings(poll_seconds=3600), serving_for(root))
    with TestClient(app) as client:
        onnx = root / "models" / "versions" / trained.second / "model.onnx"
        onnx.write_bytes(onnx.read_bytes() + b"tampered")
        Registry(str(root)).promote(trained.second)
        response = client.post("/v1/model/reload", headers=AUTH)
        assert response.status_code == 409
        assert response.json()["outcome"] == "refused"
        assert "sha256" in response.json()["detail"]
        assert response.json()["model_version"] == trained.first
        example = client.get("/v1/schema").json()["examples"]["benign"][0]
        predicted = client.post("/v1/predict", json={"instances": [example]})
        assert predicted.status_code == 200 and predicted.json()["model_version"] == trained.first
        assert 'mlcycle_model_refreshes_total{outcome="refused"} 1.0' in client.get("/metrics").text
        assert (
            client.get("/v1/model").json()["serving"]["last_refusal"]["version"] == trained.second
        )


def test_a_pointer_disagreeing_with_the_version_is_refused(root: Path, trained: Trained) -> None:
    app = create_app(api_settings(poll_seconds=3600), serving_for(root))
    with TestClient(app) as client:
        registry = Registry(str(root))
        pointer = registry.promote(trained.second).to_json()
        pointer["sha256"] = "0" * 64
        (root / "models" / "champion.json").write_text(__import__("json").dumps(pointer))
        response = client.post("/v1/model/reload", headers=AUTH)
        assert response.status_code == 409 and "sha256" in response.json()["detail"]


def test_ready_once_a_champion_appears(trained: Trained, tmp_path: Path) -> None:
    root = tmp_path / "root"
    with LiveServer(create_app(api_settings(), serving_for(root))) as server:
        assert httpx.get(f"{server.url}/readyz").status_code == 503
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        # The pipeline writes versions first and the champion pointer last.
        shutil.copytree(trained.root / "models" / "versions", root / "models" / "versions")
        shutil.copy(trained.root / "models" / "champion.json", root / "models" / "champion.json")
        assert wait_until(lambda: httpx.get(f"{server.url}/readyz").status_code == 200)
        assert httpx.get(f"{server.url}/readyz").json()["model_version"] == trained.first


def test_hot_swap_under_load_fails_no_request(root: Path, trained: Trained) -> None:
    """2,000+ requests at concurrency 16 while a new champion is promoted: every one answers
    200, and the answers switch from the old version to the new one for good."""
    total, concurrency = 2400, 16

    async def load(url: str, instance: dict) -> list[tuple[float, int, str]]:
        results: list[tuple[float, int, str]] = []
        sent = 0
        loop = asyncio.get_running_loop()
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

            async def worker() -> None:
                nonlocal sent
                while sent < total:
                    sent += 1
                    if sent == total // 3:  # promote a third of the way in
                        Registry(str(root)).promote(trained.second)
                    response = await http.post("/v1/predict", json={"instances": [instance]})
                    version = (
                        response.json().get("model_version", "") if response.is_success else ""
                    )
                    results.append((loop.time(), response.status_code, version))

            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 120)
        return results

    with LiveServer(create_app(api_settings(poll_seconds=0.1), serving_for(root))) as server:
        instance = httpx.get(f"{server.url}/v1/schema").json()["examples"]["malignant"][0]
        results = asyncio.run(load(server.url, instance))

    statuses = Counter(status for _, status, _ in results)
    assert statuses == {200: len(results)} and len(results) >= 2000
    versions = [version for _, _, version in sorted(results)]
    assert versions[0] == trained.first and versions[-1] == trained.second
    switched = versions.index(trained.second)
    # Once a response came from the new model, later-finishing requests do too
    # (allowing for the requests that were already in flight on the old one).
    assert versions[switched + concurrency :].count(trained.first) == 0


@pytest.mark.parametrize(
    "text",
    ['{"version": "2026', '{"sha256": "00"}', '["a", "list"]', '{"version": 7}'],
    ids=["truncated", "no version", "not an object", "version not a string"],
)
def test_a_malformed_pointer_is_refused_naming_the_file_and_the_old_model_serves(
    root: Path, trained: Trained, text: str
) -> None:
    app = create_app(api_settings(poll_seconds=0.05), serving_for(root))
    with TestClient(app) as client:
        example = client.get("/v1/schema").json()["examples"]["benign"][0]
        pointer = root / "models" / "champion.json"
        pointer.write_text(text)
        response = client.post("/v1/model/reload", headers=AUTH)
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/json"
        payload = response.json()
        assert payload["outcome"] == "refused" and str(pointer) in payload["detail"]
        assert payload["model_version"] == trained.first
        time.sleep(0.2)  # the poller meets the same pointer, and must not stop either
        assert client.get("/readyz").json()["model_version"] == trained.first
        assert client.post("/v1/predict", json={"instances": [example]}).status_code == 200
        assert client.get("/v1/model").json()["serving"]["last_refusal"]["reason"]
