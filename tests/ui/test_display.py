"""The pages name a data set only with its config's words: integer-coded classes show their
display names, the result says what is predicted, the footer says the config's disclaimer;
the default data's pages say what they said before the words moved into its config."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from api.training import CODED_DISCLAIMER, CODED_NAMES, train_coded
from mlcycle.ui.display import display_of

from .conftest import api_predict, api_server, csrf_token, make_app
from .html import Node, parse
from .test_pages import all_examples, csv_bytes, fill, upload

PREFIX = "data:text/csv;charset=utf-8;base64,"


def page(response: Any) -> Node:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return parse(response.get_data(as_text=True))


def footer(doc: Node) -> str:
    return doc.find("footer").text()


@pytest.fixture(scope="module")
def coded_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("coded")
    train_coded(str(base / "root"), base / "work")
    with api_server(base / "root") as server:
        yield server.url


@pytest.fixture(scope="module")
def coded_schema(coded_url: str) -> dict[str, Any]:
    schema = httpx.get(f"{coded_url}/v1/schema", timeout=10).json()
    assert schema["classes"] == ["0", "1", "2"]
    return schema


@pytest.fixture
def coded(coded_url: str) -> FlaskClient:
    return make_app(coded_url).test_client()


def test_example_buttons_name_the_classes_and_send_their_codes(coded: FlaskClient) -> None:
    doc = page(coded.get("/"))
    assert doc.find("h1").text() == "Predict iris species"
    buttons = doc.find("form", class_="examples").find_all("button")
    assert [(b.text(), b.attrs["value"]) for b in buttons] == [
        ("setosa example", "0"),
        ("versicolor example", "1"),
        ("virginica example", "2"),
    ]
    assert CODED_DISCLAIMER in footer(doc) and "diagnosis" not in footer(doc)


def test_the_result_says_what_is_predicted_by_the_class_s_name(
    coded: FlaskClient, coded_schema: dict[str, Any], coded_url: str
) -> None:
    for code, name in CODED_NAMES.items():
        instance = coded_schema["examples"][code][0]
        label = api_predict(coded_url, [instance])["predictions"][0]["label"]
        data = {"csrf_token": csrf_token(coded), **fill(coded_schema, instance)}
        doc = page(coded.post("/", data=data))
        assert label == code  # well-separated classes: each example is predicted as itself
        heading = doc.find(id="result-title").text()
        assert heading == f"Predicted iris species: {name}"
        assert doc.find(data_testid="predicted").attrs["data-class"] == code
        assert [n.text() for n in doc.find_all("span", class_="bar-class")] == list(
            CODED_NAMES.values()
        )
        assert [b.attrs["data-class"] for b in doc.find_all("svg", class_="bar")] == ["0", "1", "2"]
        assert CODED_DISCLAIMER in footer(doc)


def test_a_batch_table_names_the_classes_and_its_download_keeps_the_codes(
    coded: FlaskClient, coded_schema: dict[str, Any], coded_url: str
) -> None:
    rows = all_examples(coded_schema)
    expected = [p["label"] for p in api_predict(coded_url, rows)["predictions"]]
    doc = page(upload(coded, csv_bytes(coded_schema, rows, {})))
    table = doc.find("table", class_="predictions")
    header = [th.text().replace("( ", "(") for th in table.find("thead").find_all("th")]
    classes = ["P(setosa)", "P(versicolor)", "P(virginica)"]
    assert header == ["Row", "Predicted", *classes, "Warnings"]
    cells = [tr.find("td", class_="predicted") for tr in table.find("tbody").find_all("tr")]
    assert [c.text() for c in cells] == [CODED_NAMES[label] for label in expected]
    assert [c.attrs["data-class"] for c in cells] == expected
    link = doc.find("a", download="cases-predictions.csv").attrs["href"]
    download = csv.DictReader(io.StringIO(base64.b64decode(link[len(PREFIX) :]).decode()))
    assert [r["predicted"] for r in download] == expected  # machine-readable: the codes
    assert CODED_DISCLAIMER in footer(doc)


def test_the_model_page_and_an_error_page_carry_the_config_s_disclaimer(
    coded: FlaskClient,
) -> None:
    assert CODED_DISCLAIMER in footer(page(coded.get("/model")))
    missing = coded.get("/no-such-page")
    assert missing.status_code == 404
    assert CODED_DISCLAIMER in footer(parse(missing.get_data(as_text=True)))


def test_the_default_data_s_pages_say_what_they_said(
    client: FlaskClient, schema: dict[str, Any]
) -> None:
    doc = page(client.get("/"))
    assert doc.find("h1").text() == "Predict diagnosis"
    assert footer(doc) == (
        "Predictions come from the prediction API's champion model. "
        "A decision aid, not a diagnosis."
    )
    buttons = [b.text() for b in doc.find("form", class_="examples").find_all("button")]
    assert buttons == ["benign example", "malignant example"]
    instance = schema["examples"]["malignant"][0]
    data = {"csrf_token": csrf_token(client), **fill(schema, instance)}
    result = page(client.post("/", data=data))
    label = result.find(data_testid="predicted").text()
    assert result.find(id="result-title").text() == f"Predicted diagnosis: {label}"


def test_a_version_without_display_words_gets_neutral_ones(stopped_url: str) -> None:
    old = {"label": "species", "classes": ["0", "1"], "features": []}  # built before `display`
    display = display_of(old)
    assert (display.predicts, display.name("1")) == ("species", "1")
    assert display.disclaimer == "Predictions are estimates from a model trained on past data."
    # A page drawn before any schema came (the API is down) says the neutral disclaimer too.
    down = make_app(stopped_url).test_client().get("/")
    assert down.status_code == 502
    assert display.disclaimer in footer(parse(down.get_data(as_text=True)))
