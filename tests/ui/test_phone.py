"""Phone width (390 px, an iPhone 12-15) in Chromium: the Predict button is on screen without
scrolling through every field, and a batch's predictions are on screen, not past the edge."""

from __future__ import annotations

from typing import Any

from .test_browser import batch_csv, submit

PHONE = {"width": 390, "height": 844}


def on_screen(box: dict[str, float]) -> bool:
    return (
        box["x"] >= 0
        and box["x"] + box["width"] <= PHONE["width"]
        and box["y"] >= 0
        and box["y"] + box["height"] <= PHONE["height"]
    )


def test_the_predict_button_is_on_screen_without_scrolling(page: Any, ui_url: str) -> None:
    page.set_viewport_size(PHONE)
    page.goto(ui_url)
    form_height = page.locator("form.features").bounding_box()["height"]
    assert form_height > 2 * PHONE["height"]  # the form itself is long at this width
    button = page.get_by_role("button", name="Predict", exact=True)
    assert on_screen(button.bounding_box())  # at the top: no scrolling at all
    page.mouse.wheel(0, 2000)  # half-way through the fields it is still there
    page.wait_for_timeout(200)
    assert on_screen(button.bounding_box())


def test_the_predict_button_still_predicts(page: Any, ui_url: str, schema: dict[str, Any]) -> None:
    page.set_viewport_size(PHONE)
    page.goto(ui_url)
    submit(page, f"{schema['classes'][0]} example")
    assert submit(page, "Predict").status == 200
    assert page.get_by_test_id("predicted").inner_text() in schema["classes"]


def test_batch_predictions_fit_the_phone(page: Any, ui_url: str, schema: dict[str, Any]) -> None:
    data, _ = batch_csv(schema)
    # Ids and a known outcome, as a real upload has: extra columns kept in the table.
    lines = data.decode().splitlines()
    wide = "\n".join(
        [f"patient_reference,ward_name,{lines[0]},outcome_known"]
        + [f"PATIENT-{i:06d},oncology-north,{line},unknown" for i, line in enumerate(lines[1:])]
    )
    page.set_viewport_size(PHONE)
    page.goto(ui_url + "/batch")
    page.get_by_label("CSV file").set_input_files(
        {"name": "cases.csv", "mimeType": "text/csv", "buffer": wide.encode()}
    )
    assert submit(page, "Predict every row").status == 200
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0  # the page itself never scrolls sideways: the table scrolls in its box
    table = page.get_by_test_id("predictions")
    first = table.locator("tbody tr").first
    for cell in (first.locator("td.predicted"), first.locator("td.number").last):
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
