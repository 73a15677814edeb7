"""When the API is down, slow, empty or the request is wrong: friendly pages with the right
status, never a traceback; and the UI's own safety settings."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from mlcycle.ui import create_app

from .conftest import make_app
from .html import parse

PAGES = ("/", "/batch", "/model")


def assert_friendly(response: Any, status: int, words: str) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == status
    doc = parse(html)
    assert doc.find("h1").text() == "The prediction service is unavailable"
    assert words in doc.find("section", class_="error-page").text()
    assert "Traceback" not in html and "httpx" not in html and "Error:" not in html


def test_a_stopped_api_gives_the_502_page_on_every_page(stopped_url: str) -> None:
    client = make_app(stopped_url).test_client()
    for path in PAGES:
        assert_friendly(client.get(path), 502, "cannot be reached")
    assert client.get("/healthz").status_code == 200  # the UI itself is fine


def test_a_stopped_api_on_submit_gives_the_502_page(stopped_url: str) -> None:
    client = make_app(stopped_url, WTF_CSRF_ENABLED=False).test_client()
    assert_friendly(client.post("/", data={"f.x": "1"}), 502, "cannot be reached")


def test_an_api_that_does_not_answer_gives_503_after_the_timeout(hanging_url: str) -> None:
    response = make_app(hanging_url, API_TIMEOUT=0.3).test_client().get("/")
    assert_friendly(response, 503, "did not answer in time")
    assert response.headers["Retry-After"]


def test_an_api_without_a_model_gives_503_saying_so(empty_api_url: str) -> None:
    response = make_app(empty_api_url).test_client().get("/")
    assert_friendly(response, 503, "has no model yet")
    assert "/models" not in response.get_data(as_text=True)  # the registry's path stays inside


def test_an_image_from_a_stopped_api_gives_the_502_page(stopped_url: str) -> None:
    down = make_app(stopped_url).test_client()
    assert_friendly(down.get("/model/artifacts/roc_curve.png"), 502, "cannot be reached")


def test_debug_is_off_even_when_flask_debug_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app()
    assert app.debug is False and app.testing is False


def test_an_unexpected_error_is_a_500_page_without_traceback(api_url: str) -> None:
    app: Flask = create_app({"API_URL": api_url})  # not TESTING: errors are handled as in prod

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in html
    assert "secret internals" not in html and "Traceback" not in html


def test_unknown_pages_are_a_friendly_404(client: Any) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert parse(response.get_data(as_text=True)).find("h1").text() == "Page not found"


def test_pages_send_security_headers(client: Any) -> None:
    headers = client.get("/").headers
    assert "script-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_behind_https_the_session_cookie_is_secure_and_hsts_is_sent(
    api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .conftest import make_app

    forwarded = {"X-Forwarded-Proto": "https"}
    monkeypatch.setenv("MLCYCLE_UI_PROXY_HOPS", "1")  # as on Cloud Run: one proxy, trusted
    behind = make_app(api_url).test_client().get("/", headers=forwarded)
    assert "; Secure" in behind.headers["Set-Cookie"]
    assert behind.headers["Strict-Transport-Security"].startswith("max-age=")
    # Over plain HTTP (a local UI) the cookie must not be Secure, or browsers would drop it.
    plain = make_app(api_url).test_client().get("/")
    assert "Secure" not in plain.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in plain.headers
    # With no proxy configured, a client cannot claim HTTPS.
    monkeypatch.delenv("MLCYCLE_UI_PROXY_HOPS")
    spoofed = make_app(api_url).test_client().get("/", headers=forwarded)
    assert "Secure" not in spoofed.headers["Set-Cookie"]
