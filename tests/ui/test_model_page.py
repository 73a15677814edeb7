"""The model page explains its metrics; probabilities at the extremes are not rounded to
certainty."""

from __future__ import annotations

from typing import Any

import httpx
from flask.testing import FlaskClient

from mlcycle.ui.views import percent

from .conftest import api_predict, csrf_token
from .html import parse
from .test_pages import fill


def test_every_metric_has_a_description(client: FlaskClient, api_url: str) -> None:
    model = httpx.get(f"{api_url}/v1/model", timeout=10).json()
    assert set(model["metric_descriptions"]) == set(model["metrics"])
    doc = parse(client.get("/model").get_data(as_text=True))
    rows = doc.find("table", class_="metrics").find("tbody").find_all("tr")
    assert len(rows) == len(model["metrics"])
    for row in rows:
        name = row.find("th").text()
        description = row.find("td", class_="metric-description").text()
        assert description == model["metric_descriptions"][name] and len(description) > 20


def test_extreme_probabilities_are_not_shown_as_certain() -> None:
    assert percent(0.99996) == "> 99.9%" and percent(1.0) == "> 99.9%"
    assert percent(0.00004) == "< 0.1%" and percent(0.0) == "< 0.1%"
    assert percent(0.999) == "99.9%" and percent(0.001) == "0.1%" and percent(0.5) == "50.0%"


def test_the_predict_page_shows_the_api_s_probabilities_through_the_bounds(
    client: FlaskClient, schema: dict[str, Any], api_url: str
) -> None:
    for cls in schema["classes"]:
        instance = schema["examples"][cls][0]
        expected = api_predict(api_url, [instance])["predictions"][0]["probabilities"]
        response = client.post(
            "/", data={"csrf_token": csrf_token(client), **fill(schema, instance)}
        )
        doc = parse(response.get_data(as_text=True))
        shown = [v.text() for v in doc.find_all("span", class_="bar-value")]
        assert shown == [percent(expected[c]) for c in schema["classes"]]
        assert "100.0%" not in shown and "0.0%" not in shown


def test_the_model_page_says_when_the_label_is_the_positive_class(
    client: FlaskClient, api_url: str
) -> None:
    point = httpx.get(f"{api_url}/v1/model", timeout=10).json()["operating_point"]
    doc = parse(client.get("/model").get_data(as_text=True))
    said = doc.find("p", class_="operating-point").text()
    assert point["positive_class"] in said and f"{point['threshold']:.4f}" in said
