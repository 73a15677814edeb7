"""Benchmark: which target recall (and calibration) to ask for, from the training split alone.

    .venv/bin/python bench/operating_point.py [--repeats 5] [--targets 0.95,0.96,...]

Writes bench/results/operating_point.json. The issue asks the champion, on the held-out test
split, for malignant recall >= 0.97. The target recall is a hyper-parameter, so it must be
chosen without that split: this study estimates, on the training split only, what held-out
recall each target gives.

The training split is the pipeline's own (its ingest, validate, clean and split steps run in
process on the default data, `run_in_process(..., until="split")`); the test split is never
read. Over it, repeated stratified outer folds (5 x `--repeats`): in each, the outer-train part
goes through the training step itself (`train_model`: model selection by CV, calibration, the
threshold from inner out-of-fold calibrated probabilities), and the outer-held part is scored
at the threshold each target gives. Only the threshold depends on the target, so the inner
out-of-fold probabilities are computed once per fold and calibration (as `choose_operating_point`
computes them: the bench checks it gets the training step's threshold for the first target)
and every target's threshold is chosen on them.

The decision rule, written before the test figures at the target it picks were looked at:
- calibration: the one with the lower mean outer-fold Brier score (the issue's calibration
  criterion, Brier <= 0.03; ECE is reported beside it). Ties keep sigmoid, the config's.
- target: with that calibration, the smallest target whose outer-fold recall's LOWER QUARTILE
  reaches 0.97. The lower quartile, not the mean: the issue's requirement is on one held-out
  draw, and a mean at 0.97 would meet it on about half of the draws; a lower quartile at 0.97
  meets it on three in four. The smallest such target: each step up costs false alarms.
Outer-held parts are ~91 cases (34 malignant) against the test split's 114 (42), and the
outer-train parts 80% of the training split: if anything, the estimate is pessimistic.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONFIG = REPO / "configs" / "breast_cancer.yaml"
TARGETS = "0.95,0.96,0.97,0.98,0.99,1.0"
CALIBRATIONS = ("none", "sigmoid")
REQUIRED_RECALL = 0.97  # the held-out malignant recall
RULE = (
    "calibration: lower mean outer-fold Brier (ties: sigmoid); target: with it, the smallest "
    f"whose outer-fold recall lower quartile >= {REQUIRED_RECALL}"
)


def training_split(config) -> tuple:
    """The pipeline's own training split of the default data and its feature types."""
    import pandas as pd

    from mlcycle.pipeline.inprocess import run_in_process

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        run_in_process(f"{tmp}/root", config, work, until="split")
        types = json.loads((work / "validate" / "report").read_text())["info"]["types"]
        return pd.read_parquet(work / "split" / "train_set"), types


def outer_fold(train, held, variants: dict, types, targets: list[float]) -> dict:
    """One outer fold: for each variant (a name and its config), the training step on `train`,
    every target's threshold, scored on `held`."""
    from sklearn.base import clone
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    from mlcycle.config import Decision
    from mlcycle.model.candidates import prepare_features
    from mlcycle.model.metrics import expected_calibration_error
    from mlcycle.model.operating import choose_threshold, positive_index, rates
    from mlcycle.model.train import thread_limit, train_model

    label = next(iter(variants.values())).label  # the variants differ in how they train only
    X, y = prepare_features(train, types), train[label].astype(str)
    X_held, y_held = prepare_features(held, types), held[label].astype(str)
    out = {}
    for name, config in variants.items():
        fold_config = config.model_copy(update={"decision": Decision(target_recall=targets[0])})
        result = train_model(train, fold_config, types)
        classes = list(result.model.classes_)
        pos = positive_index(classes, config.positive_class)
        cv = StratifiedKFold(n_splits=config.cv_folds, shuffle=True, random_state=config.seed)
        with threadpool_limits(limits=thread_limit(config, *X.shape)):
            oof = cross_val_predict(clone(result.model), X, y, cv=cv, method="predict_proba")
        is_pos = (y == classes[pos]).to_numpy()
        thresholds = [choose_threshold(is_pos, oof[:, pos], t) for t in targets]
        if thresholds[0] != result.operating_point.threshold:
            raise AssertionError("the bench's out-of-fold threshold is not the training step's")
        p = result.model.predict_proba(X_held)[:, pos]
        truth = (y_held == classes[pos]).to_numpy()
        out[name] = {
            "chosen": result.chosen,
            "roc_auc": float(roc_auc_score(truth, p)),
            "brier": float(brier_score_loss(truth, p)),
            "ece": expected_calibration_error(truth, p),
            "argmax": rates(truth, p >= 0.5),
            "targets": {
                str(t): {"threshold": thr, **rates(truth, p >= thr)}
                for t, thr in zip(targets, thresholds, strict=True)
            },
        }
    return out


def summarise(folds: list[dict], targets: list[float]) -> dict:
    """Per variant (the folds' keys): the outer-fold figures, overall and per target."""

    def stats(values: list[float]) -> dict:
        a = np.asarray(values)
        return {
            "mean": round(float(a.mean()), 4),
            "lower_quartile": round(float(np.percentile(a, 25)), 4),
            "min": round(float(a.min()), 4),
        }

    def recall(values: list[float]) -> dict:
        # How often one held-out draw meets the requirement: the odds the rule accepts.
        share = float(np.mean(np.asarray(values) >= REQUIRED_RECALL - 1e-9))
        return {**stats(values), "share_reaching_required": round(share, 4), "folds": values}

    summary = {}
    for c in folds[0]:
        runs = [f[c] for f in folds]
        per_target = {}
        for t in map(str, targets):
            at = [r["targets"][t] for r in runs]
            per_target[t] = {
                "recall": recall([round(a["recall"], 4) for a in at]),
                "false_alarms_per_100": round(
                    float(np.mean([a["false_alarms_per_100"] for a in at])), 2
                ),
                "specificity": round(float(np.mean([a["specificity"] for a in at])), 4),
                "precision": round(float(np.mean([a["precision"] for a in at])), 4),
                "threshold_median": round(float(np.median([a["threshold"] for a in at])), 4),
            }
        summary[c] = {
            "roc_auc": stats([r["roc_auc"] for r in runs]),
            "brier_mean": round(float(np.mean([r["brier"] for r in runs])), 4),
            "brier_upper_quartile": round(float(np.percentile([r["brier"] for r in runs], 75)), 4),
            "ece_mean": round(float(np.mean([r["ece"] for r in runs])), 4),
            "argmax_recall": stats([r["argmax"]["recall"] for r in runs]),
            "argmax_false_alarms_per_100": round(
                float(np.mean([r["argmax"]["false_alarms_per_100"] for r in runs])), 2
            ),
            "chosen_candidates": {
                name: sum(r["chosen"] == name for r in runs) for name in {r["chosen"] for r in runs}
            },
            "targets": per_target,
        }
    return summary


def rule_target(figures: dict, targets: list[float]) -> float | None:
    """One variant's target by the rule: the smallest whose outer-fold recall's lower quartile
    reaches the required recall (None when none does)."""
    reaching = [
        t
        for t in targets
        if figures["targets"][str(t)]["recall"]["lower_quartile"] >= REQUIRED_RECALL
    ]
    return min(reaching) if reaching else None


def decide(summary: dict, targets: list[float]) -> dict:
    """The rule in the module's docstring, applied to the summary."""
    calibration = min(CALIBRATIONS, key=lambda c: (summary[c]["brier_mean"], c != "sigmoid"))
    return {
        "rule": RULE,
        "calibration": calibration,
        "target_recall": rule_target(summary[calibration], targets),
    }


def study(config, variants: dict, repeats: int, targets: list[float]) -> tuple[dict, dict]:
    """Every variant over the same repeated outer folds of the training split: the summary and
    the data's description."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    started = time.perf_counter()
    train, types = training_split(config)
    outer = RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=config.seed)
    folds = []
    for i, (fit_rows, held_rows) in enumerate(outer.split(train, train[config.label])):
        fold = outer_fold(
            train.iloc[fit_rows].reset_index(drop=True),
            train.iloc[held_rows].reset_index(drop=True),
            variants,
            types,
            targets,
        )
        folds.append(fold)
        print(f"fold {i + 1}: {time.perf_counter() - started:.0f} s", flush=True)
    data = {
        "training_rows": len(train),
        "malignant": int((train[config.label] == config.positive_class).sum()),
        "outer_folds": f"5 x {repeats} (stratified, seed {config.seed})",
        "inner_cv_folds": config.cv_folds,
    }
    return summarise(folds, targets), data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="times the 5 outer folds repeat")
    parser.add_argument("--targets", default=TARGETS)
    args = parser.parse_args()
    targets = sorted(float(t) for t in args.targets.split(","))

    from mlcycle.config import load_config

    started = time.perf_counter()
    config = load_config(CONFIG)
    variants = {c: config.model_copy(update={"calibration": c}) for c in CALIBRATIONS}
    summary, data = study(config, variants, args.repeats, targets)
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": "the training split only (the test split is never read); shared machine",
        "data": {**data, "grids": "the config's own (nothing reduced)"},
        "decision": decide(summary, targets),
        "summary": summary,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps({"decision": results["decision"], "summary": summary}, indent=2))
    out = HERE / "results" / "operating_point.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
