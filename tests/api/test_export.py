"""ONNX export: kept only when it predicts what scikit-learn predicts; otherwise the version
records why and the API serves scikit-learn."""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlcycle.api import create_app
from mlcycle.model.candidates import prepare_features
from mlcycle.model.export import TOLERANCE, export_onnx, onnx_feeds
from mlcycle.model.predict import session
from mlcycle.model.registry import Registry

from .conftest import Trained, api_settings, serving_for
from .training import fast_config, load_test_split, train_and_register


def test_linear_export_is_recorded_with_its_parity(trained: Trained) -> None:
    meta = Registry(str(trained.root)).get(trained.first)
    record = meta.onnx
    assert record.status == "exported" and record.file in meta.artifacts
    assert record.max_abs_diff <= TOLERANCE
    assert record.rows_checked == len(load_test_split(trained.work))


def test_forest_export_agrees_off_the_test_split_too(trained: Trained) -> None:
    """Forests compare float32 inputs with thresholds; the export must split exactly as
    scikit-learn does, also on rows the parity check never saw."""
    registry = Registry(str(trained.root))
    meta = registry.get(trained.second)
    types = meta.feature_schema.feature_types()
    model = registry.load_model(trained.second, meta)
    test = load_test_split(trained.work)
    rng = np.random.default_rng(0)
    X = prepare_features(test, types)
    jittered = pd.concat([X] * 20, ignore_index=True)
    jittered *= rng.uniform(0.9, 1.1, size=jittered.shape)
    exported = export_onnx(model, test, types)
    assert exported.record["status"] == "exported", exported.record
    got = session(exported.onnx).run(
        ["probabilities"], onnx_feeds(jittered, list(types), exported.record["input_dtype"])
    )[0]
    assert np.abs(got - model.predict_proba(jittered)).max() <= TOLERANCE


def test_categorical_features_are_not_exported_and_say_why(trained: Trained) -> None:
    test = load_test_split(trained.work)
    model = joblib.load(trained.work / "train" / "model")
    types = {c: "numeric" for c in test.columns if c != "diagnosis"}
    types["mean_radius"] = "categorical"
    exported = export_onnx(model, test, types)
    assert exported.onnx is None
    assert exported.record["status"] == "failed" and "categorical" in exported.record["reason"]


def test_a_missing_converter_fails_the_export_instead_of_falling_back(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image without skl2onnx once served every model it trained with scikit-learn, the
    version saying only "no ONNX graph matched": a broken install must stop the run."""
    test = load_test_split(trained.work)
    model = joblib.load(trained.work / "train" / "model")
    types = {c: "numeric" for c in test.columns if c != "diagnosis"}
    for name in [m for m in sys.modules if m == "skl2onnx" or m.startswith("skl2onnx.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # import skl2onnx -> ImportError
    with pytest.raises(ImportError, match="skl2onnx"):
        export_onnx(model, test, types)


def test_unconvertible_model_is_served_by_scikit_learn(tmp_path: Path) -> None:
    """skl2onnx's gradient-boosting graph differs from scikit-learn by far more than 1e-5 here:
    the version records the attempts, and the API falls back to scikit-learn."""
    root = tmp_path / "root"
    candidates = [
        {
            "name": "gradient_boosting",
            "estimator": "hist_gradient_boosting",
            "params": {"max_iter": 20},
            "grid": {},
        }
    ]
    summary = train_and_register(str(root), tmp_path / "work", fast_config(candidates=candidates))
    meta = Registry(str(root)).get(summary["version"])
    assert meta.onnx.status == "failed", meta.onnx
    assert "1e-05" in meta.onnx.reason and len(meta.onnx.attempts) == 2
    assert "model.onnx" not in meta.artifacts
    Registry(str(root)).promote(summary["version"])  # whatever the gate said: serve this one
    with TestClient(create_app(api_settings(), serving_for(root))) as client:
        assert client.get("/v1/model").json()["serving"]["backend"] == "scikit-learn"
        test = load_test_split(tmp_path / "work")
        features = meta.feature_schema.feature_names()
        response = client.post(
            "/v1/predict",
            content=test[features].head(20).to_json(orient="records").join(['{"instances": ', "}"]),
        )
        assert response.status_code == 200
        model = Registry(str(root)).load_model(summary["version"])
        types = {f: "numeric" for f in features}
        expected = model.predict_proba(prepare_features(test.head(20), types))
        got = [
            [p["probabilities"][c] for c in meta.feature_schema.classes]
            for p in response.json()["predictions"]
        ]
        assert np.abs(np.array(got) - expected).max() <= 1e-9
