"""Export a fitted pipeline to ONNX, kept only if it predicts what scikit-learn predicts.

Serving through onnxruntime costs microseconds per call where scikit-learn costs a fraction of
a millisecond (linear) to several milliseconds (forests). An export is accepted only when its
probabilities on the test split are within `TOLERANCE` of scikit-learn's; otherwise the record
says why and the model is served by scikit-learn.

Two attempts (tree ensembles take the second first):
  float32  skl2onnx's usual graph. Exact enough for linear models.
  float64  preprocessing in double. Before a random forest's trees the input is cast to
           float32 and the thresholds rounded down to float32: that is exactly what
           scikit-learn's trees do (they compare float32(x) with a float64 threshold), so
           forests agree to rounding. Histogram gradient boosting compares float64 values
           with float64 thresholds, so its trees stay in double (ai.onnx.ml 3's tensors).

The graph has at most two inputs, whatever the column names: `features` (numbers, in schema
order) and `categories` (text). Missing text has no ONNX equivalent of scikit-learn's
most-frequent imputation, so the graph starts after it: the server fills missing text with
the values the fitted imputer learnt (stored in the record), exactly as training did, and the
parity check covers rows with missing values of every kind.
"""

from __future__ import annotations

import copy
import hashlib
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlcycle.model.predict import GraphInputs, session
from mlcycle.model.version import OnnxRecord

ONNX_FILE = "model.onnx"
INPUT = "features"  # the numeric input: (n, numeric features in schema order)
TEXT_INPUT = "categories"  # the text input: (n, categorical features in schema order)
TOLERANCE = 1e-5
MISSING_PROBES = 20  # test rows checked again with a third of their features blanked
OPSET = {"": 17, "ai.onnx.ml": 3}


@dataclass
class Export:
    """The outcome: the ONNX bytes (or None) and the record stored with the version."""

    onnx: bytes | None
    record: dict[str, Any] = field(default_factory=dict)


def _double_imputer_converter(scope: Any, operator: Any, container: Any) -> None:
    """SimpleImputer for float64 inputs as Where(IsNaN(x), fill, x).

    onnxruntime's Imputer kernel exists for float32 only; this graph is the same computation.
    """
    from skl2onnx.algebra.onnx_ops import OnnxIsNaN, OnnxWhere
    from skl2onnx.common.data_types import guess_numpy_type
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer

    dtype = guess_numpy_type(operator.inputs[0].type)
    if dtype != np.float64:
        convert_sklearn_imputer(scope, operator, container)
        return
    op, opv = operator.raw_operator, container.target_opset
    fill = op.statistics_.astype(np.float64).reshape(1, -1)
    x = operator.inputs[0]
    OnnxWhere(
        OnnxIsNaN(x, op_version=opv), fill, x, op_version=opv, output_names=operator.outputs[:1]
    ).add_to(scope, container)


# ai.onnx.ml 3 holds tree attributes as double tensors ("<name>_as_tensor").
DOUBLE_TREE_ATTRIBUTES = ("nodes_values", "base_values", "class_weights", "nodes_hitrates")


def _double_gradient_boosting_converter(scope: Any, operator: Any, container: Any) -> None:
    """HistGradientBoostingClassifier with its float64 thresholds kept in double.

    skl2onnx writes its trees for ai.onnx.ml 1, whose attributes are float32: a value between
    a threshold and its float32 rounding takes the other branch. Its forest converter at
    ai.onnx.ml 3 computes double attributes but hands them on as float lists; they are passed
    as double tensors instead, so every split is scikit-learn's.
    """
    from onnx import numpy_helper
    from skl2onnx.operator_converters.random_forest import (
        convert_sklearn_random_forest_classifier,
    )

    add_node = container.add_node

    def add_double_node(op_type: str, inputs: Any, outputs: Any, **attrs: Any) -> Any:
        if op_type == "TreeEnsembleClassifier":
            for key in DOUBLE_TREE_ATTRIBUTES:
                value = attrs.get(key)
                if isinstance(value, np.ndarray) and value.dtype == np.float64:
                    attrs[f"{key}_as_tensor"] = numpy_helper.from_array(attrs.pop(key), key)
        return add_node(op_type, inputs, outputs, **attrs)

    container.add_node = add_double_node
    try:
        convert_sklearn_random_forest_classifier(scope, operator, container, op_version=3)
    finally:
        container.add_node = add_node


def _register_converters() -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx.shape_calculators.ensemble_shapes import (
        calculate_tree_classifier_output_shapes,
    )
    from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer

    update_registered_converter(
        SimpleImputer,
        "SklearnImputer",
        calculate_sklearn_imputer_output_shapes,
        _double_imputer_converter,
    )
    update_registered_converter(
        HistGradientBoostingClassifier,
        "SklearnHistGradientBoostingClassifier",
        calculate_tree_classifier_output_shapes,
        _double_gradient_boosting_converter,
        options={
            "zipmap": [True, False, "columns"],
            "raw_scores": [True, False],
            "output_class_labels": [False, True],
            "nocl": [True, False],
        },
    )


def _estimators(model: Any) -> list[Any]:
    """The fitted estimators behind a pipeline's last step: the step itself, or the ones a
    CalibratedClassifierCV calibrates (one with `ensemble=False`, as training makes them)."""
    last = model.steps[-1][1]
    calibrated = getattr(last, "calibrated_classifiers_", None)
    return [c.estimator for c in calibrated] if calibrated is not None else [last]


def _calibrated(model: Any) -> bool:
    return hasattr(model.steps[-1][1], "calibrated_classifiers_")


def _float32_thresholds(model: Any) -> Any:
    """A copy whose tree thresholds are float32 values that split exactly as before.

    scikit-learn sends x left when float32(x) <= t (t a float64). The largest float32 <= t
    gives the same answer for every float32(x), and survives ONNX's float32 attributes.
    """
    model = copy.deepcopy(model)
    trees = []
    for estimator in _estimators(model):
        members = getattr(estimator, "estimators_", None)
        if members is not None:
            trees += [e for e in np.ravel(members) if hasattr(e, "tree_")]
        if hasattr(estimator, "tree_"):
            trees.append(estimator)
    for tree in trees:
        thr = tree.tree_.threshold  # a view on the tree's nodes: writing it changes the tree
        t32 = thr.astype(np.float32)
        up = t32.astype(np.float64) > thr
        t32[up] = np.nextafter(t32[up], np.float32(-np.inf))
        thr[:] = t32.astype(np.float64)
    return model


def _float32_trees(model: Any) -> bool:
    """Trees that compare float32(x) (decision trees, forests), unlike gradient boosting's
    histogram trees, which compare float64 values."""
    return any(hasattr(e, "tree_") or hasattr(e, "estimators_") for e in _estimators(model))


def _boosted_trees(model: Any) -> bool:
    return any(hasattr(e, "_predictors") for e in _estimators(model))


def _has_trees(model: Any) -> bool:
    return _float32_trees(model) or _boosted_trees(model)


def _double_tree_scores(onx: Any) -> None:
    """Cast tree ensembles' float32 scores to double for what follows them in a float64 graph
    (a calibrator's arithmetic is in double; ai.onnx.ml's trees answer float32 whatever their
    input). float32 -> float64 is exact."""
    from onnx import TensorProto, helper

    graph = onx.graph
    for i, node in reversed(list(enumerate(graph.node))):
        if node.op_type.startswith("TreeEnsemble") and len(node.output) > 1:
            scores = node.output[1]
            node.output[1] = f"{scores}_float32"
            graph.node.insert(
                i + 1,
                helper.make_node(
                    "Cast", [node.output[1]], [scores], to=TensorProto.DOUBLE, name=f"{scores}_cast"
                ),
            )


def _cast_before_trees(onx: Any) -> None:
    """Feed tree ensembles float32, as scikit-learn does, instead of float64."""
    from onnx import TensorProto, helper

    graph = onx.graph
    for i, node in reversed(list(enumerate(graph.node))):
        if node.op_type.startswith("TreeEnsemble"):
            source = node.input[0]
            node.input[0] = f"{source}_as_float32"
            graph.node.insert(
                i,
                helper.make_node(
                    "Cast", [source], [node.input[0]], to=TensorProto.FLOAT, name=f"{source}_cast"
                ),
            )


def _without_text_imputer(model: Any) -> Any:
    """A copy whose categorical branch starts at the encoder: the server imputes missing text
    before the graph (see `text_fill`)."""
    model = copy.deepcopy(model)
    prep = model.steps[0][1]
    prep.transformers_ = [
        (name, part.steps[-1][1] if name == "categorical" else part, columns)
        for name, part, columns in prep.transformers_
    ]
    return model


def text_fill(model: Any) -> dict[str, str]:
    """What the fitted model writes in place of a missing category, per categorical feature."""
    prep = model.steps[0][1]
    if "categorical" not in prep.named_transformers_:
        return {}
    branch = prep.named_transformers_["categorical"]
    columns = dict((name, cols) for name, _, cols in prep.transformers_)["categorical"]
    imputer = branch.named_steps["impute"]
    return {name: str(value) for name, value in zip(columns, imputer.statistics_, strict=True)}


def _split_input(graph: Any, opset: int, name: str, elem_type: int, targets: list[str]) -> None:
    """One (n, k) input `name` feeding the k per-column inputs skl2onnx made (`targets`).

    The pipeline selects columns by name, so skl2onnx wants one input per column; feeding 30
    tensors costs onnxruntime more per call than the model itself. A Split node is free.
    """
    from onnx import TensorProto, helper

    graph.input.append(helper.make_tensor_value_info(name, elem_type, [None, len(targets)]))
    if len(targets) == 1:
        graph.node.insert(0, helper.make_node("Identity", [name], targets))
        return
    ones = [1] * len(targets)
    if opset >= 13:  # the sizes became an input in opset 13; skl2onnx may pick an older opset
        sizes = helper.make_tensor(f"{name}_sizes", TensorProto.INT64, [len(targets)], ones)
        graph.initializer.append(sizes)
        split = helper.make_node("Split", [name, sizes.name], targets, axis=1)
    else:
        split = helper.make_node("Split", [name], targets, axis=1, split=ones)
    graph.node.insert(0, split)


def _convert(model: Any, types: dict[str, str], dtype: str) -> bytes:
    from onnx import TensorProto
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    tensor = FloatTensorType if dtype == "float32" else DoubleTensorType
    numeric = [name for name, kind in types.items() if kind == "numeric"]
    text = [name for name, kind in types.items() if kind != "numeric"]
    if text:
        model = _without_text_imputer(model)
    rounded = dtype == "float64" and _float32_trees(model)
    if dtype == "float64":
        _register_converters()
    if rounded:
        model = _float32_thresholds(model)
    # skl2onnx names its inputs after the columns, changing characters ONNX names cannot hold
    # (`od280/od315...`): its inputs are matched to the columns by position, not by name.
    onx = convert_sklearn(
        model,
        initial_types=[
            (name, tensor([None, 1]) if name in numeric else StringTensorType([None, 1]))
            for name in numeric + text
        ],
        options={id(model.steps[-1][1]): {"zipmap": False}},
        target_opset=OPSET,
    )
    if rounded:
        _cast_before_trees(onx)
    graph = onx.graph
    if dtype == "float64" and _has_trees(model) and _calibrated(model):
        _double_tree_scores(onx)
    elif dtype == "float64" and _boosted_trees(model):
        # ai.onnx.ml's TreeEnsembleClassifier answers float32 whatever its input; skl2onnx
        # declares the input's type. float32 probabilities are well within TOLERANCE.
        for output in graph.output:
            if output.name == "probabilities":
                output.type.tensor_type.elem_type = TensorProto.FLOAT
    made = [graph_input.name for graph_input in graph.input]
    elem_type = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
    for _ in range(len(graph.input)):
        graph.input.pop()
    opset = next(o.version for o in onx.opset_import if o.domain in ("", "ai.onnx"))
    if numeric:
        _split_input(graph, opset, INPUT, elem_type, made[: len(numeric)])
    if text:
        _split_input(graph, opset, TEXT_INPUT, TensorProto.STRING, made[len(numeric) :])
    return onx.SerializeToString()


def onnx_feeds(frame: pd.DataFrame, record: OnnxRecord) -> dict[str, np.ndarray]:
    """The exported graph's inputs for a table of prepared features (`prepare_features`),
    made as the server makes them from a request."""
    return GraphInputs(record).frame_feeds(frame)


def with_missing_values(frame: pd.DataFrame, rows: int = MISSING_PROBES) -> pd.DataFrame:
    """The first `rows` rows again, each with a third of its features blanked (a different
    third per row): the parity check's proof that imputation matches too."""
    probes = frame.head(rows).copy().reset_index(drop=True)
    for i in range(len(probes)):
        blank = [c for j, c in enumerate(probes.columns) if (i + j) % 3 == 0]
        if blank:  # with one or two features some rows have none to blank (pandas refuses [])
            probes.loc[i, blank] = np.nan
    return probes


def export_onnx(model: Any, test: pd.DataFrame, types: dict[str, str]) -> Export:
    """Convert `model` and check it on `test` (and on test rows with missing values); the
    record says what happened and why."""
    from mlcycle.model.candidates import prepare_features

    record: dict[str, Any] = {"tolerance": TOLERANCE, "rows_checked": len(test), "attempts": []}
    X = prepare_features(test, types)
    X = pd.concat([X, prepare_features(with_missing_values(X), types)], ignore_index=True)
    record["rows_with_missing_values_checked"] = min(len(test), MISSING_PROBES)
    expected = model.predict_proba(X)
    classes = [str(c) for c in model.classes_]
    numeric = [name for name, kind in types.items() if kind == "numeric"]
    text = [name for name, kind in types.items() if kind != "numeric"]
    inputs: dict[str, Any] = {"input": INPUT, "features": list(types), "numeric_features": numeric}
    if text:
        fill = text_fill(model)
        inputs |= {"text_input": TEXT_INPUT, "text_features": text, "text_fill": fill}
    # Tree ensembles go exact first: float32 scaling can move a value across a split threshold
    # on rows the test split happens not to contain.
    order = ("float64", "float32") if _has_trees(model) else ("float32", "float64")
    for dtype in order:
        attempt: dict[str, Any] = {"dtype": dtype}
        record["attempts"].append(attempt)
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                onnx_bytes = _convert(model, types, dtype)
            sess = session(onnx_bytes)
            graph = OnnxRecord(status="exported", input_dtype=dtype, **inputs)
            got = sess.run(["probabilities"], onnx_feeds(X, graph))[0]
        except ImportError:
            # A missing converter is a broken install, not a model ONNX cannot express: fail
            # the run rather than let scikit-learn serve every model it trains.
            raise
        except Exception as exc:  # any converter or runtime failure is a reason, not a crash
            attempt["error"] = f"{type(exc).__name__}: {exc}"[:500]
            continue
        finally:
            attempt["seconds"] = round(time.perf_counter() - started, 3)
        diff = float(np.abs(np.asarray(got, dtype=np.float64) - expected).max())
        attempt["max_abs_diff"] = diff
        if diff <= TOLERANCE:
            record |= {
                "status": "exported",
                "file": ONNX_FILE,
                "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
                "input_dtype": dtype,
                "max_abs_diff": diff,
                **inputs,
                "classes": classes,
            }
            return Export(onnx_bytes, record)
    reasons = [
        f"{a['dtype']}: " + (a["error"] if "error" in a else f"max |Δp| {a['max_abs_diff']:.2e}")
        for a in record["attempts"]
    ]
    record |= {
        "status": "failed",
        "reason": f"no ONNX graph matched scikit-learn within {TOLERANCE} ({'; '.join(reasons)})",
    }
    return Export(None, record)
