"""Every answer labels at the version's stored operating point: JSON, CSV and Arrow alike; a
version registered before operating points labels by the most probable class."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from fastapi.testclient import TestClient

from mlcycle.api import create_app
from mlcycle.api.columnar import ARROW, CSV

from .conftest import api_settings, serving_for
from .test_version_contract import OLD, OLD_VERSION


def positive_probability(client: TestClient, instance: dict[str, Any], positive: str) -> float:
    response = client.post("/v1/predict", json={"instances": [instance]})
    assert response.status_code == 200, response.text
    return response.json()["predictions"][0]["probabilities"][positive]


def instance_scoring(client: TestClient, target: float) -> tuple[dict[str, Any], float]:
    """A real instance moved along the line from a benign to a malignant example until the
    model gives malignant probability `target` (bisection; the models are monotone on it)."""
    schema = client.get("/v1/schema").json()
    benign, malignant = schema["examples"]["benign"][0], schema["examples"]["malignant"][0]

    def mix(s: float) -> dict[str, Any]:
        return {name: benign[name] + s * (malignant[name] - benign[name]) for name in benign}

    low, high = 0.0, 1.0
    assert positive_probability(client, mix(low), "malignant") < target
    assert positive_probability(client, mix(high), "malignant") > target
    for _ in range(40):
        middle = (low + high) / 2
        p = positive_probability(client, mix(middle), "malignant")
        if abs(p - target) < 0.01:
            return mix(middle), p
        low, high = (middle, high) if p < target else (low, middle)
    raise AssertionError(f"no instance scores {target}")


def columnar_label(client: TestClient, instance: dict[str, Any], media_type: str) -> str:
    frame = pd.DataFrame([instance])
    if media_type == CSV:
        body = frame.to_csv(index=False).encode()
    else:
        sink = pa.BufferOutputStream()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        body = sink.getvalue().to_pybytes()
    response = client.post("/v1/predict", content=body, headers={"content-type": media_type})
    assert response.status_code == 200, response.text
    if media_type == ARROW:
        answer = pa.ipc.open_stream(response.content).read_all()
    else:
        answer = pacsv.read_csv(io.BytesIO(response.content))
    return answer.column("label").to_pylist()[0]


def test_labels_follow_the_stored_threshold_in_json_csv_and_arrow(client: TestClient) -> None:
    point = client.get("/v1/model").json()["operating_point"]
    threshold = point["threshold"]
    assert point["positive_class"] == "malignant" and point["chosen_by"] == "target_recall"
    assert 0.02 < threshold < 0.45  # the shipped config asks for a high recall
    # Between the threshold and 0.5: the most probable class is benign, the label malignant.
    instance, p = instance_scoring(client, (threshold + 0.5) / 2)
    assert threshold < p < 0.5
    answer = client.post("/v1/predict", json={"instances": [instance]}).json()
    assert answer["predictions"][0]["label"] == "malignant"
    assert columnar_label(client, instance, CSV) == "malignant"
    assert columnar_label(client, instance, ARROW) == "malignant"
    # Below the threshold: benign everywhere.
    below, p = instance_scoring(client, threshold / 2)
    assert p < threshold
    answer = client.post("/v1/predict", json={"instances": [below]}).json()
    assert answer["predictions"][0]["label"] == "benign"
    assert columnar_label(client, below, CSV) == columnar_label(client, below, ARROW) == "benign"


def test_a_version_registered_before_operating_points_labels_by_argmax(tmp_path: Path) -> None:
    shutil.copytree(OLD / "models", tmp_path / "root" / "models")
    with TestClient(create_app(api_settings(), serving_for(tmp_path / "root"))) as client:
        info = client.get("/v1/model").json()
        assert info["version"] == OLD_VERSION and "operating_point" not in info
        instance, p = instance_scoring(client, 0.3)
        assert 0.2 < p < 0.5
        answer = client.post("/v1/predict", json={"instances": [instance]}).json()
        assert answer["predictions"][0]["label"] == "benign"
        assert columnar_label(client, instance, CSV) == "benign"
        assert columnar_label(client, instance, ARROW) == "benign"
        above, p = instance_scoring(client, 0.7)
        assert columnar_label(client, above, ARROW) == "malignant" and p > 0.5
