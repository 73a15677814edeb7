"""ONNX export: kept only when it predicts what scikit-learn predicts; otherwise the version
records why and the API serves scikit-learn."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.model_selection import StratifiedKFold

from mlcycle.api import create_app
from mlcycle.api.requests import to_batch
from mlcycle.config import Candidate
from mlcycle.model import export
from mlcycle.model.candidates import build_pipeline, prepare_features
from mlcycle.model.export import TOLERANCE, export_onnx, onnx_feeds
from mlcycle.model.predict import OnnxPredictor, SklearnPredictor, session
from mlcycle.model.registry import Registry
from mlcycle.model.train import calibrated
from mlcycle.model.version import Feature, FeatureSchema, OnnxRecord

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
        ["probabilities"], onnx_feeds(jittered, OnnxRecord.model_validate(exported.record))
    )[0]
    assert np.abs(got - model.predict_proba(jittered)).max() <= TOLERANCE


def mixed_frame(rows: int = 400) -> pd.DataFrame:
    """Three classes, numbers and text, missing values in both, and column names ONNX names
    cannot hold (as in scikit-learn's wine data)."""
    rng = np.random.default_rng(3)
    kind = rng.choice(["alpha", "beta", "gamma"], rows)
    shift = pd.Series(kind).map({"alpha": 0.0, "beta": 1.5, "gamma": 3.0}).to_numpy()
    frame = pd.DataFrame(
        {
            "od280/od315 ratio": rng.normal(shift, 1.0),
            "size (mm)": rng.normal(-shift, 1.0),
            "colour": np.where(kind == "gamma", "red", rng.choice(["green", "blue"], rows)),
            "site": rng.choice(["north", "south", "east"], rows),
            "kind": kind,
        }
    )
    frame.loc[frame.index[::6], "od280/od315 ratio"] = np.nan
    frame.loc[frame.index[::5], "colour"] = np.nan
    return frame


MIXED_TYPES = {
    "od280/od315 ratio": "numeric",
    "size (mm)": "numeric",
    "colour": "categorical",
    "site": "categorical",
}
ESTIMATORS = ["logistic_regression", "random_forest", "hist_gradient_boosting", "svm"]


def fitted(estimator: str, frame: pd.DataFrame, types: dict[str, str], label: str) -> Any:
    candidate = Candidate(name=estimator, estimator=estimator, params={}, grid={})
    model = build_pipeline(candidate, types, seed=0)
    if estimator == "svm":  # an SVM is served only calibrated (the config requires it)
        model = calibrated(model, "sigmoid", StratifiedKFold(3, shuffle=True, random_state=0))
    return model.fit(prepare_features(frame, types), frame[label])


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_candidate_exports_with_text_features_missing_values_and_odd_names(
    estimator: str,
) -> None:
    frame = mixed_frame()
    train, test = frame.iloc[:300], frame.iloc[300:]
    model = fitted(estimator, train, MIXED_TYPES, "kind")
    exported = export_onnx(model, test, MIXED_TYPES)
    record = exported.record
    assert record["status"] == "exported", record
    assert record["text_features"] == ["colour", "site"]
    assert record["rows_with_missing_values_checked"] == 20
    # The server's side of the graph: its own imputation of text, then onnxruntime. Rows with
    # every kind of gap (None, NaN, unseen text) must get what scikit-learn gives them.
    rows = [
        {"od280/od315 ratio": None, "size (mm)": 1.0, "colour": None, "site": "north"},
        {"od280/od315 ratio": 2.5, "size (mm)": None, "colour": "red", "site": None},
        {"od280/od315 ratio": 0.1, "size (mm)": -0.2, "colour": "purple", "site": "east"},
        *test.drop(columns="kind").head(50).replace({np.nan: None}).to_dict("records"),
    ]
    features = [Feature(name=n, type=t) for n, t in MIXED_TYPES.items()]
    schema = FeatureSchema(label="kind", classes=["alpha", "beta", "gamma"], features=features)
    batch = to_batch(rows, schema)
    onnx = OnnxPredictor(exported.onnx, OnnxRecord.model_validate(record)).predict_proba(batch)
    sklearn = SklearnPredictor(model, MIXED_TYPES).predict_proba(batch)
    assert np.abs(onnx - sklearn).max() <= TOLERANCE


def test_a_single_text_feature_exports() -> None:
    """One feature, and it is text: most probe rows have nothing to blank."""
    frame = mixed_frame()[["site", "kind"]]
    types = {"site": "categorical"}
    model = fitted("logistic_regression", frame.iloc[:300], types, "kind")
    record = export_onnx(model, frame.iloc[300:], types).record
    assert record["status"] == "exported", record
    assert record["rows_with_missing_values_checked"] == 20


def test_gradient_boosting_splits_exactly_as_scikit_learn_off_the_test_split_too(
    trained: Trained,
) -> None:
    """Histogram gradient boosting compares float64 values with float64 thresholds: rounding
    either to float32 sends some values down the other branch."""
    test = load_test_split(trained.work)
    types = {c: "numeric" for c in test.columns if c != "diagnosis"}
    model = fitted("hist_gradient_boosting", test, types, "diagnosis")
    exported = export_onnx(model, test, types)
    assert exported.record["status"] == "exported", exported.record
    assert exported.record["input_dtype"] == "float64"
    X = prepare_features(test, types)
    # Values within float32 rounding of each threshold, on both sides.
    rng = np.random.default_rng(1)
    jittered = pd.concat([X] * 20, ignore_index=True)
    jittered *= 1 + rng.choice([-1, 1], size=jittered.shape) * rng.uniform(0, 1e-7, jittered.shape)
    got = session(exported.onnx).run(
        ["probabilities"], onnx_feeds(jittered, OnnxRecord.model_validate(exported.record))
    )[0]
    assert np.abs(got - model.predict_proba(jittered)).max() <= TOLERANCE


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


def test_unconvertible_model_is_served_by_scikit_learn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A graph that differs from scikit-learn by more than 1e-5 (here every probability a
    little off): the version records the attempts, and the API falls back to scikit-learn."""
    convert = export._convert

    def off_by_a_little(model: Any, types: dict[str, str], dtype: str) -> bytes:
        return nudged(convert(model, types, dtype))

    monkeypatch.setattr(export, "_convert", off_by_a_little)
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


def nudged(onnx_bytes: bytes) -> bytes:
    """The graph with its probabilities scaled by 1.001 (not a distribution any more)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    for node in graph.node:
        node.output[:] = [f"{o}_raw" if o == "probabilities" else o for o in node.output]
    elem = next(o.type.tensor_type.elem_type for o in graph.output if o.name == "probabilities")
    scale = helper.make_tensor("nudge", elem, [], [1.001])
    graph.initializer.append(scale)
    graph.node.append(helper.make_node("Mul", ["probabilities_raw", "nudge"], ["probabilities"]))
    assert elem in (TensorProto.FLOAT, TensorProto.DOUBLE)
    return model.SerializeToString()


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_candidate_still_exports_once_calibrated(estimator: str) -> None:
    """Training wraps the chosen estimator in CalibratedClassifierCV (sigmoid by default): the
    export covers the calibrator too, with text features and missing values, on 2 and 3
    classes."""
    from sklearn.model_selection import StratifiedKFold

    from mlcycle.model.train import calibrated

    frame = mixed_frame()
    two = frame.assign(kind=np.where(frame["kind"] == "gamma", "gamma", "other"))
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    small = {"hist_gradient_boosting": {"max_iter": 20}, "random_forest": {"n_estimators": 20}}
    candidate = Candidate(name=estimator, estimator=estimator, params=small.get(estimator, {}))
    for data in (frame, two):
        train, test = data.iloc[:300], data.iloc[300:]
        X = prepare_features(train, MIXED_TYPES)
        model = calibrated(build_pipeline(candidate, MIXED_TYPES, seed=0), "sigmoid", cv)
        exported = export_onnx(model.fit(X, train["kind"]), test, MIXED_TYPES)
        assert exported.record["status"] == "exported", exported.record
        assert exported.record["max_abs_diff"] <= TOLERANCE


def test_isotonic_calibration_is_served_by_scikit_learn() -> None:
    """skl2onnx takes the nearest step of an isotonic calibrator where scikit-learn
    interpolates: the parity check refuses the graph (and the API serves scikit-learn)."""
    from sklearn.model_selection import StratifiedKFold

    from mlcycle.model.train import calibrated

    frame = mixed_frame()
    train, test = frame.iloc[:300], frame.iloc[300:]
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    model = calibrated(fitted("logistic_regression", train, MIXED_TYPES, "kind"), "isotonic", cv)
    model.fit(prepare_features(train, MIXED_TYPES), train["kind"])
    record = export_onnx(model, test, MIXED_TYPES).record
    assert record["status"] == "failed" and "1e-05" in record["reason"], record


def test_power_transformed_numbers_export_for_a_linear_model() -> None:
    """`numeric_transform: power` (Yeo-Johnson before scaling) stays in the ONNX graph."""
    frame = mixed_frame()
    train, test = frame.iloc[:300], frame.iloc[300:]
    candidate = Candidate(name="lr", estimator="logistic_regression")
    model = build_pipeline(candidate, MIXED_TYPES, seed=0, numeric_transform="power")
    model.fit(prepare_features(train, MIXED_TYPES), train["kind"])
    assert type(model.steps[0][1].named_transformers_["numeric"][-1]).__name__ == "PowerTransformer"
    record = export_onnx(model, test, MIXED_TYPES).record
    assert record["status"] == "exported" and record["max_abs_diff"] <= TOLERANCE, record
