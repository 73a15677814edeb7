"""The pages through Flask's test client, against a real API on a loopback port: what a user
sees for a case, for a CSV, for the model, and when they send something wrong."""

from __future__ import annotations

import base64
import csv
import io
import math
from typing import Any

import httpx
from flask.testing import FlaskClient

from mlcycle.ui.views import percent

from .conftest import api_predict, csrf_token
from .html import Node, parse

SCRIPT = "<script>alert(1)</script>"


def page(response: Any) -> Node:
    return parse(response.get_data(as_text=True))


def form_values(doc: Node) -> dict[str, str]:
    """The case form's field values, keyed by form name (as a browser would submit them)."""
    form = doc.find("form", class_="features")
    return {i.attrs["name"]: i.attrs.get("value", "") for i in form.find_all("input")}


def example_instance(schema: dict[str, Any], cls: str, n: int = 0) -> dict[str, Any]:
    rows = schema["examples"][cls]
    return rows[n % len(rows)]


def fill(schema: dict[str, Any], instance: dict[str, Any]) -> dict[str, str]:
    return {
        f"f.{f['name']}": "" if instance[f["name"]] is None else str(instance[f["name"]])
        for f in schema["features"]
    }


# -- the predict page -----------------------------------------------------------------------


def test_every_feature_has_a_labelled_input_with_range_and_median(
    client: FlaskClient, schema: dict[str, Any]
) -> None:
    doc = page(client.get("/"))
    form = doc.find("form", class_="features")
    labels = {label.attrs["for"]: label.text() for label in form.find_all("label")}
    fields = form.find_all("input", type="text") + form.find_all("select")
    assert [f.attrs["name"] for f in fields] == [f"f.{f['name']}" for f in schema["features"]]
    for node, feature in zip(fields, schema["features"], strict=True):
        assert labels.get(node.attrs["id"]), f"{feature['name']} has no label"
        hint = doc.find(id=node.attrs["aria-describedby"].split()[0]).text()
        if feature["type"] == "numeric":
            assert node.attrs["placeholder"] == f"{feature['median']:.6g}"
            assert f"{feature['min']:.6g} to {feature['max']:.6g}" in hint


def test_breast_cancer_features_are_grouped_mean_error_worst(client: FlaskClient) -> None:
    legends = [n.text() for n in page(client.get("/")).find_all("legend")]
    assert legends == ["Mean", "Error", "Worst"]


def test_every_form_carries_a_csrf_token(client: FlaskClient) -> None:
    for path in ("/", "/batch"):
        for form in page(client.get(path)).find_all("form"):
            tokens = form.find_all("input", name="csrf_token")
            assert tokens and tokens[0].attrs["value"], f"a form on {path} has no CSRF token"


def test_a_post_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/", data={"example": "benign"})
    assert response.status_code == 400
    assert "expired" in page(response).find("h1").text()


def test_example_button_fills_a_real_example_and_cycles(
    client: FlaskClient, schema: dict[str, Any]
) -> None:
    token = csrf_token(client)
    cls = schema["classes"][-1]
    first = page(client.post("/", data={"csrf_token": token, "example": cls, "n": "0"}))
    assert without_csrf(first, token) == fill(schema, example_instance(schema, cls))
    assert first.find("input", name="n").attrs["value"] == "1"
    second = page(client.post("/", data={"csrf_token": token, "example": cls, "n": "1"}))
    assert without_csrf(second, token) == fill(schema, example_instance(schema, cls, 1))


def without_csrf(doc: Node, token: str) -> dict[str, str]:
    """The form's values once its CSRF token is checked to be the session's.

    Flask-WTF signs the session's token with a timestamp on every render, so a page drawn a
    second later carries a different string for the same token: compare the signed value.
    """
    values = form_values(doc)
    assert values.pop("csrf_token").split(".")[0] == token.split(".")[0]
    return values


def test_submitting_a_case_shows_the_api_prediction_bars_and_version(
    client: FlaskClient, schema: dict[str, Any], api_url: str
) -> None:
    for cls in schema["classes"]:
        instance = example_instance(schema, cls)
        expected = api_predict(api_url, [instance])
        response = client.post(
            "/", data={"csrf_token": csrf_token(client), **fill(schema, instance)}
        )
        assert response.status_code == 200
        doc = page(response)
        label = expected["predictions"][0]["label"]
        assert doc.find(data_testid="predicted").text() == label
        assert doc.find(data_testid="model-version").text() == expected["model_version"]
        bars = doc.find_all("svg", class_="bar")
        assert [b.attrs["data-class"] for b in bars] == schema["classes"]
        for bar in bars:
            probability = expected["predictions"][0]["probabilities"][bar.attrs["data-class"]]
            fill_rect = bar.find("rect", class_="bar-fill")
            assert math.isclose(
                float(fill_rect.attrs["width"].rstrip("%")), 100 * probability, abs_tol=0.01
            )
            shown = (
                "> 99.9%"
                if probability > 0.999
                else "< 0.1%"
                if probability < 0.001
                else f"{100 * probability:.1f}%"
            )
            assert bar.attrs["aria-label"].endswith(f": {shown}")


def test_empty_fields_are_sent_as_unknown_and_said_to_be_filled_in(
    client: FlaskClient, schema: dict[str, Any], api_url: str
) -> None:
    instance = dict(example_instance(schema, schema["classes"][0]))
    blanks = [f["name"] for f in schema["features"][:2]]
    for name in blanks:
        instance[name] = None
    expected = api_predict(api_url, [instance])["predictions"][0]
    doc = page(client.post("/", data={"csrf_token": csrf_token(client), **fill(schema, instance)}))
    assert doc.find("span", class_="predicted").text() == expected["label"]
    assert "2 empty fields filled in as missing" in doc.find("p", class_="meta").text()


def test_api_validation_errors_show_next_to_the_field_they_name(
    client: FlaskClient, schema: dict[str, Any]
) -> None:
    instance = dict(example_instance(schema, schema["classes"][0]))
    wrong = schema["features"][3]["name"]
    values = {**fill(schema, instance), f"f.{wrong}": "twelve"}
    response = client.post("/", data={"csrf_token": csrf_token(client), **values})
    assert response.status_code == 422
    doc = page(response)
    field = doc.find("input", name=f"f.{wrong}")
    assert field.attrs["aria-invalid"] == "true"
    assert field.attrs["value"] == "twelve"  # what was typed stays, to be corrected
    error_id = field.attrs["aria-describedby"].split()[-1]
    message = doc.find(id=error_id)
    assert "valid number" in message.text()
    # The message sits in the same field block as the input, and only that field is marked.
    blocks = [b for b in doc.find_all("div", class_="field") if b.find_all(id=error_id)]
    assert len(blocks) == 1 and blocks[0].find_all("input", name=f"f.{wrong}")
    assert len(doc.find_all("p", class_="field-error")) == 1
    assert not doc.find_all("section", class_="result")
    summary = doc.find("section", class_="error-summary")
    assert summary.find("a").attrs["href"] == f"#{field.attrs['id']}"


def test_a_value_a_little_out_of_range_is_answered_with_the_field_marked(
    client: FlaskClient, schema: dict[str, Any], api_url: str
) -> None:
    instance = dict(example_instance(schema, schema["classes"][0]))
    texture = feature(schema, "mean_texture")
    instance["mean_texture"] = texture["max"] + 2.5
    expected = api_predict(api_url, [instance])["predictions"][0]
    response = client.post("/", data={"csrf_token": csrf_token(client), **fill(schema, instance)})
    assert response.status_code == 200
    doc = page(response)
    assert doc.find(data_testid="predicted").text() == expected["label"]
    # Beside the result: what the model has not seen, naming the feature and its range.
    warnings = doc.find(data_testid="warnings")
    assert warnings.attrs["role"] == "note"
    assert [li.text() for li in warnings.find_all("li")] == [
        f"mean_texture {texture['max'] + 2.5:.6g} outside the training range "
        f"{texture['min']:.6g} to {texture['max']:.6g}"
    ]
    # ...and in the form: that field, and only that one, is marked, in words the input names.
    marked = doc.find_all("div", class_="out-of-range")
    assert len(marked) == 1
    field = marked[0].find("input")
    assert field.attrs["name"] == "f.mean_texture" and "aria-invalid" not in field.attrs
    warning_id = field.attrs["aria-describedby"].split()[-1]
    assert doc.find(id=warning_id).text() == (
        f"Outside the training range ({texture['min']:.6g} to {texture['max']:.6g})"
    )


def test_a_value_below_a_declared_bound_is_refused_next_to_its_field(
    client: FlaskClient, schema: dict[str, Any]
) -> None:
    values = {
        **fill(schema, example_instance(schema, schema["classes"][0])),
        "f.mean_texture": "-5",
    }
    response = client.post("/", data={"csrf_token": csrf_token(client), **values})
    assert response.status_code == 422
    doc = page(response)
    field = doc.find("input", name="f.mean_texture")
    assert field.attrs["aria-invalid"] == "true" and field.attrs["value"] == "-5"
    message = doc.find(id=field.attrs["aria-describedby"].split()[-1]).text()
    assert "below 0, the least mean_texture can be" in message
    assert not doc.find_all("section", class_="result")


def test_an_empty_form_is_refused_saying_too_little_is_known(client: FlaskClient) -> None:
    response = client.post("/", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 422
    doc = page(response)
    summary = doc.find("section", class_="error-summary")
    assert "30 of 30 features are missing" in summary.text()
    assert not doc.find_all("section", class_="result")


def test_an_absurd_number_is_refused_by_the_api_next_to_its_field(
    client: FlaskClient, schema: dict[str, Any]
) -> None:
    name = schema["features"][0]["name"]
    values = {**fill(schema, example_instance(schema, schema["classes"][0])), f"f.{name}": "1e300"}
    response = client.post("/", data={"csrf_token": csrf_token(client), **values})
    assert response.status_code == 422
    doc = page(response)
    assert doc.find("input", name=f"f.{name}").attrs["aria-invalid"] == "true"
    assert "less than or equal" in doc.find("p", class_="field-error").text()


def test_a_script_value_is_echoed_as_text(client: FlaskClient, schema: dict[str, Any]) -> None:
    name = schema["features"][0]["name"]
    values = {**fill(schema, example_instance(schema, schema["classes"][0])), f"f.{name}": SCRIPT}
    response = client.post("/", data={"csrf_token": csrf_token(client), **values})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    doc = parse(html)
    assert not doc.find_all("script")
    assert doc.find("input", name=f"f.{name}").attrs["value"] == SCRIPT


# -- the batch page -------------------------------------------------------------------------


def csv_bytes(schema: dict[str, Any], rows: list[dict[str, Any]], extra: dict[str, list]) -> bytes:
    names = [f["name"] for f in schema["features"]]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*extra, *names])
    for i, row in enumerate(rows):
        writer.writerow(
            [*(v[i] for v in extra.values()), *("" if row[n] is None else row[n] for n in names)]
        )
    return out.getvalue().encode()


def upload(client: FlaskClient, data: bytes, name: str = "cases.csv") -> Any:
    return client.post(
        "/batch",
        data={"csrf_token": csrf_token(client, "/batch"), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def all_examples(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for cls in schema["classes"] for row in schema["examples"][cls]]


def test_a_csv_gets_a_table_of_the_api_predictions_and_a_download(
    client: FlaskClient, schema: dict[str, Any], api_url: str
) -> None:
    rows = all_examples(schema)
    ids = [f"case-{i}" for i in range(len(rows))]
    expected = api_predict(api_url, rows)["predictions"]
    response = upload(client, csv_bytes(schema, rows, {"id": ids}))
    assert response.status_code == 200
    doc = page(response)
    table = doc.find("table", class_="predictions")
    header = [th.text().replace("( ", "(") for th in table.find("thead").find_all("th")]  # <wbr>
    classes = [f"P({c})" for c in schema["classes"]]
    assert header == ["Row", "Predicted", *classes, "Warnings", "id"]
    body = table.find("tbody").find_all("tr")
    assert len(body) == len(rows)
    for tr, case_id, prediction in zip(body, ids, expected, strict=True):
        cells = [c.text() for c in tr.find_all("td")]
        assert cells[0] == prediction["label"] and cells[-1] == case_id
        assert cells[-2] == ""  # real training rows: nothing the model has not seen
        for cell, cls in zip(cells[1:-2], schema["classes"], strict=True):
            assert cell == percent(prediction["probabilities"][cls])  # as the predict page
    link = doc.find("a", download="cases-predictions.csv")
    prefix = "data:text/csv;charset=utf-8;base64,"
    assert link.attrs["href"].startswith(prefix)
    download = list(
        csv.DictReader(io.StringIO(base64.b64decode(link.attrs["href"][len(prefix) :]).decode()))
    )
    assert [r["id"] for r in download] == ids
    assert [r["predicted"] for r in download] == [p["label"] for p in expected]
    cls = schema["classes"][-1]
    assert [float(r[f"probability_{cls}"]) for r in download] == [
        round(p["probabilities"][cls], 6) for p in expected
    ]
    assert [r["warnings"] for r in download] == [""] * len(rows)


def feature(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["features"] if f["name"] == name)


def test_the_batch_table_and_download_carry_each_rows_warnings(
    client: FlaskClient, schema: dict[str, Any], api_url: str
) -> None:
    rows = [dict(r) for r in all_examples(schema)[:3]]
    texture = feature(schema, "mean_texture")
    rows[1]["mean_texture"] = texture["max"] + 1.0  # a little out of range: answered, warned
    rows[2]["mean_radius"] = None  # one feature missing: imputed, counted
    expected = api_predict(api_url, rows)["predictions"]
    assert expected[1]["warnings"]["out_of_range"][0]["feature"] == "mean_texture"
    doc = page(upload(client, csv_bytes(schema, rows, {})))
    cells = [tr.find_all("td")[-1].text() for tr in doc.find("tbody").find_all("tr")]
    value = f"{texture['max'] + 1.0:.6g}"
    assert cells == [
        "",
        f"mean_texture {value} outside the training range {texture['min']:.6g} to "
        f"{texture['max']:.6g}",
        "1 feature missing, filled in",
    ]
    prefix = "data:text/csv;charset=utf-8;base64,"
    href = doc.find("a", download="cases-predictions.csv").attrs["href"]
    download = list(csv.DictReader(io.StringIO(base64.b64decode(href[len(prefix) :]).decode())))
    assert [r["warnings"] for r in download] == cells


def test_a_script_in_a_csv_cell_is_shown_as_text(
    client: FlaskClient, schema: dict[str, Any]
) -> None:
    rows = all_examples(schema)[:2]
    response = upload(client, csv_bytes(schema, rows, {"note": [SCRIPT, "ok"]}))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert SCRIPT not in html and "&lt;script&gt;" in html
    assert not parse(html).find_all("script")


def upload_error(response: Any) -> str:
    return page(response).find("p", data_testid="upload-error").text()


def test_a_malformed_csv_gets_a_clear_message(client: FlaskClient, schema: dict[str, Any]) -> None:
    good = csv_bytes(schema, all_examples(schema)[:2], {})
    header, first, _ = good.decode().split("\r\n", 2)
    cases = {
        b"": "empty",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe": "not UTF-8",
        b"just,some,columns\n1,2,3\n": "lacks 30 feature column(s)",
        (header + "\r\n").encode(): "no rows",
        (header + "\r\n" + first + ",1\r\n").encode(): "Row 1 has 31 values",
        (header + "\r\n" + first.replace(",", ',"', 1) + "\r\n").encode(): "not valid CSV",
        (header + "," + header.split(",")[0] + "\r\n").encode(): "appear twice",
    }
    for data, expected in cases.items():
        response = upload(client, data)
        assert response.status_code == 400, (data[:40], response.status_code)
        assert expected in upload_error(response), (data[:40], upload_error(response))
        assert not page(response).find_all("table", class_="predictions")


def test_no_file_chosen_is_a_400(client: FlaskClient) -> None:
    response = client.post(
        "/batch",
        data={"csrf_token": csrf_token(client, "/batch")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Choose a CSV file" in upload_error(response)


def test_a_bad_value_in_a_csv_is_reported_by_row_and_column(
    client: FlaskClient, schema: dict[str, Any]
) -> None:
    rows = [dict(r) for r in all_examples(schema)[:3]]
    name = schema["features"][5]["name"]
    rows[1][name] = "n/a please"
    response = upload(client, csv_bytes(schema, rows, {}))
    assert response.status_code == 422
    details = [
        li.text() for li in page(response).find("section", class_="error-summary").find_all("li")
    ]
    assert details == [f"row 2, column {name}: Input should be a valid number"]


def test_na_cells_are_missing_values(
    client: FlaskClient, schema: dict[str, Any], api_url: str
) -> None:
    rows = [dict(r) for r in all_examples(schema)[:1]]
    data = csv_bytes(schema, rows, {}).decode()
    header, first = data.splitlines()[:2]
    cells = first.split(",")
    cells[0] = "NA"
    response = upload(client, f"{header}\n{','.join(cells)}\n".encode())
    expected = api_predict(api_url, [{**rows[0], schema["features"][0]["name"]: None}])
    assert response.status_code == 200
    cell = page(response).find("td", class_="predicted").text()
    assert cell == expected["predictions"][0]["label"]


def test_an_oversized_upload_is_413_with_a_message(api_url: str, schema: dict[str, Any]) -> None:
    from .conftest import make_app

    client = make_app(api_url, MAX_UPLOAD_BYTES=2_000).test_client()
    big = csv_bytes(schema, all_examples(schema) * 3, {})
    assert 2_000 < len(big) < 2 * 2_000 + 64 * 1024  # read by the view, refused there
    response = upload(client, big)
    assert response.status_code == 413
    assert "larger than 2,000 bytes" in upload_error(response)
    huge = b"x" * (2 * 2_000 + 70 * 1024)  # past MAX_CONTENT_LENGTH: cut off unread
    response = upload(client, huge)
    assert response.status_code == 413
    assert "larger than 2,000 bytes" in upload_error(response)


def test_too_many_rows_is_413(api_url: str, schema: dict[str, Any]) -> None:
    from .conftest import make_app

    client = make_app(api_url, MAX_ROWS=4).test_client()
    response = upload(client, csv_bytes(schema, all_examples(schema)[:5], {}))
    assert response.status_code == 413
    assert "5 rows; at most 4" in upload_error(response)


def test_the_default_upload_cap_is_5_mb(client: FlaskClient) -> None:
    assert client.application.config["MAX_UPLOAD_BYTES"] == 5 * 1024 * 1024
    assert "5,242,880 bytes" in page(client.get("/batch")).find(id="file-hint").text()


# -- the model page -------------------------------------------------------------------------


def test_the_model_page_shows_the_champion_and_its_plots(client: FlaskClient, api_url: str) -> None:
    info = httpx.get(f"{api_url}/v1/model", timeout=10).json()
    doc = page(client.get("/model"))
    assert doc.find("code", data_testid="model-version").text() == info["version"]
    assert info["created_at"] in doc.text()
    assert doc.find("strong", data_testid="gate-decision").text() == info["gate"]["decision"]
    for reason in info["gate"]["reasons"]:
        assert reason in doc.text()
    rows = {
        tr.find("th").text(): tr.find("td").text()
        for tr in doc.find("table", class_="metrics").find("tbody").find_all("tr")
    }
    assert rows == {k: f"{v:.4f}" for k, v in info["metrics"].items()}
    images = doc.find_all("img")
    assert sorted(i.attrs["src"] for i in images) == sorted(
        f"/model/artifacts/{a}" for a in info["artifacts"]
    )
    for image in images:
        assert image.attrs["alt"]
        response = client.get(image.attrs["src"])
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert response.data == httpx.get(f"{api_url}/v1{image.attrs['src']}", timeout=10).content


def test_an_unknown_artifact_is_404_not_a_path(client: FlaskClient) -> None:
    for name in ("nope.png", "..%2F..%2Fchampion.json", "metadata.json"):
        response = client.get(f"/model/artifacts/{name}")
        assert response.status_code == 404, name


def test_model_page_links_the_report_served_with_its_own_policy(
    client: FlaskClient, api_url: str
) -> None:
    doc = page(client.get("/model"))
    [link] = [a for a in doc.find_all("a") if a.attrs.get("href") == "/model/report"]
    assert "model report" in link.text()
    response = client.get("/model/report")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.data == httpx.get(f"{api_url}/v1/model/report", timeout=10).content
    policy = response.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy
