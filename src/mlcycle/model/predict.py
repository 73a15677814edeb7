"""Predict with a registered version: onnxruntime when its export passed, else scikit-learn.

Both predictors take the same input, a `FeatureBatch` (one array per kind of feature, in the
schema's order), and return class probabilities in the version's class order. The label is
the version's operating point's (model/operating.py), as in evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from mlcycle.model.registry import Registry, RegistryError, sha256

if TYPE_CHECKING:
    from mlcycle.model.version import ModelVersion, OnnxRecord


@dataclass(frozen=True)
class FeatureBatch:
    """n rows: numeric features as float64 (NaN = missing), categorical ones as objects."""

    numeric_names: list[str]
    numeric: np.ndarray  # (n, len(numeric_names)) float64
    categorical_names: list[str]
    categorical: np.ndarray  # (n, len(categorical_names)) object

    def __len__(self) -> int:
        return len(self.numeric) if self.numeric_names else len(self.categorical)


class Predictor(Protocol):
    backend: str
    classes: list[str]

    def predict_proba(self, batch: FeatureBatch) -> np.ndarray: ...


def session(onnx_bytes: bytes) -> Any:
    """An onnxruntime session on one thread: the server runs many requests, not one big one."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Basic graph rewrites only: the extended ones took ~60 ms to load a 200-tree forest here
    # (a tenth of the API's cold start) and made single-row predictions no faster.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def text_values(values: np.ndarray, fill: list[str]) -> np.ndarray:
    """Categorical values as the ONNX graph takes them: text, with missing ones (None, NaN)
    filled by what training's imputer writes, as `prepare_features` and the fitted pipeline
    would. (n, k) objects in, (n, k) str objects out."""
    out = np.empty(values.shape, dtype=object)
    for j, default in enumerate(fill):
        out[:, j] = [default if v is None or v != v else str(v) for v in values[:, j]]
    return out


class GraphInputs:
    """How features become an exported graph's inputs, as its OnnxRecord says: numbers as one
    matrix, text as another with missing values filled (the server's side of the graph)."""

    def __init__(self, record: OnnxRecord) -> None:
        self.numeric = record.numeric_inputs
        self.text = record.text_features or []
        self._dtype = np.dtype(record.input_dtype)
        self._input = record.input
        self._text_input = record.text_input
        self._fill = [(record.text_fill or {})[name] for name in self.text]

    def feeds(self, batch: FeatureBatch) -> dict[str, np.ndarray]:
        feeds = {}
        if self.numeric:
            feeds[self._input] = batch.numeric.astype(self._dtype, copy=False)
        if self.text:
            feeds[self._text_input] = text_values(batch.categorical, self._fill)
        return feeds

    def frame_feeds(self, frame: Any) -> dict[str, np.ndarray]:
        """The inputs for a table of prepared features (`candidates.prepare_features`)."""
        numeric, text = frame[self.numeric], frame[self.text]
        batch = FeatureBatch(self.numeric, numeric.to_numpy(np.float64), self.text,
                             text.to_numpy(object))  # fmt: skip
        return self.feeds(batch)


class OnnxPredictor:
    backend = "onnxruntime"

    def __init__(self, onnx_bytes: bytes, record: OnnxRecord) -> None:
        self._session = session(onnx_bytes)
        self._inputs = GraphInputs(record)
        self.classes = list(record.classes or [])

    def predict_proba(self, batch: FeatureBatch) -> np.ndarray:
        return self._session.run(["probabilities"], self._inputs.feeds(batch))[0]


class SklearnPredictor:
    backend = "scikit-learn"

    def __init__(self, model: Any, types: dict[str, str]) -> None:
        self._model = model
        self._types = types
        self.classes = [str(c) for c in model.classes_]

    def predict_proba(self, batch: FeatureBatch) -> np.ndarray:
        import pandas as pd

        from mlcycle.model.candidates import prepare_features

        frame = pd.concat(
            [
                pd.DataFrame(batch.numeric, columns=batch.numeric_names),
                pd.DataFrame(batch.categorical, columns=batch.categorical_names),
            ],
            axis=1,
        )
        return self._model.predict_proba(prepare_features(frame, self._types))


def load_predictor(registry: Registry, version: str, metadata: ModelVersion) -> Predictor:
    """The fastest verified predictor for a version; RegistryError if a file fails its sha256."""
    record = metadata.onnx
    if record is not None and record.exported and record.file:
        data = registry.read_artifact(version, record.file)
        if sha256(data) != record.sha256:
            raise RegistryError(f"{record.file} of version {version} fails its sha256 check")
        return OnnxPredictor(data, record)
    types = metadata.feature_schema.feature_types()
    return SklearnPredictor(registry.load_model(version, metadata), types)


def to_predictions(
    proba: np.ndarray, classes: list[str], labels: np.ndarray
) -> list[dict[str, Any]]:
    """One {label, probabilities} per row; `labels` are the rows' labels, made once for the
    whole answer by `operating.labels`."""
    return [
        {"label": label, "probabilities": dict(zip(classes, row, strict=True))}
        for label, row in zip(labels.tolist(), proba.tolist(), strict=True)
    ]
