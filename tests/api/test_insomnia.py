"""The shipped Insomnia export: a v4 export Insomnia imports, with every endpoint, and every
request replayed against a started API with the assertions of the export's own unit tests.

Insomnia's CLI (insomnia-inso 3.6) needs a patched native build on this Node version (see the
project notes), so the replay reads the export here instead: the chai assertions the export
uses are few and fixed, and any other assertion fails this test rather than being skipped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ADMIN_TOKEN, LiveServer

EXPORT = Path(__file__).parents[2] / "insomnia" / "mlcycle.json"
ENDPOINTS = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/v1/predict"),
    ("GET", "/v1/model"),
    ("GET", "/v1/schema"),
    ("POST", "/v1/model/reload"),
    ("GET", "/v1/model/artifacts/roc_curve.png"),
    ("GET", "/v1/model/artifacts/confusion_matrix.png"),
    ("GET", "/v1/model/report"),
}
PREAMBLE = {"const response = await insomnia.send();", "const body = JSON.parse(response.data);"}
STATUS = re.compile(r"^expect\(response\.status\)\.to\.equal\((\d+)\);$")
PROPERTY = re.compile(r"^expect\(body\)\.to\.have\.property\('([^']+)'\);$")
EQUAL = re.compile(r"^expect\(body((?:\.\w+|\[\d+\])+)\)\.to\.equal\((.+)\);$")


@pytest.fixture(scope="module")
def export() -> dict[str, Any]:
    return json.loads(EXPORT.read_text())


def of_type(export: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in export["resources"] if r["_type"] == kind]


def test_export_is_an_insomnia_v4_export(export: dict[str, Any]) -> None:
    assert export["_type"] == "export" and export["__export_format"] == 4
    ids = {r["_id"] for r in export["resources"]}
    assert all(r["parentId"] in ids for r in export["resources"] if r["parentId"])
    (base,) = [e for e in of_type(export, "environment") if e["parentId"].startswith("wrk_")]
    subs = {e["name"]: e for e in of_type(export, "environment") if e["parentId"] == base["_id"]}
    assert {"local", "cloud run"} <= set(subs)
    assert subs["local"]["data"]["base_url"].startswith("http://127.0.0.1")
    assert ".run.app" in subs["cloud run"]["data"]["base_url"]
    assert of_type(export, "request_group")
    sent = {
        (r["method"], r["url"].replace("{{ _.base_url }}", "")) for r in of_type(export, "request")
    }
    assert sent >= ENDPOINTS
    tested = {t["requestId"] for t in of_type(export, "unit_test")}
    assert tested == {r["_id"] for r in of_type(export, "request")}, "every request has a test"


def render(text: str, env: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*_\.(\w+)\s*\}\}", lambda m: env[m.group(1)], text)


def dig(value: Any, path: str) -> Any:
    for key, index in re.findall(r"\.(\w+)|\[(\d+)\]", path):
        value = value[int(index)] if index else value[key]
    return value


def check(code: str, response: httpx.Response) -> int:
    """Apply one unit test's assertions; returns how many were checked."""
    checked = 0
    body = None
    for line in filter(None, (raw.strip() for raw in code.splitlines())):
        if line in PREAMBLE:
            if "JSON.parse" in line:
                body = response.json()
            continue
        if m := STATUS.match(line):
            assert response.status_code == int(m.group(1)), response.text[:300]
        elif m := PROPERTY.match(line):
            assert m.group(1) in body
        elif m := EQUAL.match(line):
            assert dig(body, m.group(1)) == json.loads(m.group(2).replace("'", '"'))
        else:
            raise AssertionError(f"the replay does not understand {line!r}")
        checked += 1
    return checked


def test_every_request_replays_against_the_api(export: dict[str, Any], live: LiveServer) -> None:
    (base,) = [e for e in of_type(export, "environment") if e["parentId"].startswith("wrk_")]
    local = next(e for e in of_type(export, "environment") if e["name"] == "local")
    env = {**base["data"], **local["data"], "base_url": live.url, "admin_token": ADMIN_TOKEN}
    tests = {t["requestId"]: t for t in of_type(export, "unit_test")}
    with httpx.Client(timeout=10) as client:
        for request in of_type(export, "request"):
            headers = {h["name"]: render(h["value"], env) for h in request["headers"]}
            auth = request.get("authentication") or {}
            if auth.get("type") == "bearer":
                headers["Authorization"] = f"Bearer {render(auth['token'], env)}"
            response = client.request(
                request["method"],
                render(request["url"], env),
                headers=headers,
                content=render(request["body"]["text"], env) if request["body"] else None,
            )
            assert check(tests[request["_id"]]["code"], response) >= 1, request["name"]


def test_the_export_covers_every_route_the_api_documents(
    export: dict[str, Any], live: LiveServer
) -> None:
    documented = {
        (method.upper(), path)
        for path, ops in httpx.get(f"{live.url}/openapi.json", timeout=10).json()["paths"].items()
        for method in ops
    }
    sent = {
        (
            r["method"],
            re.sub(
                r"/artifacts/[^/]+$", "/artifacts/{name}", r["url"].replace("{{ _.base_url }}", "")
            ),
        )
        for r in of_type(export, "request")
    }
    assert documented <= sent, documented - sent
