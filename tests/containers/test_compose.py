"""docker-compose.yml, run by podman-compose on podman: what `make run` gives, in containers.

A champion trained by the one-shot pipeline service into the named volume, the API serving
it and the UI answering through the API, on host ports chosen for the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support import free_port

from .conftest import REPO
from .test_serving_images import CSRF, fill, predicted

COMPOSE = [
    str(Path(sys.executable).with_name("podman-compose")),
    "-f",
    str(REPO / "docker-compose.yml"),
]


def compose(project: str, *args: str, env: dict[str, str], timeout: float = 300):
    return subprocess.run(
        [*COMPOSE, "-p", project, *args],
        capture_output=True, text=True, env=env, timeout=timeout, check=False,
    )  # fmt: skip


def wait_for(url: str, seconds: float) -> httpx.Response:
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer 200 within {seconds} s (last: {last})")


@pytest.fixture(scope="module")
def stack(images: dict[str, str], figures) -> Iterator[dict[str, str]]:
    project = f"mlcycle-test-{uuid.uuid4().hex[:6]}"
    api_port, ui_port = free_port(), free_port()
    env = {**os.environ, "MLCYCLE_API_PORT": str(api_port), "MLCYCLE_UI_PORT": str(ui_port)}
    started = time.perf_counter()
    # --no-build: the images are the ones the tier built (tagged :local, as compose names them).
    up = compose(project, "up", "--detach", "--no-build", env=env)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        api, ui = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
        try:
            wait_for(f"{api}/readyz", 240)
            wait_for(f"{ui}/healthz", 60)
        except AssertionError:
            logs = compose(project, "logs", env=env, timeout=60)
            raise AssertionError(logs.stdout[-4000:] + logs.stderr[-2000:]) from None
        figures.record("compose_up_to_ready_seconds", time.perf_counter() - started)
        yield {"api": api, "ui": ui}
    finally:
        compose(project, "down", "--volumes", "--timeout", "2", env=env, timeout=120)


def test_compose_trains_a_champion_and_serves_it(stack: dict[str, str]) -> None:
    ready = httpx.get(f"{stack['api']}/readyz").json()
    model = httpx.get(f"{stack['api']}/v1/model").json()
    assert ready["model_version"] == model["version"]
    assert model["serving"]["backend"] == "onnxruntime", model["serving"]


def test_the_ui_answers_a_real_example_through_the_api(stack: dict[str, str]) -> None:
    schema = httpx.get(f"{stack['api']}/v1/schema").json()
    row = schema["examples"]["malignant"][0]
    expected = httpx.post(f"{stack['api']}/v1/predict", json={"instances": [row]}).json()
    with httpx.Client(timeout=30) as http:
        page = http.get(f"{stack['ui']}/")
        token = CSRF.search(page.text).group(1)
        response = http.post(f"{stack['ui']}/", data={"csrf_token": token, **fill(schema, row)})
    assert response.status_code == 200, response.text[-1500:]
    assert predicted(response.text) == expected["predictions"][0]["label"]
