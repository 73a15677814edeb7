"""The API's interactive docs in Chromium with no network: every request that does not go to
127.0.0.1 is aborted, as on a machine offline. The assets come from a package, not a CDN."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import httpx


def offline(page: Any) -> list[str]:
    """Abort every request that leaves 127.0.0.1; returns the list of what was aborted."""
    aborted: list[str] = []

    def route(r: Any) -> None:
        if urlparse(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            aborted.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return aborted


def test_swagger_ui_lists_the_operations_offline(page: Any, api_url: str) -> None:
    aborted = offline(page)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{api_url}/docs")
    operations = page.locator(".opblock-summary-path")
    operations.first.wait_for()
    paths = {p.strip().replace("\u200b", "") for p in operations.all_inner_texts()}
    assert {"/v1/predict", "/v1/schema", "/v1/model", "/healthz"} <= paths
    assert errors == [] and aborted == []


def test_redoc_is_off(api_url: str) -> None:
    # ReDoc's page fetches a logo from a CDN even with local assets: it is not served.
    assert httpx.get(f"{api_url}/redoc").status_code == 404


def test_docs_assets_are_a_fixed_list(api_url: str) -> None:
    assert httpx.get(f"{api_url}/docs/assets/swagger-ui.css").status_code == 200
    assert httpx.get(f"{api_url}/docs/assets/..%2Fcore.py").status_code == 404
    assert httpx.get(f"{api_url}/docs/assets/core.py").status_code == 404
