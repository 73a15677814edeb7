"""GET /v1/model/drift: the latest report `mlcycle monitor` wrote, as a page or as JSON."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from drift_support import log_features, shifted
from mlcycle import monitor
from mlcycle.config import Drift

from .conftest import Trained


def test_before_any_report_the_route_says_how_to_make_one(client: TestClient) -> None:
    response = client.get("/v1/model/drift")
    assert response.status_code == 404
    assert "mlcycle monitor" in response.json()["detail"]


def test_the_latest_report_as_html_or_json(client: TestClient, root: Path, trained: Trained):
    train = pd.read_parquet(trained.work / "split" / "train_set")
    log_features(root, trained.first, shifted(train, "mean_texture", 300))
    first = monitor.measure(str(root), Drift(), timedelta(hours=1))
    monitor.write(str(root), first)
    log_features(root, trained.first, shifted(train, "mean_area", 300, seed=1))
    latest = monitor.measure(str(root), Drift(), timedelta(hours=1))
    monitor.write(str(root), latest)

    page = client.get("/v1/model/drift")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<td>mean_area</td>" in page.text and latest.created_at in page.text

    for response in (
        client.get("/v1/model/drift", params={"format": "json"}),
        client.get("/v1/model/drift", headers={"accept": "application/json"}),
    ):
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["id"] == latest.id != first.id  # the newest, not the first
        assert body["status"] == "alert" and body["version"] == trained.first
        assert body["rows"] == 600
        status = {f["name"]: f["status"] for f in body["features"]}
        assert status["mean_area"] == "alert" and status["mean_texture"] != "ok"
        assert status["mean_smoothness"] == "ok"
    # A browser's Accept asks for HTML first: it gets the page
    browser = client.get("/v1/model/drift", headers={"accept": "text/html,application/json"})
    assert browser.headers["content-type"].startswith("text/html")


def test_an_unknown_format_is_refused_by_name(client: TestClient) -> None:
    response = client.get("/v1/model/drift", params={"format": "xml"})
    assert response.status_code == 422
    assert "format" in response.text and isinstance(response.json()["detail"], str)


def test_the_route_is_documented_with_the_report_s_fields(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    content = spec["paths"]["/v1/model/drift"]["get"]["responses"]["200"]["content"]
    assert {"text/html", "application/json"} <= set(content)
    fields = spec["components"]["schemas"]["DriftReport"]["properties"]
    assert {"status", "message", "version", "rows", "features", "thresholds"} <= set(fields)
