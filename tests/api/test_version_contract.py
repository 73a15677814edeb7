"""The model version's contract on the wire: versions registered before the typed record are
served with the same JSON, and /openapi.json describes the fields clients read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from mlcycle.api import create_app

from .conftest import api_settings, serving_for

# A registry written by main at a1f9801, before ModelVersion existed (tests/data/README.md).
OLD = Path(__file__).parents[1] / "data" / "registry-a1f9801"
OLD_VERSION = "20261202-060209-8656e5"


def _old_client(tmp_path: Path) -> tuple[TestClient, dict]:
    shutil.copytree(OLD / "models", tmp_path / "root" / "models")
    stored = json.loads((OLD / "models/versions" / OLD_VERSION / "metadata.json").read_text())
    return TestClient(create_app(api_settings(), serving_for(tmp_path / "root"))), stored


def test_a_version_registered_before_the_typed_record_is_served_as_stored(tmp_path: Path) -> None:
    client, stored = _old_client(tmp_path)
    with client:
        info = client.get("/v1/model").json()
        assert info["version"] == OLD_VERSION
        assert info["created_at"] == stored["created_at"]
        assert info["candidate"] == stored["model"]["candidate"] == "logistic_regression"
        for field in ("dataset", "metrics", "gate", "lineage", "evaluation", "training"):
            assert info[field] == stored[field], field
        assert info["serving"]["backend"] == "onnxruntime"
        assert info["serving"]["onnx"] == stored["onnx"]
        assert info["artifacts"] == ["confusion_matrix.png", "roc_curve.png"] and info["report"]

        schema = client.get("/v1/schema").json()
        assert schema == {"model_version": OLD_VERSION, **stored["schema"]}

        examples = stored["schema"]["examples"]
        for cls, rows in examples.items():
            response = client.post("/v1/predict", json={"instances": rows})
            assert response.status_code == 200, response.text
            labels = [p["label"] for p in response.json()["predictions"]]
            assert labels.count(cls) >= len(rows) - 1, (cls, labels)
        assert client.get("/v1/model/report").text.count(OLD_VERSION) >= 1


def _properties(spec: dict, name: str) -> dict:
    return spec["components"]["schemas"][name]["properties"]


def _ref(prop: dict) -> str:
    """The component a property points to (directly, or as the non-null half of a union)."""
    for option in [prop, *prop.get("anyOf", []), *prop.get("allOf", [])]:
        if "$ref" in option:
            return option["$ref"].rsplit("/", 1)[-1]
    raise AssertionError(f"no $ref in {prop}")


def test_openapi_describes_every_field_of_the_model_and_its_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    model_ref = paths["/v1/model"]["get"]["responses"]["200"]["content"]["application/json"]
    schema_ref = paths["/v1/schema"]["get"]["responses"]["200"]["content"]["application/json"]
    info = _properties(spec, _ref(model_ref["schema"]))
    assert {
        "version",
        "created_at",
        "dataset",
        "candidate",
        "metrics",
        "metric_descriptions",
        "gate",
        "lineage",
        "evaluation",
        "training",
        "artifacts",
        "report",
        "serving",
    } <= set(info)
    assert {"decision", "promote", "reasons"} <= set(_properties(spec, _ref(info["gate"])))
    assert _properties(spec, _ref(info["gate"]))["decision"]["enum"] == ["promoted", "rejected"]
    lineage = _properties(spec, _ref(info["lineage"]))
    assert {"data_hash", "snapshot_uri", "pipeline_run", "git_commit", "code_version"} <= set(
        lineage
    )
    assert {"parameters", "libraries"} <= set(lineage)
    training = _properties(spec, _ref(info["training"]))
    assert {"chosen", "scoring", "candidates"} <= set(training)
    assert {"classes", "confusion", "test_rows"} <= set(_properties(spec, _ref(info["evaluation"])))
    serving = _properties(spec, _ref(info["serving"]))
    assert {"backend", "loaded_at", "onnx", "last_refusal"} <= set(serving)
    onnx = _properties(spec, _ref(serving["onnx"]))
    assert {"status", "reason", "file", "sha256", "input_dtype", "max_abs_diff"} <= set(onnx)

    schema = _properties(spec, _ref(schema_ref["schema"]))
    assert {"model_version", "label", "classes", "positive_class", "features", "examples"} <= set(
        schema
    )
    feature = _properties(spec, _ref(schema["features"]["items"]))
    assert {"name", "type", "min", "max", "median", "integer", "categories", "mode"} <= set(feature)
    assert feature["type"]["enum"] == ["numeric", "categorical"]
