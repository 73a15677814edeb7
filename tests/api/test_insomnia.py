"""The shipped Insomnia export: a v4 export Insomnia imports, with every endpoint, and every
unit test of the export run by Insomnia's own CLI (inso, insomnia-inso 3.6.0) against a
started API: inso sends each request and its chai assertions check status codes and bodies.

`make test` installs inso first (scripts/ensure-inso.sh, into insomnia/cli/node_modules).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import LiveServer

from .conftest import ADMIN_TOKEN

ROOT = Path(__file__).parents[2]
EXPORT = ROOT / "insomnia" / "mlcycle.json"
INSO = ROOT / "insomnia" / "cli" / "node_modules" / ".bin" / "inso"
INSO_VERSION = "3.6.0"
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
    ("GET", "/v1/model/history"),
}
# Mocha's spec reporter (inso 3.6 offers no JSON one): a passed test, then the run's totals.
PASSED = re.compile(r"^\s+✓ (.+?)(?: \(\d+ms\))?$", re.MULTILINE)
TOTAL = re.compile(r"^\s+(\d+) (passing|failing|pending)\b", re.MULTILINE)
COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # in case FORCE_COLOR is set around the run


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
    tests = of_type(export, "unit_test")
    assert {t["requestId"] for t in tests} == {r["_id"] for r in of_type(export, "request")}, (
        "every request has a test"
    )
    names = [t["name"] for t in tests]
    assert len(set(names)) == len(names), "unit test names are unique (the run is read by name)"
    suites = {s["_id"] for s in of_type(export, "unit_test_suite")}
    assert suites and all(t["parentId"] in suites for t in tests)
    for test in tests:
        assert "await insomnia.send()" in test["code"], test["name"]
        assert "expect(response.status).to.equal(" in test["code"], test["name"]


def installed_inso() -> Path:
    """inso, installed by scripts/ensure-inso.sh; a clear failure (never a skip) without it."""
    if not INSO.exists():
        pytest.fail(
            f"Insomnia's CLI is not installed ({INSO.relative_to(ROOT)} is missing): "
            "run `bash scripts/ensure-inso.sh` (make test does)",
            pytrace=False,
        )
    version = subprocess.run([str(INSO), "--version"], capture_output=True, text=True, check=False)
    assert version.stdout.strip() == INSO_VERSION, version
    return INSO


def run_inso(export: dict[str, Any], url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """inso runs every unit test suite of the export's workspace against the API at url."""
    # A copy whose `local` environment points at this server, with its admin token: the
    # shipped export stays as Insomnia imports it.
    local = copy.deepcopy(export)
    (base,) = [e for e in of_type(local, "environment") if e["parentId"].startswith("wrk_")]
    (sub,) = [
        e
        for e in of_type(local, "environment")
        if e["parentId"] == base["_id"] and e["name"] == "local"
    ]
    sub["data"] = {**sub["data"], "base_url": url, "admin_token": ADMIN_TOKEN}
    src = tmp_path / "mlcycle.json"
    src.write_text(json.dumps(local))
    (workspace,) = of_type(local, "workspace")
    # The workspace as identifier: inso runs all of its suites (a suite id would run just one).
    command = [str(installed_inso()), "run", "test", workspace["_id"], "--src", str(src)]
    command += ["--env", sub["_id"], "--ci", "--reporter", "spec"]
    return subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )


def test_inso_runs_every_unit_test_of_the_export_against_the_api(
    export: dict[str, Any], live: LiveServer, tmp_path: Path
) -> None:
    result = run_inso(export, live.url, tmp_path)
    stdout = COLOUR.sub("", result.stdout)
    output = f"$ {' '.join(result.args)}\nexit {result.returncode}\n{stdout}{result.stderr}"
    totals = {kind: int(n) for n, kind in TOTAL.findall(stdout)}
    names = {t["name"] for t in of_type(export, "unit_test")}
    assert result.returncode == 0, output
    assert totals.get("failing", 0) == 0 and totals.get("pending", 0) == 0, output
    assert totals.get("passing") == len(names), output
    assert set(PASSED.findall(stdout)) == names, output


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
