"""Nothing in the API is specific to the breast-cancer data: a three-class problem with a text
feature is served from its own schema, through onnxruntime, as scikit-learn would answer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlcycle import storage
from mlcycle.api import create_app
from mlcycle.api.app import FrontDoor
from mlcycle.config import DatasetConfig
from mlcycle.data.incoming import incoming_uri
from mlcycle.model.candidates import prepare_features
from mlcycle.model.registry import Registry

from .conftest import api_settings, serving_for
from .training import train_and_register


def toy_config() -> DatasetConfig:
    return DatasetConfig.model_validate(
        {
            "name": "toy",
            "label": "kind",
            "column_types": {"colour": "categorical"},
            "cv_folds": 2,
            "candidates": [
                {"name": "lr", "estimator": "logistic_regression", "params": {"max_iter": 500}}
            ],
        }
    )


def toy_frame(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    kind = rng.choice(["alpha", "beta", "gamma"], rows)
    shift = pd.Series(kind).map({"alpha": 0.0, "beta": 2.0, "gamma": 4.0}).to_numpy()
    colour = np.where(kind == "gamma", "red", rng.choice(["green", "blue"], rows))
    return pd.DataFrame(
        {"x": rng.normal(shift, 1.0), "y": rng.normal(-shift, 1.0), "colour": colour, "kind": kind}
    )


def test_three_classes_and_a_text_feature(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    storage.write_text(storage.join(incoming_uri(root), "toy.csv"), toy_frame().to_csv(index=False))
    summary = train_and_register(root, tmp_path / "work", toy_config())
    Registry(root).promote(summary["version"])
    with TestClient(create_app(api_settings(), serving_for(tmp_path / "root"))) as client:
        schema = client.get("/v1/schema").json()
        assert schema["classes"] == ["alpha", "beta", "gamma"]
        colour = next(f for f in schema["features"] if f["name"] == "colour")
        assert colour["type"] == "categorical" and colour["categories"] == ["blue", "green", "red"]
        assert client.get("/v1/model").json()["serving"]["backend"] == "onnxruntime"
        instances = [
            {"x": 4.2, "y": -4.1, "colour": "red"},
            {"x": 0.1, "y": 0.2, "colour": "green"},
            {"x": 2.0, "y": -2.0, "colour": None},  # unknown text: imputed
            {"x": 2.0, "y": -2.0, "colour": "purple"},  # unseen category: ignored, not an error
        ]
        response = client.post("/v1/predict", json={"instances": instances})
        assert response.status_code == 200, response.text
        labels = [p["label"] for p in response.json()["predictions"]]
        assert labels[:2] == ["gamma", "alpha"]
        # The missing and the unseen colour too: what the trained scikit-learn model says.
        model = Registry(root).load_model(summary["version"])
        types = {"x": "numeric", "y": "numeric", "colour": "categorical"}
        expected = model.predict_proba(prepare_features(pd.DataFrame(instances), types))
        got = [
            [p["probabilities"][c] for c in model.classes_] for p in response.json()["predictions"]
        ]
        assert np.abs(np.array(got) - expected).max() <= 1e-5
        # A number for a text feature is read as its text (a code such as 3 is "3", as
        # pandas reads a file's codes in training); a list is no category at all.
        as_text = client.post("/v1/predict", json={"instances": [{"x": 1, "y": 2, "colour": 3}]})
        quoted = client.post("/v1/predict", json={"instances": [{"x": 1, "y": 2, "colour": "3"}]})
        assert as_text.status_code == 200, as_text.text
        assert as_text.json()["predictions"] == quoted.json()["predictions"]
        bad = client.post("/v1/predict", json={"instances": [{"x": 1, "y": 2, "colour": [3]}]})
        assert bad.status_code == 422
        assert (bad.json()["errors"][0]["instance"], bad.json()["errors"][0]["field"]) == (
            0,
            "colour",
        )


def test_documented_route_answers_like_the_fast_path(root: Path) -> None:
    """The FastAPI route that documents POST /v1/predict runs the same function as the fast
    path: with the front door taken out, the answers are byte for byte the same."""
    bodies = [b'{"instances": [', b'{"instances": []}', b"{}"]
    fast = create_app(api_settings(max_body_bytes=2048), serving_for(root))
    plain = create_app(api_settings(max_body_bytes=2048), serving_for(root))
    plain.user_middleware = [m for m in plain.user_middleware if m.cls is not FrontDoor]
    with TestClient(fast) as a, TestClient(plain) as b:
        example = a.get("/v1/schema").json()["examples"]["benign"][0]
        bodies += [
            json.dumps({"instances": [example]}).encode(),
            json.dumps({"instances": [example] * 5}).encode(),
        ]  # over 2,048 bytes
        for body in bodies:
            # The same request id for both: a JSON answer says it.
            sent = {"content": body, "headers": {"x-request-id": "same-request"}}
            left, right = a.post("/v1/predict", **sent), b.post("/v1/predict", **sent)
            assert (left.status_code, left.content) == (right.status_code, right.content), body
        assert {a.post("/v1/predict", content=body).status_code for body in bodies} == {
            200,
            400,
            413,
            422,
        }


def shop_frame(rows: int = 300) -> pd.DataFrame:
    """A true/false column and a column of shop codes with a gap: pandas reads them as
    booleans and as floats (12345.0), as it would a real export. Area codes have leading
    zeros, which only a column declared categorical keeps."""
    rng = np.random.default_rng(2)
    member = rng.random(rows) < 0.5
    shop = rng.choice([12345, 678], rows).astype(float)
    shop[::25] = np.nan
    area = rng.choice(["00712", "02134"], rows)
    x = rng.normal(0.0, 1.0, rows)
    score = x + 2.0 * member + 1.5 * (shop == 12345) + 1.0 * (area == "00712")
    label = np.where(score > np.median(score), "yes", "no")
    return pd.DataFrame({"x": x, "member": member, "shop": shop, "area": area, "bought": label})


def test_true_false_and_codes_are_the_text_training_read(tmp_path: Path) -> None:
    """A client sends true or 12345 as JSON, "true" in a CSV, booleans or integers in Arrow:
    each is the category training saw, not an error and not an unseen value."""
    import pyarrow as pa

    from mlcycle.api.columnar import ARROW, CSV

    from .test_columnar import read_answer

    root = str(tmp_path / "root")
    frame = shop_frame()
    storage.write_text(storage.join(incoming_uri(root), "coded.csv"), frame.to_csv(index=False))
    config = DatasetConfig.model_validate(
        {
            "name": "coded",
            "label": "bought",
            "positive_class": "yes",
            "column_types": {"shop": "categorical", "area": "categorical"},
        }
    )
    summary = train_and_register(root, tmp_path / "work", config)
    Registry(root).promote(summary["version"])
    with TestClient(create_app(api_settings(), serving_for(tmp_path / "root"))) as client:
        features = {f["name"]: f for f in client.get("/v1/schema").json()["features"]}
        assert features["member"]["categories"] == ["False", "True"]
        assert features["shop"]["categories"] == ["12345", "678"]  # not 12345.0
        assert features["area"]["categories"] == ["00712", "02134"]  # not 712

        def predictions(instances: list[dict]) -> list[dict]:
            response = client.post("/v1/predict", json={"instances": instances})
            assert response.status_code == 200, response.text
            return response.json()["predictions"]

        texts = [
            {"x": 0.3, "member": "True", "shop": "12345", "area": "00712"},
            {"x": -1.0, "member": "False", "shop": "678", "area": "02134"},
        ]
        expected = predictions(texts)
        assert all(not p["warnings"]["unseen_category"] for p in expected)
        assert expected[0]["label"] == "yes" and expected[1]["label"] == "no"
        native = [
            {"x": 0.3, "member": True, "shop": 12345, "area": "00712"},
            {"x": -1.0, "member": False, "shop": 678.0, "area": "02134"},
        ]
        assert predictions(native) == expected
        spelt = [
            {"x": 0.3, "member": "true", "shop": "12345", "area": "00712"},
            {"x": -1.0, "member": "FALSE", "shop": "678", "area": "02134"},
        ]
        assert predictions(spelt) == expected

        arrow_table = pa.table(
            {
                "x": [0.3, -1.0],
                "member": [True, False],
                "shop": pa.array([12345, 678], pa.int64()),
                "area": ["00712", "02134"],
            }
        )
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, arrow_table.schema) as writer:
            writer.write_table(arrow_table)
        bodies = {CSV: b"x,member,shop,area\n0.3,true,12345,00712\n-1,false,678,02134\n"}
        bodies[ARROW] = sink.getvalue().to_pybytes()
        for media_type, body in bodies.items():
            response = client.post(
                "/v1/predict", content=body, headers={"content-type": media_type}
            )
            assert response.status_code == 200, (media_type, response.text)
            table = read_answer(response.content, media_type)
            assert table.column("label").to_pylist() == ["yes", "no"], media_type
            assert table.column("probability_yes").to_pylist() == pytest.approx(
                [p["probabilities"]["yes"] for p in expected], abs=1e-12
            )
            assert not any(table.column("warnings").to_pylist()), media_type
