"""A real browser (Debian's Chromium via Playwright) against the UI as users run it
(`mlcycle ui`: gunicorn, two workers) and a real API: clicks, keys, uploads, phone width.

Set MLCYCLE_UI_SCREENSHOTS=docs/images to refresh the README's screenshot (`make screenshot`).
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from pathlib import Path
from typing import Any

from .conftest import api_predict

SCRIPT = "<script>alert(1)</script>"
PHONE = {"width": 375, "height": 740}


def submit(page: Any, button: str) -> Any:
    """Click a submit button; the response to the POST it sends."""
    with page.expect_response(lambda r: r.request.method == "POST") as response:
        page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()
    return response.value


def focused_id(page: Any, seconds: float = 5.0) -> str:
    """The focused element's id, once autofocus has run (at a rendering step after load).
    Polled from Python: the pages' CSP forbids the eval that wait_for_function uses."""
    deadline = time.monotonic() + seconds
    while True:
        current = page.evaluate("document.activeElement.id")
        if current or time.monotonic() > deadline:
            return current
        page.wait_for_timeout(50)


def bar_fractions(page: Any) -> dict[str, float]:
    """Each class's bar: filled width over track width, as rendered."""
    fractions = {}
    for bar in page.locator("svg.bar").all():
        track = bar.locator("rect.bar-track").bounding_box()
        filled = bar.locator("rect.bar-fill").bounding_box()
        fractions[bar.get_attribute("data-class")] = filled["width"] / track["width"]
    return fractions


def test_an_example_predicts_what_the_api_predicts_with_matching_bars(
    page: Any, ui_url: str, api_url: str, schema: dict[str, Any], tmp_path: Path
) -> None:
    for cls in schema["classes"]:
        page.goto(ui_url)
        submit(page, f"{cls} example")
        assert page.locator("input[name^='f.']").first.input_value() != ""
        response = submit(page, "Predict")
        assert response.status == 200
        expected = api_predict(api_url, [schema["examples"][cls][0]])
        prediction = expected["predictions"][0]
        assert page.get_by_test_id("predicted").inner_text() == prediction["label"]
        assert page.get_by_test_id("model-version").inner_text() == expected["model_version"]
        for name, fraction in bar_fractions(page).items():
            assert abs(fraction - prediction["probabilities"][name]) < 0.01, name
    # The README's screenshot: the last class's result, at a desktop width.
    shot = tmp_path / "predict.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("MLCYCLE_UI_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / "predict.png").write_bytes(shot.read_bytes())


def test_every_input_on_every_page_has_a_label(page: Any, ui_url: str) -> None:
    for path in ("/", "/batch"):
        page.goto(ui_url + path)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(el => !el.id || !document.querySelector(`label[for="${el.id}"]`)
                              || el.labels.length === 0)
                .map(el => el.name)"""
        )
        count = page.locator("input:not([type=hidden]), select").count()
        assert count > 0 and unlabelled == [], (path, unlabelled)


def test_keyboard_only_fill_an_example_and_predict(
    page: Any, ui_url: str, api_url: str, schema: dict[str, Any]
) -> None:
    cls = schema["classes"][0]

    def tab_to(button: str, limit: int = 120) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            active = page.evaluate(
                "[document.activeElement.tagName, document.activeElement.textContent.trim()]"
            )
            if active == ["BUTTON", button]:
                return
        raise AssertionError(f"Tab never reached the button {button!r}")

    page.goto(ui_url)
    tab_to(f"{cls} example")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to("Predict")  # through every field of the form, in order
    with page.expect_navigation():
        page.keyboard.press("Enter")
    # Focus lands on the result, so a screen reader reads it first.
    assert focused_id(page) == "result-title"
    expected = api_predict(api_url, [schema["examples"][cls][0]])["predictions"][0]["label"]
    assert page.get_by_test_id("predicted").inner_text() == expected


def test_phone_width_has_no_sideways_scrolling(
    page: Any, ui_url: str, schema: dict[str, Any]
) -> None:
    page.set_viewport_size(PHONE)
    page.goto(ui_url)
    submit(page, f"{schema['classes'][-1]} example")
    submit(page, "Predict")
    for path in (None, "/batch", "/model"):
        if path:
            page.goto(ui_url + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    page.goto(ui_url)
    box = page.locator("input[name^='f.']").first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_a_script_typed_into_a_field_shows_as_text(
    page: Any, ui_url: str, schema: dict[str, Any]
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(ui_url)
    submit(page, f"{schema['classes'][0]} example")
    field = page.locator("input[name^='f.']").first
    field.fill(SCRIPT)
    assert submit(page, "Predict").status == 422
    field = page.locator("input[name^='f.']").first
    assert field.input_value() == SCRIPT
    assert field.get_attribute("aria-invalid") == "true"
    error = page.locator(f"#{field.get_attribute('id')}-error")
    assert "valid number" in error.inner_text()
    assert page.locator("script").count() == 0  # nothing was injected into the page
    assert dialogs == []


def batch_csv(schema: dict[str, Any]) -> tuple[bytes, list[dict[str, Any]]]:
    rows = [row for cls in schema["classes"] for row in schema["examples"][cls]]
    names = [f["name"] for f in schema["features"]]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", *names])
    for i, row in enumerate(rows):
        writer.writerow([f"<b>{i}</b>", *(row[n] for n in names)])
    return out.getvalue().encode(), rows


def test_a_csv_upload_gives_a_table_and_a_download(
    page: Any, ui_url: str, api_url: str, schema: dict[str, Any]
) -> None:
    data, rows = batch_csv(schema)
    expected = [p["label"] for p in api_predict(api_url, rows)["predictions"]]
    page.goto(ui_url + "/batch")
    page.get_by_label("CSV file").set_input_files(
        {"name": "cases.csv", "mimeType": "text/csv", "buffer": data}
    )
    assert submit(page, "Predict every row").status == 200
    table = page.get_by_test_id("predictions")
    assert table.locator("tbody td.predicted").all_inner_texts() == expected
    assert (
        table.locator("tbody tr").first.locator("td").last.inner_text() == "<b>0</b>"
    )  # text, not markup
    with page.expect_download() as download:
        page.get_by_role("link", name="Download all as CSV").click()
    assert download.value.suggested_filename == "cases-predictions.csv"
    saved = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [r["predicted"] for r in saved] == expected
    assert [r["id"] for r in saved] == [f"<b>{i}</b>" for i in range(len(rows))]


def test_an_oversized_upload_gets_a_clear_message(page: Any, ui_url: str) -> None:
    page.goto(ui_url + "/batch")
    page.get_by_label("CSV file").set_input_files(
        {"name": "big.csv", "mimeType": "text/csv", "buffer": b"a,b\n" * (1_400_000)}
    )
    assert submit(page, "Predict every row").status == 413
    assert "larger than 5,242,880 bytes" in page.get_by_test_id("upload-error").inner_text()
    assert page.get_by_label("CSV file").is_visible()  # the form is still there to try again


def test_a_value_outside_the_training_range_is_marked_and_a_bound_refused(
    page: Any, ui_url: str, api_url: str, schema: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    texture = next(f for f in schema["features"] if f["name"] == "mean_texture")
    cls = schema["classes"][0]
    page.goto(ui_url)
    submit(page, f"{cls} example")
    field = page.locator("input[name='f.mean_texture']")
    field.fill(str(texture["max"] + 3))
    assert submit(page, "Predict").status == 200
    instance = {**schema["examples"][cls][0], "mean_texture": texture["max"] + 3}
    expected = api_predict(api_url, [instance])["predictions"][0]
    assert page.get_by_test_id("predicted").inner_text() == expected["label"]
    # Beside the result, the warning names the feature; the field itself is marked, visibly
    # (a border unlike the others') and in words its input is described by.
    note = page.get_by_role("note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("mean_texture")
    field = page.locator("input[name='f.mean_texture']")
    expect(field).to_have_accessible_description(
        re.compile(
            re.escape(f"Seen in training: {texture['min']:.6g} to {texture['max']:.6g}")
            + ".*"
            + re.escape(
                f"Outside the training range ({texture['min']:.6g} to {texture['max']:.6g})"
            )
        )
    )
    marked = page.locator(".field.out-of-range")
    expect(marked).to_have_count(1)
    expect(marked.locator(".field-warning")).to_be_visible()
    other = page.locator("input[name='f.mean_radius']")
    border = "getComputedStyle(el).borderTopColor"
    assert field.evaluate(f"el => {border}") != other.evaluate(f"el => {border}")

    # Below the bound the config declares: refused, the message next to the field.
    field.fill("-5")
    assert submit(page, "Predict").status == 422
    field = page.locator("input[name='f.mean_texture']")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field.invalid .field-error")).to_contain_text("below 0")
    expect(page.get_by_test_id("predicted")).to_have_count(0)
