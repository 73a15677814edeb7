"""Pass-through columns (`?passthrough=`): an id or a known outcome sent beside the features is
kept in the answer, row by row, and never fed to the model; without the parameter it is refused."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient

from mlcycle.api.columnar import ARROW, CSV

from .conftest import Trained
from .test_columnar import arrow, csv, read_answer
from .training import load_test_split


@pytest.fixture
def rows(client: TestClient, trained: Trained) -> pd.DataFrame:
    features = [f["name"] for f in client.get("/v1/schema").json()["features"]]
    return load_test_split(trained.work)[features].reset_index(drop=True).head(20)


def with_ids(rows: pd.DataFrame) -> pd.DataFrame:
    ids = [f"{i:03d}" for i in range(len(rows))]  # leading zeros must survive a CSV
    return rows.assign(patient_id=ids, outcome=["benign"] * len(rows))[
        ["patient_id", *rows.columns, "outcome"]
    ]


def labels_of(client: TestClient, rows: pd.DataFrame) -> list[str]:
    instances = json.loads(rows.to_json(orient="records"))
    answer = client.post("/v1/predict", json={"instances": instances}).json()
    return [p["label"] for p in answer["predictions"]]


@pytest.mark.parametrize(
    ("media_type", "encode"), [(CSV, csv), (ARROW, arrow)], ids=["csv", "arrow"]
)
def test_named_columns_are_kept_and_not_fed_to_the_model(
    client: TestClient,
    rows: pd.DataFrame,
    media_type: str,
    encode: Callable[[pd.DataFrame], bytes],
) -> None:
    body = encode(with_ids(rows))
    refused = client.post("/v1/predict", content=body, headers={"content-type": media_type})
    assert refused.status_code == 422
    assert "?passthrough=" in refused.json()["errors"][0]["message"]

    response = client.post(
        "/v1/predict?passthrough=patient_id,outcome",
        content=body,
        headers={"content-type": media_type},
    )
    assert response.status_code == 200, response.text
    if media_type == CSV:  # read back as text: the ids as sent
        table = pacsv.read_csv(
            io.BytesIO(response.content),
            convert_options=pacsv.ConvertOptions(column_types={"patient_id": pa.string()}),
        )
    else:
        table = read_answer(response.content, media_type)
    assert table.column_names[:3] == ["patient_id", "outcome", "label"]
    assert table.column("patient_id").to_pylist() == list(with_ids(rows)["patient_id"])
    assert table.column("label").to_pylist() == labels_of(client, rows)


def test_json_instances_keep_their_passthrough_fields(
    client: TestClient, rows: pd.DataFrame
) -> None:
    instances = json.loads(with_ids(rows).to_json(orient="records"))
    response = client.post(
        "/v1/predict",
        params=[("passthrough", "patient_id"), ("passthrough", "outcome")],
        json={"instances": instances},
    )
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["passthrough"] for p in predictions] == [
        {"patient_id": i["patient_id"], "outcome": "benign"} for i in instances
    ]
    assert [p["label"] for p in predictions] == labels_of(client, rows)


def test_a_feature_cannot_be_passed_through_and_a_named_column_must_exist(
    client: TestClient, rows: pd.DataFrame
) -> None:
    body = csv(with_ids(rows))
    headers = {"content-type": CSV}
    feature = rows.columns[0]
    answer = client.post(f"/v1/predict?passthrough={feature}", content=body, headers=headers)
    assert answer.status_code == 422
    assert any(e["type"] == "passthrough_feature" for e in answer.json()["errors"])
    absent = client.post(
        "/v1/predict?passthrough=patient_id,outcome,ward", content=body, headers=headers
    )
    assert absent.status_code == 422
    assert "pass-through column 'ward' is not in the body" in absent.text


def test_openapi_documents_the_parameter(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/predict"]["post"]
    assert [p["name"] for p in operation["parameters"]] == ["passthrough"]
