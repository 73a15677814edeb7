"""Export a fitted pipeline to ONNX, kept only if it predicts what scikit-learn predicts.

Serving through onnxruntime costs microseconds per call where scikit-learn costs a fraction of
a millisecond (linear) to several milliseconds (forests). An export is accepted only when its
probabilities on the test split are within `TOLERANCE` of scikit-learn's; otherwise the record
says why and the model is served by scikit-learn.

Two attempts (tree ensembles take the second first):
  float32  skl2onnx's usual graph. Exact enough for linear models.
  float64  preprocessing in double, cast to float32 right before a tree ensemble, with the
           thresholds rounded down to float32. That is exactly what scikit-learn's trees do
           (they compare float32(x) with a float64 threshold), so forests agree to rounding.
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

from mlcycle.model.predict import session

ONNX_FILE = "model.onnx"
INPUT = "features"  # the graph's one input: (n, features in schema order)
TOLERANCE = 1e-5
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


def _register_converters() -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes
    from sklearn.impute import SimpleImputer

    update_registered_converter(
        SimpleImputer,
        "SklearnImputer",
        calculate_sklearn_imputer_output_shapes,
        _double_imputer_converter,
    )


def _float32_thresholds(model: Any) -> Any:
    """A copy whose tree thresholds are float32 values that split exactly as before.

    scikit-learn sends x left when float32(x) <= t (t a float64). The largest float32 <= t
    gives the same answer for every float32(x), and survives ONNX's float32 attributes.
    """
    model = copy.deepcopy(model)
    estimators = getattr(model.steps[-1][1], "estimators_", None)
    trees = (
        [e for e in np.ravel(estimators) if hasattr(e, "tree_")] if estimators is not None else []
    )
    if hasattr(model.steps[-1][1], "tree_"):
        trees.append(model.steps[-1][1])
    for tree in trees:
        thr = tree.tree_.threshold  # a view on the tree's nodes: writing it changes the tree
        t32 = thr.astype(np.float32)
        up = t32.astype(np.float64) > thr
        t32[up] = np.nextafter(t32[up], np.float32(-np.inf))
        thr[:] = t32.astype(np.float64)
    return model


def _has_trees(model: Any) -> bool:
    estimator = model.steps[-1][1]
    return hasattr(estimator, "tree_") or hasattr(estimator, "estimators_")


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


def _single_input(onx: Any, names: list[str]) -> None:
    """One (n, features) input split into the per-column inputs skl2onnx made.

    The pipeline selects columns by name, so skl2onnx wants one input per column; feeding 30
    tensors costs onnxruntime more per call than the model itself. A Split node is free.
    """
    from onnx import TensorProto, helper

    graph = onx.graph
    elem_type = graph.input[0].type.tensor_type.elem_type
    for _ in range(len(graph.input)):
        graph.input.pop()
    graph.input.append(helper.make_tensor_value_info(INPUT, elem_type, [None, len(names)]))
    opset = next(o.version for o in onx.opset_import if o.domain in ("", "ai.onnx"))
    if opset >= 13:  # the sizes became an input in opset 13; skl2onnx may pick an older opset
        sizes = helper.make_tensor("split_sizes", TensorProto.INT64, [len(names)], [1] * len(names))
        graph.initializer.append(sizes)
        split = helper.make_node("Split", [INPUT, "split_sizes"], names, axis=1)
    else:
        split = helper.make_node("Split", [INPUT], names, axis=1, split=[1] * len(names))
    graph.node.insert(0, split)


def _convert(model: Any, types: dict[str, str], dtype: str) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    tensor = FloatTensorType if dtype == "float32" else DoubleTensorType
    if dtype == "float64":
        _register_converters()
        model = _float32_thresholds(model)
    onx = convert_sklearn(
        model,
        initial_types=[(name, tensor([None, 1])) for name in types],
        options={id(model.steps[-1][1]): {"zipmap": False}},
        target_opset=OPSET,
    )
    if dtype == "float64":
        _cast_before_trees(onx)
    _single_input(onx, list(types))
    return onx.SerializeToString()


def onnx_feeds(frame: pd.DataFrame, names: list[str], dtype: str) -> dict[str, np.ndarray]:
    """The exported graph's input: the features in schema order, as one matrix."""
    return {INPUT: frame[names].to_numpy(dtype)}


def export_onnx(model: Any, test: pd.DataFrame, types: dict[str, str]) -> Export:
    """Convert `model` and check it on `test`; the record says what happened and why."""
    from mlcycle.model.candidates import prepare_features

    record: dict[str, Any] = {"tolerance": TOLERANCE, "rows_checked": len(test), "attempts": []}
    categorical = [name for name, kind in types.items() if kind != "numeric"]
    if categorical:
        # Text inputs in ONNX cannot be missing, while scikit-learn imputes them: no exact match.
        record |= {
            "status": "failed",
            "reason": f"categorical features {categorical}: missing text values have no "
            "exact ONNX equivalent, so scikit-learn serves this model",
        }
        return Export(None, record)
    X = prepare_features(test, types)
    expected = model.predict_proba(X)
    classes = [str(c) for c in model.classes_]
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
            got = sess.run(["probabilities"], onnx_feeds(X, list(types), dtype))[0]
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
                "input": INPUT,
                "features": list(types),
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
