"""Shared fixtures: one trained registry and one real API per session, the UI in-process (Flask
test client) and under gunicorn (`mlcycle ui`, for the browser), and Debian's Chromium.

The API and the registry are test scaffolding only: the UI package itself reaches the API
through HTTP and never imports it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chromium import EXECUTABLE, FLAGS
from flask import Flask
from flask.testing import FlaskClient

# The API suite's helper: the pipeline's steps called in-process (fast, no kfp.local).
from api.training import fast_config, train_and_register
from mlcycle.api import create_app as create_api
from mlcycle.api.serving import Serving
from mlcycle.api.settings import ApiSettings
from mlcycle.ui import create_app
from support import LiveServer, free_port

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def wait_for(url: str, seconds: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {seconds}s")


def api_server(root: Path) -> LiveServer:
    """The real prediction API serving `root`'s champion (it polls nothing: no swaps here)."""
    serving = Serving(str(root), "127.0.0.1", 0, None, None)
    return LiveServer(create_api(ApiSettings(poll_seconds=60), serving, poll=False))


@pytest.fixture(scope="session")
def served_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry trained in-process (quick, one candidate) for the API this suite talks to;
    not the top-level `trained_root`, which the real kfp.local pipeline builds."""
    base = tmp_path_factory.mktemp("ui-trained")
    registration = train_and_register(str(base / "root"), base / "work", fast_config())
    assert registration["promoted"], registration
    return base / "root"


@pytest.fixture(scope="session")
def api_url(served_root: Path) -> Iterator[str]:
    with api_server(served_root) as server:
        yield server.url


@pytest.fixture(scope="session")
def empty_api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An API that is up but has no model yet (answers 503)."""
    with api_server(tmp_path_factory.mktemp("empty-root")) as server:
        yield server.url


@pytest.fixture(scope="session")
def schema(api_url: str) -> dict[str, Any]:
    return httpx.get(f"{api_url}/v1/schema", timeout=10).json()


def api_predict(api_url: str, instances: list[dict[str, Any]]) -> dict[str, Any]:
    """What the API itself answers, to compare the UI with."""
    response = httpx.post(f"{api_url}/v1/predict", json={"instances": instances}, timeout=10)
    response.raise_for_status()
    return response.json()


def make_app(api: str, **config: Any) -> Flask:
    return create_app({"TESTING": True, "API_URL": api, "API_TIMEOUT": 5.0, **config})


@pytest.fixture(scope="session")
def app(api_url: str) -> Flask:
    return make_app(api_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """The token a real page hands out (CSRF protection stays on in these tests)."""
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class HangingServer:
    """Accepts connections and never answers: an API that times out."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def hanging_url() -> Iterator[str]:
    server = HangingServer()
    yield server.url
    server.close()


@pytest.fixture
def stopped_url() -> str:
    """A port nothing listens on: an API that is down."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def ui_url(api_url: str) -> Iterator[str]:
    """The UI as users run it: `mlcycle ui` (gunicorn, two workers) on a free port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLCYCLE_UI_SECRET_KEY"}
    env["WEB_CONCURRENCY"] = "2"  # CSRF tokens must hold across workers
    process = subprocess.Popen(
        [sys.executable, "-m", "mlcycle.cli", "ui", "--api-url", api_url, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/healthz", process=process)
        yield url
    finally:
        process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown (TERM waits on keep-alives)
        process.wait(10)


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's Chromium through Playwright (never a browser Playwright downloads), with a
    fresh profile."""
    if not Path(EXECUTABLE).exists():
        pytest.fail(f"{EXECUTABLE} is missing: run scripts/ensure-chromium.sh (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=EXECUTABLE,
            args=FLAGS,
            headless=True,
            accept_downloads=True,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(15_000)
        yield context
        context.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    page = browser_context.new_page()
    yield page
    page.close()
