"""The data-set config's display words travel in the version's schema: /v1/schema names each
class, what is predicted and the disclaimer (the UI shows them; nothing else names a data set)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mlcycle.api import create_app

from .conftest import api_settings, serving_for
from .training import CODED_DISCLAIMER, CODED_NAMES, coded_config, train_coded


def schema_of(root: Path) -> dict:
    with TestClient(create_app(api_settings(), serving_for(root))) as client:
        return client.get("/v1/schema").json()


def test_integer_classes_are_served_with_the_config_s_names(tmp_path: Path) -> None:
    train_coded(str(tmp_path / "root"), tmp_path / "work")
    schema = schema_of(tmp_path / "root")
    assert schema["classes"] == ["0", "1", "2"]  # the codes stay what predictions answer
    assert schema["display"] == {
        "classes": CODED_NAMES,
        "predicts": "iris species",
        "disclaimer": CODED_DISCLAIMER,
    }


def test_without_display_words_the_defaults_are_neutral(tmp_path: Path) -> None:
    train_coded(str(tmp_path / "root"), tmp_path / "work", coded_config(classes={2: "virginica"}))
    display = schema_of(tmp_path / "root")["display"]
    assert display["classes"] == {"0": "0", "1": "1", "2": "virginica"}
    assert display["predicts"] == "species"  # the label column
    assert display["disclaimer"] == "Predictions are estimates from a model trained on past data."


def test_the_breast_cancer_config_sets_its_own(client: TestClient) -> None:
    display = client.get("/v1/schema").json()["display"]
    assert display == {
        "classes": {"benign": "benign", "malignant": "malignant"},
        "predicts": "diagnosis",
        "disclaimer": "A decision aid, not a diagnosis.",
    }


def test_openapi_types_the_display_words(client: TestClient) -> None:
    components = client.get("/openapi.json").json()["components"]["schemas"]
    assert set(components["Display"]["properties"]) == {"classes", "predicts", "disclaimer"}
    assert "display" in components["ServedSchema"]["properties"]
