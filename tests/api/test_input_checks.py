"""Inputs the model has never seen, through the real API: a value a little outside the training
range is answered with a warning naming it, and so is a categorical value never seen in
training; one far outside it, one across a declared bound and an instance mostly missing are
refused (422) naming the field and the instance; in every body format and on Vertex AI's route,
under the version's own serving rules."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient

from mlcycle import predictions
from mlcycle.api import create_app
from mlcycle.api.columnar import ARROW, CSV
from mlcycle.api.models import PredictResponse

from .conftest import api_settings, serving_for
from .test_version_contract import OLD, OLD_VERSION
from .training import fast_config, train_and_register, train_mixed

NONE = {"out_of_range": [], "imputed": 0, "unseen_category": []}


@pytest.fixture
def schema(client: TestClient) -> dict[str, Any]:
    return client.get("/v1/schema").json()


def example(schema: dict[str, Any], cls: str = "benign", n: int = 0) -> dict[str, Any]:
    return dict(schema["examples"][cls][n])


def feature(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["features"] if f["name"] == name)


def predict(client: TestClient, instances: list[dict[str, Any]], path: str = "/v1/predict"):
    return client.post(path, json={"instances": instances})


def test_a_value_a_little_out_of_range_is_answered_with_a_warning_naming_it(
    client: TestClient, schema: dict[str, Any]
) -> None:
    texture = feature(schema, "mean_texture")
    plain, outside = example(schema), example(schema)
    outside["mean_texture"] = texture["max"] + 5.0  # 5 past the largest seen, well within 1 width
    response = predict(client, [plain, outside])
    assert response.status_code == 200, response.text
    body = response.json()
    PredictResponse.model_validate(body)  # the documented type
    first, second = body["predictions"]
    assert first["warnings"] == NONE
    assert second["warnings"] == {
        "out_of_range": [
            {
                "feature": "mean_texture",
                "value": texture["max"] + 5.0,
                "min": texture["min"],
                "max": texture["max"],
            }
        ],
        "imputed": 0,
        "unseen_category": [],
    }
    # Below the smallest value seen is outside too; the two features are listed in schema order.
    radius = feature(schema, "mean_radius")
    both = {**outside, "mean_radius": radius["min"] / 2}
    warnings = predict(client, [both]).json()["predictions"][0]["warnings"]
    assert [w["feature"] for w in warnings["out_of_range"]] == ["mean_radius", "mean_texture"]


def test_imputed_features_are_counted(client: TestClient, schema: dict[str, Any]) -> None:
    instance = example(schema)
    for name in ("mean_radius", "worst_area", "texture_error"):
        instance[name] = None
    prediction = predict(client, [instance]).json()["predictions"][0]
    assert prediction["warnings"] == {**NONE, "imputed": 3}


@pytest.mark.parametrize(
    ("value", "kind", "words"),
    [
        (-5.0, "below_bound", "below 0, the least mean_texture can be"),
        (1e6, "out_of_range", "too far outside the training range"),
        (-1e6, "below_bound", "below 0"),
    ],
    ids=["-5: below the declared bound", "1e6: far out", "-1e6: below the bound"],
)
def test_values_the_model_cannot_answer_for_are_refused_naming_field_and_instance(
    client: TestClient, schema: dict[str, Any], value: float, kind: str, words: str
) -> None:
    bad = {**example(schema), "mean_texture": value}
    response = predict(client, [example(schema), example(schema, n=1), bad])
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["instance"], e["field"], e["type"]) for e in errors] == [(2, "mean_texture", kind)]
    assert words in errors[0]["message"]


def test_the_refusal_limit_is_range_tolerance_widths_outside_the_range(
    client: TestClient, schema: dict[str, Any]
) -> None:
    texture = feature(schema, "mean_texture")
    width = texture["max"] - texture["min"]
    inside = predict(client, [{**example(schema), "mean_texture": texture["max"] + 0.99 * width}])
    assert inside.status_code == 200
    warned = inside.json()["predictions"][0]["warnings"]["out_of_range"]
    assert [w["feature"] for w in warned] == ["mean_texture"]
    beyond = predict(client, [{**example(schema), "mean_texture": texture["max"] + 1.01 * width}])
    assert beyond.status_code == 422
    assert beyond.json()["errors"][0]["type"] == "out_of_range"


def test_an_instance_mostly_missing_is_refused_an_empty_one_too(
    client: TestClient, schema: dict[str, Any]
) -> None:
    names = [f["name"] for f in schema["features"]]
    assert len(names) == 30
    half = {**example(schema), **dict.fromkeys(names[:15], None)}  # 15 of 30: at most half
    answered = predict(client, [half])
    assert answered.status_code == 200, answered.text
    assert answered.json()["predictions"][0]["warnings"]["imputed"] == 15
    more = {**example(schema), **dict.fromkeys(names[:16], None)}
    empty = dict.fromkeys(names, None)
    response = predict(client, [example(schema), more, empty])
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["instance"], e["field"], e["type"]) for e in errors] == [
        (1, "instances", "too_many_missing"),
        (2, "instances", "too_many_missing"),
    ]
    assert errors[1]["message"].startswith("30 of 30 features are missing; at most 15 may be")


def table_of(instances: list[dict[str, Any]], schema: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(instances)[[f["name"] for f in schema["features"]]]


def encode(frame: pd.DataFrame, media_type: str) -> bytes:
    if media_type == CSV:
        return frame.to_csv(index=False).encode()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def decode(content: bytes, media_type: str) -> pa.Table:
    if media_type == ARROW:
        return pa.ipc.open_stream(content).read_all()
    return pacsv.read_csv(io.BytesIO(content))


def post_table(
    client: TestClient, rows: list[dict[str, Any]], schema: dict[str, Any], media_type: str
) -> httpx.Response:
    """`rows` as a CSV or Arrow batch to the predict route."""
    body = encode(table_of(rows, schema), media_type)
    return client.post("/v1/predict", content=body, headers={"content-type": media_type})


@pytest.mark.parametrize("media_type", [CSV, ARROW], ids=["csv", "arrow"])
def test_csv_and_arrow_answers_carry_a_warnings_column(
    client: TestClient, schema: dict[str, Any], media_type: str
) -> None:
    texture = feature(schema, "mean_texture")
    rows = [example(schema), example(schema), example(schema, "malignant")]
    rows[1]["mean_texture"] = texture["max"] + 1.0
    rows[2]["worst_area"] = None
    expected = predict(client, rows).json()["predictions"]
    response = post_table(client, rows, schema, media_type)
    assert response.status_code == 200, response.text
    texts = decode(response.content, media_type).column("warnings").to_pylist()
    assert not texts[0]  # no warnings: an empty cell (CSV), a null (Arrow)
    assert [json.loads(t) for t in texts[1:]] == [p["warnings"] for p in expected[1:]]
    assert json.loads(texts[1])["out_of_range"][0]["feature"] == "mean_texture"
    assert json.loads(texts[2]) == {**NONE, "imputed": 1}


@pytest.mark.parametrize("media_type", [CSV, ARROW], ids=["csv", "arrow"])
def test_csv_and_arrow_refusals_name_the_row_and_column(
    client: TestClient, schema: dict[str, Any], media_type: str
) -> None:
    rows = [example(schema) for _ in range(4)]
    rows[1]["mean_texture"] = -5.0
    rows[3]["mean_area"] = 1e6
    response = post_table(client, rows, schema, media_type)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["instance"], e["field"], e["type"]) for e in errors] == [
        (1, "mean_texture", "below_bound"),
        (3, "mean_area", "out_of_range"),
    ]


def test_vertex_ais_route_answers_and_refuses_alike(root: Path) -> None:
    app = create_app(api_settings(), serving_for(root, predict_route="/vertex/predict"))
    with TestClient(app) as client:
        schema = client.get("/v1/schema").json()
        texture = feature(schema, "mean_texture")
        outside = {**example(schema), "mean_texture": texture["max"] + 1.0}
        answered = predict(client, [outside], "/vertex/predict")
        assert answered.status_code == 200
        warned = answered.json()["predictions"][0]["warnings"]["out_of_range"]
        assert warned[0]["feature"] == "mean_texture"
        refused = predict(client, [{**outside, "mean_texture": -5}], "/vertex/predict")
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "mean_texture"


def test_openapi_documents_the_warnings(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "warnings" in schemas["Prediction"]["properties"]
    warnings = schemas["InputWarnings"]["properties"]
    assert set(warnings) == {"out_of_range", "imputed", "unseen_category"}
    assert "never seen in training" in warnings["unseen_category"]["description"]
    assert set(schemas["OutOfRange"]["properties"]) == {"feature", "value", "min", "max"}
    assert set(schemas["UnseenCategory"]["properties"]) == {"feature", "value"}
    rules = schemas["ServedSchema"]["properties"]["serving"]  # GET /v1/schema: the rules
    assert "ServingRules" in json.dumps(rules)
    assert set(schemas["ServingRules"]["properties"]) == {"range_tolerance", "max_missing_fraction"}


@pytest.fixture(scope="module")
def mixed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry whose champion reads a number and two text features (colour, site)."""
    base = tmp_path_factory.mktemp("mixed")
    train_mixed(str(base / "root"), base / "work")
    return base / "root"


@pytest.fixture(scope="module")
def mixed(mixed_root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings(), serving_for(mixed_root))) as client:
        yield client


UNSEEN_ROWS = [
    {"x": 1.0, "colour": "red", "site": "site-03"},  # both seen in training
    {"x": 1.0, "colour": "purple", "site": "site-03"},
    {"x": 1.0, "colour": None, "site": "site-99"},  # a missing colour is imputed, not unseen
    {"x": 1.0, "colour": "Red", "site": "Site-03"},  # categories compare exactly
]
UNSEEN = [
    NONE,
    {**NONE, "unseen_category": [{"feature": "colour", "value": "purple"}]},
    {**NONE, "imputed": 1, "unseen_category": [{"feature": "site", "value": "site-99"}]},
    {
        **NONE,
        "unseen_category": [
            {"feature": "colour", "value": "Red"},
            {"feature": "site", "value": "Site-03"},
        ],
    },
]


def test_a_category_never_seen_is_answered_with_a_warning_naming_it(mixed: TestClient) -> None:
    schema = mixed.get("/v1/schema").json()
    assert [f["name"] for f in schema["features"]] == ["x", "colour", "site"]
    assert feature(schema, "colour")["categories"] == ["blue", "green", "red"]
    assert "site-99" not in feature(schema, "site")["categories"]
    response = predict(mixed, UNSEEN_ROWS)
    assert response.status_code == 200, response.text  # warned, not refused
    body = response.json()
    PredictResponse.model_validate(body)
    assert [p["warnings"] for p in body["predictions"]] == UNSEEN


@pytest.mark.parametrize("media_type", [CSV, ARROW], ids=["csv", "arrow"])
def test_csv_and_arrow_answers_name_a_category_never_seen(
    mixed: TestClient, media_type: str
) -> None:
    schema = mixed.get("/v1/schema").json()
    response = post_table(mixed, UNSEEN_ROWS, schema, media_type)
    assert response.status_code == 200, response.text
    texts = decode(response.content, media_type).column("warnings").to_pylist()
    assert not texts[0]  # seen values only: no warnings, an empty cell or a null
    assert [json.loads(t) for t in texts[1:]] == UNSEEN[1:]


def test_the_prediction_log_keeps_a_category_never_seen(mixed_root: Path) -> None:
    with TestClient(create_app(api_settings(), serving_for(mixed_root))) as client:
        response = client.post(
            "/v1/predict", json={"instances": UNSEEN_ROWS}, headers={"x-request-id": "unseen"}
        )
        assert response.status_code == 200, response.text
    logged = predictions.read(str(mixed_root))  # written when the server stopped
    rows = logged[logged["request_id"] == "unseen"].sort_values("row")
    assert list(rows["row"]) == [0, 1, 2, 3]
    assert pd.isna(rows["warnings"].iloc[0])  # none: a null
    assert [json.loads(w) for w in rows["warnings"].iloc[1:]] == UNSEEN[1:]


def test_each_version_is_served_by_its_own_rules(tmp_path: Path) -> None:
    root = tmp_path / "root"
    strict = fast_config(serving={"range_tolerance": 0.1, "max_missing_fraction": 0.9})
    assert train_and_register(str(root), tmp_path / "work", strict)["promoted"]
    with TestClient(create_app(api_settings(), serving_for(root))) as client:
        schema = client.get("/v1/schema").json()
        assert schema["serving"] == {"range_tolerance": 0.1, "max_missing_fraction": 0.9}
        texture = feature(schema, "mean_texture")
        width = texture["max"] - texture["min"]
        # Half a width out: answered under the defaults, refused under this version's 0.1.
        far = predict(client, [{**example(schema), "mean_texture": texture["max"] + 0.5 * width}])
        assert (
            far.status_code == 422 and "range_tolerance 0.1" in far.json()["errors"][0]["message"]
        )
        names = [f["name"] for f in schema["features"]]
        mostly_missing = {**example(schema), **dict.fromkeys(names[:20], None)}
        assert predict(client, [mostly_missing]).status_code == 200  # 20 of 30 <= 0.9


def test_a_version_registered_before_the_rules_gets_the_defaults(tmp_path: Path) -> None:
    shutil.copytree(OLD / "models", tmp_path / "root" / "models")
    with TestClient(create_app(api_settings(), serving_for(tmp_path / "root"))) as client:
        schema = client.get("/v1/schema").json()
        assert schema["model_version"] == OLD_VERSION and "serving" not in schema
        texture = feature(schema, "mean_texture")
        width = texture["max"] - texture["min"]
        base = example(schema)
        near = predict(client, [{**base, "mean_texture": texture["max"] + 0.5 * width}])
        assert near.status_code == 200
        assert near.json()["predictions"][0]["warnings"]["out_of_range"][0]["max"] == texture["max"]
        far = predict(client, [{**base, "mean_texture": texture["max"] + 1.5 * width}])
        assert far.status_code == 422
        names = [f["name"] for f in schema["features"]]
        assert predict(client, [dict.fromkeys(names, None)]).status_code == 422
        assert predict(client, [{**base, "mean_texture": -5}]).status_code == 422  # its bounds
