"""Cloud Run stand-in: the `api` and `ui` images started as deploy/cloudrun/deploy.sh
configures them (PORT, the image's non-root user, the CPU and memory deployed, the bucket
root and the secrets in the environment), against a registry in a GCS emulator bucket."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.training import fast_config, train_and_register
from mlcycle.api import create_app
from mlcycle.api.settings import ApiSettings
from mlcycle.model.registry import Registry

from . import cloudrun
from .conftest import podman, rss_mib

FOREST = [
    {
        "name": "random_forest",
        "estimator": "random_forest",
        "params": {"n_estimators": 50, "random_state": 0},
        "grid": {},
    }
]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def registry_root(gcs_emulator: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A bucket root with a champion and a second, distinct version to promote later."""
    root = f"gs://{gcs_emulator}/cloud-run-{uuid.uuid4().hex[:6]}"
    work = tmp_path_factory.mktemp("cloud-run")
    first = train_and_register(root, work / "1", fast_config())
    second = train_and_register(root, work / "2", fast_config(candidates=FOREST))
    assert first["promoted"] and second["registered"], (first, second)
    registry = Registry(root)
    if registry.champion_version() != first["version"]:
        registry.promote(first["version"])
    return {"root": root, "first": first["version"], "second": second["version"]}


@pytest.fixture(scope="module")
def api(
    images: dict[str, str], registry_root: dict[str, str], gcs_emulator: str, figures
) -> Iterator[cloudrun.Service]:
    import os

    env = {
        "MLCYCLE_ROOT": registry_root["root"],  # deploy.sh's --root, here the emulator's
        "MLCYCLE_ADMIN_TOKEN": cloudrun.token(),
        "STORAGE_EMULATOR_HOST": os.environ["STORAGE_EMULATOR_HOST"],
    }
    service = cloudrun.start(images["api"], "api", f"mlcycle-api-{uuid.uuid4().hex[:6]}", env)
    try:
        figures.record("api_cold_start_seconds_in_container", service.wait_ready("/readyz", 10))
        figures.record("api_idle_rss_mib_in_container", rss_mib(service.name))
        yield service
    finally:
        print(service.logs()[-3000:])
        service.stop()


def test_the_api_answers_ready_as_its_non_root_user_and_serves_onnx(
    api: cloudrun.Service, registry_root: dict[str, str]
) -> None:
    assert podman("exec", api.name, "id", "-u").stdout.strip() == "10001"
    spec = cloudrun.deployed("api")
    limits = podman("inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}",
                    api.name).stdout.split()  # fmt: skip
    assert limits == [str(cloudrun.memory_bytes(spec.memory)), str(int(float(spec.cpu) * 1e9))]
    model = httpx.get(f"{api.url}/v1/model").json()
    assert model["version"] == registry_root["first"]
    assert model["serving"]["backend"] == "onnxruntime", model["serving"]


def test_its_predictions_equal_the_local_server_s(
    api: cloudrun.Service, registry_root: dict[str, str]
) -> None:
    schema = httpx.get(f"{api.url}/v1/schema").json()
    instances = [row for rows in schema["examples"].values() for row in rows]
    assert instances
    remote = httpx.post(f"{api.url}/v1/predict", json={"instances": instances}).json()
    local_app = create_app(ApiSettings(root=registry_root["root"]), poll=False)
    with TestClient(local_app) as local:
        expected = local.post("/v1/predict", json={"instances": instances}).json()
    assert remote["model_version"] == expected["model_version"] == registry_root["first"]
    assert remote["predictions"] == expected["predictions"]


def test_a_promoted_champion_is_swapped_in_with_no_failed_request(
    api: cloudrun.Service, registry_root: dict[str, str]
) -> None:
    """Requests at concurrency 8 while the champion moves in the bucket: every one is 200,
    and the answers switch to the new version for good (the API polls the pointer)."""
    first, second = registry_root["first"], registry_root["second"]
    instance = httpx.get(f"{api.url}/v1/schema").json()["examples"]["malignant"][0]

    async def load() -> list[tuple[float, int, str]]:
        results: list[tuple[float, int, str]] = []
        loop = asyncio.get_running_loop()
        promoted_at: list[float] = []
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:

            async def worker() -> None:
                while len(results) < 6000:
                    now = loop.time()
                    if promoted_at and now - promoted_at[0] > 8:
                        return  # 8 s after the promotion: the swap is long done
                    if not promoted_at and len(results) >= 300:
                        promoted_at.append(now)
                        await asyncio.to_thread(Registry(registry_root["root"]).promote, second)
                    response = await http.post("/v1/predict", json={"instances": [instance]})
                    body: dict[str, Any] = response.json() if response.is_success else {}
                    results.append((loop.time(), response.status_code, body.get("model_version")))

            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(8))), 90)
        return results

    try:
        results = asyncio.run(load())
    finally:
        Registry(registry_root["root"]).promote(first)
        serving(api, instance, first)  # the tests after this one expect the first champion
    assert Counter(status for _, status, _ in results) == {200: len(results)}
    versions = [version for _, _, version in sorted(results)]
    assert versions[0] == first and versions[-1] == second, Counter(versions)
    switched = versions.index(second)
    assert versions[switched + 8 :].count(first) == 0


def serving(api: cloudrun.Service, instance: dict[str, Any], version: str) -> None:
    """Wait (at most 60 s, on a loaded machine) until the API answers with `version`."""
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.post(f"{api.url}/v1/predict", json={"instances": [instance]}, timeout=30)
        if answer.json().get("model_version") == version:
            return
        assert time.monotonic() < deadline, f"the API still serves {answer.json()}"
        time.sleep(0.5)


# -- the UI ---------------------------------------------------------------------------------


def start_ui(
    images: dict[str, str], api: cloudrun.Service, secret_values: dict[str, str] | None
) -> cloudrun.Service:
    """A UI instance; `secret_values=None`: as if no secret were deployed."""
    env = {"MLCYCLE_API_URL": api.url, **(secret_values or {})}
    name = f"mlcycle-ui-{uuid.uuid4().hex[:6]}"
    service = cloudrun.start(images["ui"], "ui", name, env, secrets=secret_values is not None)
    try:
        service.wait_ready("/healthz", 20)
    except AssertionError:
        service.stop()
        raise
    return service


@pytest.fixture(scope="module")
def ui_secrets() -> dict[str, str]:
    """One value per secret deploy.sh gives the UI, shared by its instances as Secret
    Manager's version is."""
    return {name: cloudrun.token() for name in cloudrun.deployed("ui").secrets}


@pytest.fixture
def two_uis(images, api, ui_secrets) -> Iterator[tuple[cloudrun.Service, cloudrun.Service]]:
    a = start_ui(images, api, ui_secrets)
    try:
        b = start_ui(images, api, ui_secrets)
    except AssertionError:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def form_for(http: httpx.Client, ui: cloudrun.Service) -> tuple[str, dict[str, Any]]:
    page = http.get(f"{ui.url}/")
    assert page.status_code == 200, page.text[-2000:]
    match = CSRF.search(page.text)
    assert match, page.text[-2000:]
    return match.group(1), page.cookies


def fill(schema: dict[str, Any], instance: dict[str, Any]) -> dict[str, str]:
    return {
        f"f.{f['name']}": "" if instance[f["name"]] is None else str(instance[f["name"]])
        for f in schema["features"]
    }


def predicted(html: str) -> str:
    match = re.search(r'data-testid="predicted"[^>]*>([^<]+)<', html)
    assert match, html[-2000:]
    return match.group(1).strip()


def test_two_ui_instances_with_the_deployed_secret_accept_each_other_s_forms(
    two_uis: tuple[cloudrun.Service, cloudrun.Service], api: cloudrun.Service
) -> None:
    """Cloud Run routes a form's POST to any instance: a token one instance handed out must
    pass at another, and the answer is the API's (a real example round trip)."""
    a, b = two_uis
    assert podman("exec", a.name, "id", "-u").stdout.strip() == "10001"
    schema = httpx.get(f"{api.url}/v1/schema").json()
    for cls, rows in schema["examples"].items():
        expected = httpx.post(f"{api.url}/v1/predict", json={"instances": [rows[0]]}).json()
        with httpx.Client(timeout=30) as http:
            token, _ = form_for(http, a)
            response = http.post(f"{b.url}/", data={"csrf_token": token, **fill(schema, rows[0])})
        assert response.status_code == 200, (cls, response.status_code, response.text[-1500:])
        assert predicted(response.text) == expected["predictions"][0]["label"]
        assert expected["model_version"] in response.text


def test_without_a_shared_secret_the_other_instance_refuses_the_form(
    images: dict[str, str], api: cloudrun.Service
) -> None:
    """The control: each instance with its own random key (no secret deployed) refuses the
    other's token, which is what the shared secret fixes."""
    a, b = start_ui(images, api, None), None
    try:
        b = start_ui(images, api, None)
        schema = httpx.get(f"{api.url}/v1/schema").json()
        row = next(iter(schema["examples"].values()))[0]
        with httpx.Client(timeout=30) as http:
            token, _ = form_for(http, a)
            response = http.post(f"{b.url}/", data={"csrf_token": token, **fill(schema, row)})
        assert response.status_code == 400
    finally:
        a.stop()
        if b:
            b.stop()
