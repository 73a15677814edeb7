"""`mlcycle serve` as Cloud Run and Vertex AI start it: ports, routes and storage from the
platform's variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mlcycle.api.serving import resolve_serving
from mlcycle.settings import ApiSettings, Platform
from support import free_port

from .conftest import Trained, wait_until


def test_explicit_options_win_then_vertex_then_cloud_run() -> None:
    # model_construct: exactly these values, nothing from this process's environment.
    vertex_env = Platform.model_construct(port=9000, aip_http_port=9100, aip_storage_uri="gs://b/p")
    cloud_run_env, local_env = Platform.model_construct(port=9000), Platform.model_construct()
    settings = ApiSettings.model_construct(root="./.mlcycle")
    other = ApiSettings.model_construct(root="x", host="10.0.0.1")
    assert resolve_serving(settings, vertex_env, "/r", "127.0.0.1", 1234) == resolve_serving(
        other, local_env, "/r", "127.0.0.1", 1234
    )
    vertex = resolve_serving(settings, vertex_env)
    assert (vertex.root, vertex.host, vertex.port) == ("gs://b/p", "0.0.0.0", 9100)
    cloud_run = resolve_serving(settings, cloud_run_env)
    here = str(Path(".mlcycle").resolve())  # the root as it entered, normalised
    assert (cloud_run.root, cloud_run.host, cloud_run.port) == (here, "0.0.0.0", 9000)
    local = resolve_serving(settings, local_env)
    assert (local.host, local.port, local.health_route) == ("127.0.0.1", 8080, None)
    assert resolve_serving(other, cloud_run_env).host == "10.0.0.1"  # MLCYCLE_HOST
    routes = resolve_serving(
        settings, Platform.model_construct(aip_health_route="health", aip_predict_route="/p")
    )
    assert (routes.health_route, routes.predict_route) == ("/health", "/p")


@pytest.fixture
def vertex_server(root: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    env = {
        **os.environ,
        "AIP_HTTP_PORT": str(port),
        "AIP_HEALTH_ROUTE": "/vertex/health",
        "AIP_PREDICT_ROUTE": "/vertex/predict",
        "AIP_STORAGE_URI": str(root),
        "MLCYCLE_ROOT": "/nonexistent",  # AIP_STORAGE_URI must win
    }
    cli = Path(sys.executable).with_name("mlcycle")
    process = subprocess.Popen(
        [str(cli), "serve", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/vertex/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return process.poll() is not None

    try:
        assert wait_until(up, 30) and process.poll() is None, process.stderr
        yield url, process
    finally:
        process.terminate()
        process.wait(10)


def test_vertex_routes_under_aip_variables(vertex_server, trained: Trained) -> None:
    url, _ = vertex_server
    assert httpx.get(f"{url}/vertex/health").json()["model_version"] == trained.first
    example = httpx.get(f"{url}/v1/schema").json()["examples"]["malignant"][0]
    response = httpx.post(f"{url}/vertex/predict", json={"instances": [example], "parameters": {}})
    assert response.status_code == 200
    assert response.json()["predictions"][0]["label"] in ("benign", "malignant")
    # The same prediction on the usual route, and the Vertex route keeps the error contract.
    same = httpx.post(f"{url}/v1/predict", json={"instances": [example]}).json()
    assert same["predictions"] == response.json()["predictions"]
    bad = httpx.post(f"{url}/vertex/predict", json={"instances": [{}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["instance"] == 0
    assert "/vertex/predict" in httpx.get(f"{url}/openapi.json").json()["paths"]


def test_serving_an_onnx_champion_loads_no_dataframe_or_training_library(
    trained: Trained,
) -> None:
    """Cold start (bench/serve.py) depends on it: pandas, pyarrow and scikit-learn take ~0.5 s
    to import. They load on demand only: the scikit-learn fallback, a CSV or Arrow body."""
    code = f"""
import sys
import mlcycle.cli
from mlcycle.api import create_app
from mlcycle.api.serving import resolve_serving
from mlcycle.settings import Platform, get_api_settings
settings = get_api_settings()
app = create_app(settings, resolve_serving(settings, Platform(), {str(trained.root)!r}))
assert app.state.holder.refresh().outcome == "loaded"
print(sorted({{"pandas", "pyarrow", "sklearn", "scipy"}} & set(sys.modules)))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
