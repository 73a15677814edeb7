"""The endpoints users rely on, through HTTP (TestClient): predictions match the registered
scikit-learn model, and the model's facts are the registry's."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlcycle.model.candidates import prepare_features
from mlcycle.model.registry import Registry

from .conftest import Trained
from .training import load_test_split


def sklearn_proba(trained: Trained, rows: pd.DataFrame) -> np.ndarray:
    registry = Registry(str(trained.root))
    meta = registry.get(trained.first)
    types = meta.feature_schema.feature_types()
    return registry.load_model(trained.first, meta).predict_proba(prepare_features(rows, types))


def test_examples_get_their_class_with_probabilities(client: TestClient, trained: Trained) -> None:
    schema = client.get("/v1/schema").json()
    for cls in schema["classes"]:
        response = client.post("/v1/predict", json={"instances": schema["examples"][cls]})
        assert response.status_code == 200
        body = response.json()
        assert body["model_version"] == trained.first
        for prediction in body["predictions"]:
            assert set(prediction["probabilities"]) == set(schema["classes"])
            assert math.isclose(sum(prediction["probabilities"].values()), 1.0, abs_tol=1e-5)
            assert prediction["label"] == max(
                prediction["probabilities"], key=prediction["probabilities"].get
            )


def test_batch_matches_scikit_learn_on_the_test_split(client: TestClient, trained: Trained) -> None:
    test = load_test_split(trained.work)
    features = [f["name"] for f in client.get("/v1/schema").json()["features"]]
    instances = json.loads(test[features].to_json(orient="records"))
    response = client.post("/v1/predict", json={"instances": instances})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == len(test)
    classes = client.get("/v1/schema").json()["classes"]
    served = np.array([[p["probabilities"][c] for c in classes] for p in predictions])
    assert np.abs(served - sklearn_proba(trained, test)).max() <= 1e-5
    assert client.get("/v1/model").json()["serving"]["backend"] == "onnxruntime"


def test_null_is_imputed_like_a_missing_training_value(
    client: TestClient, trained: Trained
) -> None:
    schema = client.get("/v1/schema").json()
    instance = dict(schema["examples"]["malignant"][0], mean_radius=None)
    response = client.post("/v1/predict", json={"instances": [instance]})
    assert response.status_code == 200
    expected = sklearn_proba(trained, pd.DataFrame([instance]).astype(float))[0]
    got = [response.json()["predictions"][0]["probabilities"][c] for c in schema["classes"]]
    assert np.abs(np.array(got) - expected).max() <= 1e-5


def test_model_reports_the_registry_facts(client: TestClient, trained: Trained) -> None:
    meta = Registry(str(trained.root)).get(trained.first)
    info = client.get("/v1/model").json()
    assert info["version"] == trained.first
    assert info["created_at"] == meta.created_at
    assert info["metrics"] == meta.metrics
    assert info["gate"]["decision"] == "promoted" and info["gate"]["reasons"]
    assert info["lineage"]["data_hash"] == meta.lineage.data_hash
    assert sorted(info["artifacts"]) == [
        "calibration_curve.png",
        "confusion_matrix.png",
        "roc_curve.png",
    ]
    assert info["serving"]["onnx"]["status"] == "exported"


def test_schema_lists_every_feature_with_ranges(client: TestClient, trained: Trained) -> None:
    schema = client.get("/v1/schema").json()
    assert schema["model_version"] == trained.first
    assert schema["classes"] == ["benign", "malignant"]
    assert len(schema["features"]) == 30
    radius = next(f for f in schema["features"] if f["name"] == "mean_radius")
    assert radius["type"] == "numeric" and radius["min"] < radius["median"] < radius["max"]
    assert all(len(rows) >= 1 for rows in schema["examples"].values())


def test_artifacts_serve_images_and_nothing_else(client: TestClient) -> None:
    for name in ("roc_curve.png", "confusion_matrix.png"):
        response = client.get(f"/v1/model/artifacts/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert response.content.startswith(b"\x89PNG")
    for name in ("model.joblib", "model.onnx", "metadata.json", "x.png"):
        response = client.get(f"/v1/model/artifacts/{name}")
        assert response.status_code == 404, name
        assert response.json()["errors"][0]["field"] == "name"
    # A path that climbs out of the version folder matches no route at all.
    response = client.get("/v1/model/artifacts/..%2F..%2Fchampion.json")
    assert response.status_code == 404 and b"sha256" not in response.content


def test_health_readiness_and_metrics(client: TestClient, trained: Trained) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model_version"] == trained.first
    example = client.get("/v1/schema").json()["examples"]["malignant"][0]
    client.post("/v1/predict", json={"instances": [example, example]})
    client.post("/v1/predict", content=b"{")
    text = client.get("/metrics").text
    assert (
        f'mlcycle_model_loaded_info{{backend="onnxruntime",model_version="{trained.first}"}} 1.0'
        in text
    )
    assert 'mlcycle_http_requests_total{method="POST",route="/v1/predict",status="200"} 1.0' in text
    assert 'mlcycle_http_requests_total{method="POST",route="/v1/predict",status="400"} 1.0' in text
    assert 'route="/v1/schema",status="200"' in text
    assert (
        'mlcycle_http_request_duration_seconds_count{route="/v1/predict",status="400"} 1.0' in text
    )
    predicted = client.post("/v1/predict", json={"instances": [example]}).json()
    label = predicted["predictions"][0]["label"]
    line = f'mlcycle_predictions_total{{label="{label}",model_version="{trained.first}"}} 3.0'
    assert line in client.get("/metrics").text


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
def test_openapi_documents_the_served_features(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200
    spec = client.get("/openapi.json").json()
    instance = spec["components"]["schemas"]["Instance"]
    assert "mean_radius" in instance["properties"] and instance["additionalProperties"] is False
    assert len(instance["required"]) == 30


def test_model_report_is_the_champion_s_html_page(client: TestClient, trained: Trained) -> None:
    assert client.get("/v1/model").json()["report"] is True
    response = client.get("/v1/model/report")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert trained.first in response.text and "Gate decision" in response.text
