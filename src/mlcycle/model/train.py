"""Train: every configured candidate tuned by cross-validation on the training split only.

In order, all on the training split: (1) each candidate's grid is searched by CV and the best
candidate chosen by the primary metric; (2) the chosen estimator is wrapped in scikit-learn's
CalibratedClassifierCV (`calibration`), which fits it on all training rows and its calibrator
on the estimator's out-of-fold scores; (3) binary problems: that whole calibrated model is
fitted again per fold (`cross_val_predict`, the same folds) and the operating point chosen on
its out-of-fold calibrated probabilities (model/operating.py). The test split is never seen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import f1_score, make_scorer, precision_score, recall_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from mlcycle.config import DatasetConfig
from mlcycle.model.candidates import build_pipeline, prepare_features
from mlcycle.model.operating import choose_operating_point
from mlcycle.model.version import OperatingPoint


@dataclass
class TrainResult:
    model: Pipeline
    chosen: str
    candidates: list[dict[str, Any]]
    scoring: str
    calibration: str = "none"
    operating_point: OperatingPoint | None = None


def scorer(metric: str, classes: list[str], positive_class: str | None) -> Any:
    """The cross-validation scorer for the config's primary metric."""
    binary = len(classes) == 2
    if metric == "roc_auc":
        return "roc_auc" if binary else "roc_auc_ovr"
    if metric == "accuracy":
        return "accuracy"
    if metric == "brier":
        return "neg_brier_score"
    fn = {"precision": precision_score, "recall": recall_score, "f1": f1_score}[metric]
    if binary:
        return make_scorer(fn, pos_label=positive_class, zero_division=0)
    return make_scorer(fn, average="macro", zero_division=0)


# Below this many cells, one thread trains faster: OpenMP/BLAS thread start-up and sync cost
# more than they save, and on a busy machine oversubscribed threads are 10x slower.
SMALL_DATA_CELLS = 2_000_000


def thread_limit(config: DatasetConfig, rows: int, columns: int) -> int | None:
    if config.threads:
        return config.threads
    return 1 if rows * columns < SMALL_DATA_CELLS else None


def train_model(train: pd.DataFrame, config: DatasetConfig, types: dict[str, str]) -> TrainResult:
    """Grid-search each candidate with stratified K-fold CV; keep the best, calibrate it and
    fit it on all of train; choose the operating point out of fold (binary problems).

    Deterministic for a given training table and seed.
    """
    X = prepare_features(train, types)
    y = train[config.label].astype(str)
    classes = sorted(y.unique())
    scoring = scorer(config.gate.primary_metric, classes, config.positive_class)
    cv = StratifiedKFold(n_splits=config.cv_folds, shuffle=True, random_state=config.seed)
    with threadpool_limits(limits=thread_limit(config, *X.shape)):
        result = _search(X, y, config, types, scoring, cv)
        if config.calibration != "none":
            result.model = calibrated(result.model, config.calibration, cv).fit(X, y)
            result.calibration = config.calibration
        result.operating_point = choose_operating_point(result.model, X, y, config, cv)
    return result


def calibrated(model: Pipeline, method: str, cv: StratifiedKFold) -> Pipeline:
    """An unfitted copy of `model` whose estimator is calibrated by `method`.

    `ensemble=False`: one estimator fitted on all rows given, its calibrator fitted on that
    estimator's out-of-fold scores over the same folds, so the model served is the tuned
    estimator itself (and one ONNX graph). The preprocessing stays in front, fitted on all rows.
    """
    prep, estimator = model.steps[0][1], model.steps[-1][1]
    return Pipeline(
        [
            (model.steps[0][0], clone(prep)),
            ("clf", CalibratedClassifierCV(clone(estimator), method=method, cv=cv, ensemble=False)),
        ]
    )


def _search(
    X: pd.DataFrame,
    y: pd.Series,
    config: DatasetConfig,
    types: dict[str, str],
    scoring: Any,
    cv: StratifiedKFold,
) -> TrainResult:
    summaries, best, best_score = [], None, None
    for candidate in config.candidates:
        if candidate.estimator == "svm" and y.nunique() > 2 and scoring == "roc_auc_ovr":
            # One-vs-rest ROC AUC needs probabilities that sum to one; SVM scores do not.
            raise ValueError(
                f"candidate {candidate.name!r} (svm) cannot be tuned by roc_auc on "
                f"{y.nunique()} classes: set gate.primary_metric to accuracy or f1"
            )
        started = time.perf_counter()
        search = GridSearchCV(
            build_pipeline(candidate, types, config.seed, config.numeric_transform),
            param_grid={f"clf__{k}": v for k, v in candidate.grid.items()} or [{}],
            scoring=scoring,
            cv=cv,
            refit=True,
            n_jobs=1,
            error_score="raise",
        )
        search.fit(X, y)
        idx = search.best_index_
        summaries.append(
            {
                "name": candidate.name,
                "estimator": candidate.estimator,
                "best_params": {k.removeprefix("clf__"): v for k, v in search.best_params_.items()},
                "cv_score": round(float(search.best_score_), 6),
                "cv_std": round(float(search.cv_results_["std_test_score"][idx]), 6),
                "grid_size": len(search.cv_results_["params"]),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
        if best_score is None or search.best_score_ > best_score:  # ties keep the earlier
            best, best_score, chosen = search.best_estimator_, search.best_score_, candidate.name
    return TrainResult(
        model=best,
        chosen=chosen,
        candidates=summaries,
        scoring=scoring if isinstance(scoring, str) else config.gate.primary_metric,
    )
