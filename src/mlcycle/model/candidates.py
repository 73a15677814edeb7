"""Candidate models: a preprocessing front shared by all, and the estimators the config names."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, PowerTransformer, StandardScaler
from sklearn.svm import SVC

from mlcycle.config import Candidate, NumericTransform
from mlcycle.data.schema import category_column

ESTIMATORS: dict[str, type] = {
    "logistic_regression": LogisticRegression,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
    "random_forest": RandomForestClassifier,
    "svm": SVC,
}
SCALERS: dict[NumericTransform, type] = {"standard": StandardScaler, "power": PowerTransformer}
SEEDED = ("hist_gradient_boosting", "random_forest")


def preprocessor(
    types: dict[str, str], numeric_transform: NumericTransform = "standard"
) -> ColumnTransformer:
    """Median-impute and scale numbers (`numeric_transform`: standard, or power: Yeo-Johnson
    first, for skewed measurements); impute and one-hot encode categories."""
    numeric = [c for c, t in types.items() if t == "numeric"]
    categorical = [c for c, t in types.items() if t == "categorical"]
    parts = []
    if numeric:
        parts.append(
            (
                "numeric",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median")),
                        ("scale", SCALERS[numeric_transform]()),
                    ]
                ),
                numeric,
            )
        )
    if categorical:
        parts.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            )
        )
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def build_pipeline(
    candidate: Candidate,
    types: dict[str, str],
    seed: int,
    numeric_transform: NumericTransform = "standard",
) -> Pipeline:
    """An unfitted pipeline: preprocessing, then the candidate's estimator."""
    params: dict[str, Any] = dict(candidate.params)
    if candidate.estimator in SEEDED:
        params.setdefault("random_state", seed)
    return Pipeline(
        [
            ("prep", preprocessor(types, numeric_transform)),
            ("clf", ESTIMATORS[candidate.estimator](**params)),
        ]
    )


def prepare_features(frame: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """The model's input table: its columns in order, numbers as floats, categories as text."""
    out = pd.DataFrame(index=frame.index)
    for name, kind in types.items():
        column = frame[name]
        if kind == "numeric":
            out[name] = pd.to_numeric(column, errors="coerce").astype("float64")
        else:
            text = category_column(column)  # 12345.0 -> "12345", as in training's clean step
            out[name] = np.where(column.isna(), np.nan, text).astype(object)
    return out
