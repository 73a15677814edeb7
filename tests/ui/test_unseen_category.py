"""A categorical value the model never saw in training, through the pages: the result lists it
beside the other warnings and marks its field; the batch table and download name it per row.
On a model of a number and two text features: `colour` (3 values, a select) and `site` (60, a
text input offering the values seen)."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from api.training import train_mixed

from .conftest import api_predict, api_server, csrf_token, make_app
from .html import Node, parse
from .test_pages import csv_bytes, upload

PREFIX = "data:text/csv;charset=utf-8;base64,"


@pytest.fixture(scope="module")
def mixed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("mixed")
    train_mixed(str(base / "root"), base / "work")
    with api_server(base / "root") as server:
        yield server.url


@pytest.fixture(scope="module")
def mixed_schema(mixed_url: str) -> dict[str, Any]:
    return httpx.get(f"{mixed_url}/v1/schema", timeout=10).json()


@pytest.fixture
def mixed(mixed_url: str) -> FlaskClient:
    return make_app(mixed_url).test_client()


def page(response: Any) -> Node:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return parse(response.get_data(as_text=True))


def marked_fields(doc: Node) -> list[Node]:
    return doc.find_all("div", class_="out-of-range")


def test_a_category_never_seen_is_listed_and_its_field_marked(
    mixed: FlaskClient, mixed_url: str
) -> None:
    case = {"x": 1.0, "colour": "red", "site": "site-99"}
    expected = api_predict(mixed_url, [case])["predictions"][0]
    assert expected["warnings"]["unseen_category"] == [{"feature": "site", "value": "site-99"}]
    form = {"f.x": "1.0", "f.colour": "red", "f.site": "site-99"}
    doc = page(mixed.post("/", data={"csrf_token": csrf_token(mixed), **form}))
    assert doc.find(data_testid="predicted").text() == expected["label"]
    warnings = doc.find(data_testid="warnings")
    assert [li.text() for li in warnings.find_all("li")] == ['site "site-99" not seen in training']
    # The field is marked as an out-of-range one is, and says why, in the input's description.
    marked = marked_fields(doc)
    assert len(marked) == 1
    field = marked[0].find("input")
    assert field.attrs["name"] == "f.site" and field.attrs["value"] == "site-99"
    assert "aria-invalid" not in field.attrs  # answered: a warning, not an error
    warning_id = field.attrs["aria-describedby"].split()[-1]
    assert doc.find(id=warning_id).text() == "Not a value seen in training"


def test_a_known_category_or_an_empty_field_is_not_marked(mixed: FlaskClient) -> None:
    form = {"f.x": "1.0", "f.colour": "", "f.site": "site-03"}
    doc = page(mixed.post("/", data={"csrf_token": csrf_token(mixed), **form}))
    assert doc.find_all(data_testid="warnings") == [] and marked_fields(doc) == []
    assert doc.find(data_testid="imputed").text() == "1 empty field filled in as missing"


def test_a_select_sent_a_value_it_does_not_offer_shows_it_marked(mixed: FlaskClient) -> None:
    # A select offers only the values seen; a hand-made post can still send another.
    form = {"f.x": "1.0", "f.colour": "purple", "f.site": "site-03"}
    doc = page(mixed.post("/", data={"csrf_token": csrf_token(mixed), **form}))
    marked = marked_fields(doc)
    assert len(marked) == 1
    select = marked[0].find("select")
    assert select.attrs["name"] == "f.colour"
    chosen = [o.text() for o in select.find_all("option") if "selected" in o.attrs]
    assert chosen == ["purple"]  # what was sent, not "Unknown"


def test_the_batch_table_and_download_name_a_category_never_seen(
    mixed: FlaskClient, mixed_schema: dict[str, Any]
) -> None:
    rows = [
        {"x": 1.0, "colour": "red", "site": "site-03"},
        {"x": 1.0, "colour": "purple", "site": "site-99"},
        {"x": 1.0, "colour": None, "site": "site-03"},
    ]
    doc = page(upload(mixed, csv_bytes(mixed_schema, rows, {})))
    cells = [tr.find_all("td")[-1].text() for tr in doc.find("tbody").find_all("tr")]
    assert cells == [
        "",
        'colour "purple" not seen in training; site "site-99" not seen in training',
        "1 feature missing, filled in",
    ]
    href = doc.find("a", download="cases-predictions.csv").attrs["href"]
    download = list(csv.DictReader(io.StringIO(base64.b64decode(href[len(PREFIX) :]).decode())))
    assert [r["warnings"] for r in download] == cells
