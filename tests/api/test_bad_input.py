"""Bad input gets a 4xx naming the field and instance, never a 500; the server keeps serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mlcycle.api import create_app

from .conftest import api_settings, serving_for


@pytest.fixture
def example(client: TestClient) -> dict[str, Any]:
    return client.get("/v1/schema").json()["examples"]["benign"][0]


def body(instances: Any) -> bytes:
    return json.dumps({"instances": instances}).encode()


def with_value(example: dict[str, Any], value: str) -> bytes:
    """Two instances, the second with mean_radius set to raw JSON text (NaN, Infinity...)."""
    good = json.dumps(example)
    bad = json.dumps({k: v for k, v in example.items() if k != "mean_radius"})
    return f'{{"instances": [{good}, {bad[:-1]}, "mean_radius": {value}}}]}}'.encode()


CASES = {
    # name: (make body, status, instance, field, type)
    "not json": (lambda e: b"{instances: [", 400, None, "body", "json_invalid"),
    "empty body": (lambda e: b"", 400, None, "body", "json_invalid"),
    "instances missing": (lambda e: b'{"rows": []}', 422, None, "instances", "missing"),
    "no instances key": (lambda e: b"{}", 422, None, "instances", "missing"),
    "instances empty": (lambda e: body([]), 422, None, "instances", "too_short"),
    "instances not a list": (lambda e: body({"a": 1}), 422, None, "instances", "list_type"),
    "instance not an object": (lambda e: body([e, 7]), 422, 1, "instances", "dict_type"),
    "missing feature": (
        lambda e: body([e, {k: v for k, v in e.items() if k != "mean_area"}]),
        422,
        1,
        "mean_area",
        "missing",
    ),
    "unknown feature": (lambda e: body([{**e, "colour": 3}]), 422, 0, "colour", "extra_forbidden"),
    "string for a number": (
        lambda e: body([{**e, "mean_radius": "12.5"}]),
        422,
        0,
        "mean_radius",
        "float_type",
    ),
    "boolean for a number": (
        lambda e: body([{**e, "mean_radius": True}]),
        422,
        0,
        "mean_radius",
        "float_type",
    ),
    "list for a number": (
        lambda e: body([{**e, "mean_radius": [1]}]),
        422,
        0,
        "mean_radius",
        "float_type",
    ),
    "NaN": (lambda e: with_value(e, "NaN"), 422, 1, "mean_radius", "finite_number"),
    "Infinity": (lambda e: with_value(e, "-Infinity"), 422, 1, "mean_radius", "finite_number"),
    "overflowing number": (
        lambda e: with_value(e, "1e999"),
        422,
        1,
        "mean_radius",
        "finite_number",
    ),
    "absurdly large": (lambda e: with_value(e, "2.5e9"), 422, 1, "mean_radius", "less_than_equal"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_input_names_field_and_instance(
    client: TestClient, example: dict[str, Any], case: str
) -> None:
    make, status, instance, field, kind = CASES[case]
    response = client.post("/v1/predict", content=make(example))
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["detail"]
    assert {"instance": instance, "field": field, "type": kind} == {
        k: payload["errors"][0][k] for k in ("instance", "field", "type")
    }
    # ...and the server keeps serving.
    assert client.post("/v1/predict", content=body([example])).status_code == 200


def test_errors_in_many_instances_are_all_named(
    client: TestClient, example: dict[str, Any]
) -> None:
    instances = [example, {**example, "mean_area": "big"}, example, {**example, "x": 1}]
    errors = client.post("/v1/predict", content=body(instances)).json()["errors"]
    assert [(e["instance"], e["field"]) for e in errors] == [(1, "mean_area"), (3, "x")]


def test_too_many_instances_is_413(root: Path) -> None:
    app = create_app(api_settings(max_instances=5), serving_for(root))
    with TestClient(app) as client:
        example = client.get("/v1/schema").json()["examples"]["benign"][0]
        assert client.post("/v1/predict", content=body([example] * 5)).status_code == 200
        response = client.post("/v1/predict", content=body([example] * 6))
        assert response.status_code == 413
        assert response.json()["errors"][0]["field"] == "instances"


def test_body_over_the_size_limit_is_413(root: Path) -> None:
    app = create_app(api_settings(max_body_bytes=4096), serving_for(root))
    with TestClient(app) as client:
        example = client.get("/v1/schema").json()["examples"]["benign"][0]
        small, big = body([example]), body([example] * 10)
        assert len(small) < 4096 < len(big)
        assert client.post("/v1/predict", content=small).status_code == 200
        response = client.post("/v1/predict", content=big)
        assert response.status_code == 413
        assert response.json()["errors"][0]["field"] == "body"

        def chunks():  # no Content-Length: the limit holds on the bytes actually read
            yield big[:2000]
            yield big[2000:]

        assert client.post("/v1/predict", content=chunks()).status_code == 413


def test_no_model_means_503_saying_to_run_the_pipeline(tmp_path: Path) -> None:
    with TestClient(create_app(api_settings(), serving_for(tmp_path / "empty"))) as client:
        response = client.post("/v1/predict", content=b'{"instances": [{}]}')
        assert response.status_code == 503
        assert "run the training pipeline" in response.json()["detail"].lower()
        for path in ("/v1/model", "/v1/schema", "/readyz"):
            assert client.get(path).status_code == 503
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/x-www-form-urlencoded",
    ],
)
def test_a_body_of_another_type_is_415_not_read_as_json(
    client: TestClient, example: dict[str, Any], content_type: str
) -> None:
    response = client.post(
        "/v1/predict", content=body([example]), headers={"content-type": content_type}
    )
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["errors"][0]
    assert (error["field"], error["type"]) == ("Content-Type", "unsupported_media_type")
    assert content_type.split(";")[0] in response.json()["detail"]
    # JSON, said or not, is read as JSON.
    for said in ({"content-type": "application/json; charset=utf-8"}, {}):
        assert client.post("/v1/predict", content=body([example]), headers=said).is_success


def test_head_on_a_get_route_answers_its_headers_without_the_body(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/v1/schema", "/v1/model", "/openapi.json"):
        get, head = client.get(path), client.head(path)
        assert (head.status_code, head.content) == (200, b""), path
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers["content-length"] == str(len(get.content))
    assert client.head("/v1/predict").status_code == 405
