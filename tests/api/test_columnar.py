"""Columnar batches: CSV and Arrow bodies answer what the JSON body answers, in their own
format, and bad ones get the same kind of 4xx naming the column and row."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient

from mlcycle.api import create_app
from mlcycle.api.columnar import ARROW, CSV, batch_header

from .conftest import Trained, api_settings, serving_for
from .training import load_test_split


def arrow(frame: pd.DataFrame, nan_is_null: bool = True, **options: object) -> bytes:
    if nan_is_null:  # pandas' convention, which pyarrow follows by default
        table = pa.Table.from_pandas(frame, preserve_index=False)
    else:
        table = pa.table({c: pa.array(frame[c].to_numpy()) for c in frame.columns})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(**options)) as w:
        w.write_table(table, max_chunksize=64)  # several record batches, as writers often send
    return sink.getvalue().to_pybytes()


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def read_answer(content: bytes, media_type: str) -> pa.Table:
    if media_type == ARROW:
        return pa.ipc.open_stream(content).read_all()
    return pacsv.read_csv(io.BytesIO(content))


@pytest.fixture
def rows(client: TestClient, trained: Trained) -> pd.DataFrame:
    features = [f["name"] for f in client.get("/v1/schema").json()["features"]]
    return load_test_split(trained.work)[features].reset_index(drop=True)


@pytest.mark.parametrize(
    ("media_type", "encode"), [(CSV, csv), (ARROW, arrow)], ids=["csv", "arrow"]
)
def test_a_columnar_batch_answers_what_the_json_body_answers(
    client: TestClient,
    trained: Trained,
    rows: pd.DataFrame,
    media_type: str,
    encode: Callable[[pd.DataFrame], bytes],
) -> None:
    rows = rows.copy()
    rows.iloc[3, 0] = np.nan  # unknown: an empty CSV cell, an Arrow null, a JSON null
    instances = json.loads(rows.to_json(orient="records"))
    expected = client.post("/v1/predict", json={"instances": instances}).json()["predictions"]
    classes = client.get("/v1/schema").json()["classes"]

    response = client.post(
        "/v1/predict", content=encode(rows), headers={"content-type": media_type}
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["x-model-version"] == trained.first
    table = read_answer(response.content, media_type)
    assert table.column_names == ["label", *(f"probability_{c}" for c in classes), "warnings"]
    assert table.column("label").to_pylist() == [p["label"] for p in expected]
    # The warnings column: the JSON answer's warnings as text, empty for rows without any.
    texts = table.column("warnings").to_pylist()
    none = {"out_of_range": [], "imputed": 0, "unseen_category": []}
    assert [json.loads(t) if t else none for t in texts] == [p["warnings"] for p in expected]
    assert json.loads(texts[3]) == {**none, "imputed": 1}
    assert not texts[0]
    served = np.column_stack([table.column(f"probability_{c}").to_numpy() for c in classes])
    wanted = np.array([[p["probabilities"][c] for c in classes] for p in expected])
    assert np.abs(served - wanted).max() <= 1e-12
    if media_type == ARROW:
        assert table.schema.metadata[b"model_version"] == trained.first.encode()


def test_arrow_headers_give_rows_and_compression_before_decoding(rows: pd.DataFrame) -> None:
    for options, compressed in (({}, False), ({"compression": "zstd"}, True)):
        reader = pa.ipc.MessageReader.open_stream(arrow(rows, **options))
        headers = [
            batch_header(m.metadata.to_pybytes()) for m in reader if m.type == "record batch"
        ]
        assert sum(n for n, _ in headers) == len(rows)
        assert len(headers) > 1 and {c for _, c in headers} == {compressed}


def set_cell(rows: pd.DataFrame, row: int, column: str, value: object) -> pd.DataFrame:
    changed = rows.astype(object)
    changed.loc[row, column] = value
    return changed


def csv_text(rows: pd.DataFrame, row: int, column: str, text: str) -> bytes:
    return csv(set_cell(rows, row, column, f"@{text}@")).replace(
        f"@{text}@".encode(), text.encode()
    )


CASES = {
    # name: (make body, media type, status, instance, field, type)
    "csv: text in a number column": (
        lambda r: csv_text(r, 2, "mean_area", "big"),
        CSV,
        422,
        2,
        "mean_area",
        "float_parsing",
    ),
    "csv: NaN": (
        lambda r: csv_text(r, 1, "mean_radius", "NaN"),
        CSV,
        422,
        1,
        "mean_radius",
        "finite_number",
    ),
    "csv: infinity": (
        lambda r: csv_text(r, 4, "mean_radius", "-inf"),
        CSV,
        422,
        4,
        "mean_radius",
        "finite_number",
    ),
    "csv: absurdly large": (
        lambda r: csv_text(r, 0, "mean_radius", "2.5e12"),
        CSV,
        422,
        0,
        "mean_radius",
        "out_of_range",
    ),
    "csv: missing column": (
        lambda r: csv(r.drop(columns=["mean_area"])),
        CSV,
        422,
        None,
        "mean_area",
        "missing",
    ),
    "csv: unknown column": (
        lambda r: csv(r.assign(colour=1)),
        CSV,
        422,
        None,
        "colour",
        "extra_forbidden",
    ),
    "csv: bytes not UTF-8 in a header name": (
        lambda r: csv(r).replace(b"mean_area", b"mean_area\xff", 1),
        CSV,
        400,
        None,
        "mean_area\ufffd",
        "invalid_utf8",
    ),
    "csv: bytes not UTF-8 in a number cell": (
        lambda r: csv_text(r, 3, "mean_area", "@").replace(b"@", b"1\xff2"),
        CSV,
        400,
        3,
        "mean_area",
        "invalid_utf8",
    ),
    "csv: header only": (lambda r: csv(r.iloc[:0]), CSV, 422, None, "instances", "too_short"),
    "csv: empty body": (lambda r: b"", CSV, 400, None, "body", "invalid_body"),
    "csv: too many rows": (
        lambda r: csv(pd.concat([r, r.iloc[:1]])),
        CSV,
        413,
        None,
        "instances",
        "too_long",
    ),
    "arrow: not arrow": (lambda r: b'{"instances": []}', ARROW, 400, None, "body", "invalid_body"),
    "arrow: empty body": (lambda r: b"", ARROW, 400, None, "body", "invalid_body"),
    "arrow: truncated": (lambda r: arrow(r)[:-100], ARROW, 400, None, "body", "invalid_body"),
    "arrow: a column name not UTF-8": (
        lambda r: arrow(r, nan_is_null=False).replace(b"mean_area", b"mean_are\xff"),
        ARROW,
        400,
        None,
        "mean_are\ufffd",
        "invalid_utf8",
    ),
    "arrow: compressed": (
        lambda r: arrow(r, compression="zstd"),
        ARROW,
        415,
        None,
        "body",
        "compressed",
    ),
    "arrow: text column for a number": (
        lambda r: arrow(r.astype({"mean_area": str})),
        ARROW,
        422,
        None,
        "mean_area",
        "float_type",
    ),
    "arrow: NaN": (
        lambda r: arrow(
            set_cell(r, 3, "mean_radius", float("nan")).astype(float), nan_is_null=False
        ),
        ARROW,
        422,
        3,
        "mean_radius",
        "finite_number",
    ),
    "arrow: dictionary column": (
        lambda r: arrow(r.astype({"mean_area": "category"})),
        ARROW,
        415,
        None,
        "body",
        "dictionary",
    ),
    "arrow: too many rows": (
        lambda r: arrow(pd.concat([r, r.iloc[:1]])),
        ARROW,
        413,
        None,
        "instances",
        "too_long",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_columnar_bodies_name_the_column_and_row(
    root: Path, rows: pd.DataFrame, case: str
) -> None:
    make, media_type, status, instance, field, kind = CASES[case]
    good = rows.iloc[:5]
    with TestClient(create_app(api_settings(max_instances=5), serving_for(root))) as client:
        headers = {"content-type": media_type}
        response = client.post("/v1/predict", content=make(good), headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"  # errors are always JSON
        payload = response.json()
        assert payload["detail"]
        assert {"instance": instance, "field": field, "type": kind} == {
            k: payload["errors"][0][k] for k in ("instance", "field", "type")
        }
        # ...and the server keeps serving.
        assert client.post(
            "/v1/predict", content=csv(good), headers={"content-type": CSV}
        ).is_success


def test_openapi_documents_the_columnar_bodies(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/predict"]["post"]
    assert {"application/json", CSV, ARROW} <= set(operation["requestBody"]["content"])
    assert {"application/json", CSV, ARROW} <= set(operation["responses"]["200"]["content"])
