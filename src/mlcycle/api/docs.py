"""/docs with no network: Swagger UI's assets come from the fastapi-offline package (FastAPI's
own page loads them from a CDN). ReDoc is off: its page fetches a logo from a CDN even with
local assets, and one docs page is enough."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import (
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

from mlcycle.api.requests import refusal

ASSETS_PATH = "/docs/assets"
# Swagger UI's page starts the bundle with an inline script and styles itself inline.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
)
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


@cache
def assets_dir() -> Path:
    """The package's static folder, found without importing the package (it imports FastAPI's
    app class, which the API does not need)."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed: pip install 'mlcycle[api]'")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def add_docs_routes(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve Swagger UI at /docs from local assets."""
    router = APIRouter(include_in_schema=False)
    redirect = "/docs/oauth2-redirect"

    @router.get("/docs")
    def swagger() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=redirect,
        )
        page.headers["content-security-policy"] = DOCS_CSP
        return page

    @router.get(redirect)
    def oauth2_redirect() -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        page.headers["content-security-policy"] = DOCS_CSP
        return page

    @router.get(ASSETS_PATH + "/{name}")
    def asset(name: str) -> FileResponse:
        if name not in ASSETS:  # a fixed list: never a path from the request
            raise refusal(404, f"no docs asset {name!r}", "name", "not_found")
        return FileResponse(
            assets_dir() / name,
            media_type=ASSETS[name],
            headers={"cache-control": "public, max-age=86400"},
        )

    app.include_router(router)
