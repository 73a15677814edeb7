"""The form builder and the settings on their own: any data set's schema gives a usable form,
and the UI is configured the way the README says."""

from __future__ import annotations

from typing import Any

import pytest

from mlcycle.settings import Platform
from mlcycle.ui import create_app
from mlcycle.ui.forms import build_groups, example_values, read_instance, to_value
from mlcycle.ui.server import resolve_bind

CHURN: dict[str, Any] = {
    "label": "churned",
    "classes": ["no", "yes"],
    "features": [
        {
            "name": "tenure months",
            "type": "numeric",
            "min": 0,
            "max": 72,
            "median": 29,
            "integer": True,
        },
        {
            "name": "plan",
            "type": "categorical",
            "categories": ["basic", "plus", "pro"],
            "mode": "basic",
        },
        {"name": "zip", "type": "categorical", "categories": [f"{i:05d}" for i in range(80)]},
    ],
    "examples": {"no": [{"tenure months": 40, "plan": "pro", "zip": None}], "yes": []},
}


def test_a_schema_without_shared_name_words_is_one_plain_group() -> None:
    (group,) = build_groups(CHURN)
    assert group.title == "Features"
    tenure, plan, zip_code = group.fields
    assert (tenure.label, tenure.id, tenure.input_name) == (
        "Tenure months",
        "f0",
        "f.tenure months",
    )
    assert tenure.integer and tenure.placeholder == "29" and "0 to 72" in tenure.hint
    assert plan.as_select and plan.categories == ["basic", "plus", "pro"]
    assert not zip_code.as_select  # too many values for a list: a text box with suggestions


def test_values_become_json_numbers_or_stay_text_for_the_api_to_judge() -> None:
    assert to_value(" 12.5 ", "numeric") == 12.5
    assert to_value("", "numeric") is None and to_value("  ", "categorical") is None
    assert to_value("twelve", "numeric") == "twelve"
    assert to_value("inf", "numeric") == "inf" and to_value("nan", "numeric") == "nan"
    assert to_value("007", "categorical") == "007"
    instance, typed = read_instance({"f.tenure months": "3", "f.plan": "pro"}, CHURN)
    assert instance == {"tenure months": 3.0, "plan": "pro", "zip": None}
    assert typed == {"tenure months": "3", "plan": "pro", "zip": ""}


def test_examples_fill_every_field_and_a_class_without_examples_fills_nothing() -> None:
    assert example_values(CHURN, "no", 5) == {"tenure months": "40", "plan": "pro", "zip": ""}
    assert example_values(CHURN, "yes", 0) is None
    assert example_values(CHURN, "<script>", 0) is None


def test_mlcycle_ui_binds_loopback_by_default_and_every_interface_on_cloud_run() -> None:
    local, cloud_run = Platform.model_construct(), Platform.model_construct(port=9000)
    assert resolve_bind(local, None, None) == resolve_bind(local, "127.0.0.1", 8081)
    on_cloud_run = resolve_bind(cloud_run, None, None)
    assert (on_cloud_run.host, on_cloud_run.port) == ("0.0.0.0", 9000)
    explicit = resolve_bind(cloud_run, "127.0.0.1", 7000)
    assert (explicit.host, explicit.port) == ("127.0.0.1", 7000)


def test_settings_come_from_mlcycle_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCYCLE_API_URL", "http://api.internal:8080")
    monkeypatch.setenv("MLCYCLE_UI_MAX_UPLOAD_BYTES", "1000")
    monkeypatch.setenv("MLCYCLE_UI_SECRET_KEY", "k" * 32)
    app = create_app()
    assert app.config["API_URL"] == "http://api.internal:8080"
    assert app.config["MAX_UPLOAD_BYTES"] == 1000
    assert app.config["SECRET_KEY"] == "k" * 32
    assert app.extensions["mlcycle.api"].base_url == "http://api.internal:8080"
