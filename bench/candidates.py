"""Benchmark: which candidate models the default config should try, from the training split alone.

    .venv/bin/python bench/candidates.py [--repeats 5]

Writes bench/results/candidates.json. The same study as bench/operating_point.py (its outer
folds over the pipeline's own training split, each running the training step; the test split
is never read), with the calibration fixed at the config's (sigmoid) and the candidate list
varied instead:
  current    the config's: logistic regression (C in 0.1, 1, 10) and gradient boosting;
  with_svm   the same and an RBF support-vector machine (balanced classes, C in 0.3, 1, 3, 10),
             the model family most published results on this data use;
  wide_lr    logistic regression over a wider C grid (0.01 ... 30) and gradient boosting;
  power      the config's candidates on Yeo-Johnson-transformed numbers
             (`numeric_transform: power`): areas and concavities are skewed.

This study was run after the default champion's held-out recall (0.952 at target 0.97) was
known to be short of the issue's 0.97: the rule below was written before it ran, and the test
split is read only by the pipeline, once the rule has chosen. The first run had the first three
variants and kept the current candidates; `power` was added for a second run, under the same
rule (the first three reproduce exactly: everything is seeded).

The decision rule:
- each variant's target: as operating_point.py's, the smallest target whose outer-fold recall's
  lower quartile reaches 0.97;
- a variant replaces the config's candidates only if, at its target against the current at
  its own, it misses the required recall on no more folds, has no more false alarms, and
  improves one of the two by a margin (one fold more reaching 0.97, or 10% fewer false alarms
  per 100); and its mean ROC AUC is at most 0.001 lower and its mean Brier at most 0.001
  higher. Among those that do: the most folds reaching 0.97, then the fewest false alarms.
- otherwise the config keeps its candidates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from operating_point import CONFIG, HERE, REQUIRED_RECALL, TARGETS, rule_target, study

SVM = {
    "name": "svm",
    "estimator": "svm",
    "params": {"class_weight": "balanced"},
    "grid": {"C": [0.3, 1.0, 3.0, 10.0]},
}
WIDE_C = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
SHARE_MARGIN = 0.04  # one fold in 25
FALSE_ALARM_MARGIN = 0.10  # relative
TOLERANCE = 0.001  # mean ROC AUC and Brier
RULE = (
    "per variant, the smallest target whose outer-fold recall lower quartile >= "
    f"{REQUIRED_RECALL}; a variant replaces the current only if, at those targets, its share of "
    "folds reaching the required recall is no lower and its false alarms no higher, one of them "
    f"better by a margin (+{SHARE_MARGIN} share, or {FALSE_ALARM_MARGIN:.0%} fewer false "
    f"alarms), with mean ROC AUC at most {TOLERANCE} lower and mean Brier at most {TOLERANCE} "
    "higher; among those, the highest share, then the fewest false alarms"
)


def variants(config) -> dict:
    from mlcycle.config import Candidate

    def with_candidates(candidates: list) -> object:
        return config.model_copy(update={"candidates": candidates, "calibration": "sigmoid"})

    current = list(config.candidates)
    wide = [
        c.model_copy(update={"grid": {**c.grid, "C": WIDE_C}})
        if c.estimator == "logistic_regression"
        else c
        for c in current
    ]
    return {
        "current": with_candidates(current),
        "with_svm": with_candidates([*current, Candidate(**SVM)]),
        "wide_lr": with_candidates(wide),
        "power": with_candidates(current).model_copy(update={"numeric_transform": "power"}),
    }


def at_target(figures: dict, targets: list[float]) -> dict:
    """A variant's target by the rule, and its figures there (None when no target reaches)."""
    target = rule_target(figures, targets)
    if target is None:
        return {"target_recall": None}
    at = figures["targets"][str(target)]
    return {
        "target_recall": target,
        "share_reaching_required": at["recall"]["share_reaching_required"],
        "false_alarms_per_100": at["false_alarms_per_100"],
        "roc_auc_mean": figures["roc_auc"]["mean"],
        "brier_mean": figures["brier_mean"],
    }


def better(v: dict, base: dict) -> bool:
    """The rule's test of variant `v` against the current candidates `base`."""
    if v["target_recall"] is None or base["target_recall"] is None:
        return v["target_recall"] is not None
    share, alarms = v["share_reaching_required"], v["false_alarms_per_100"]
    no_worse = share >= base["share_reaching_required"] and alarms <= base["false_alarms_per_100"]
    margin = (
        share >= base["share_reaching_required"] + SHARE_MARGIN - 1e-9
        or alarms <= (1 - FALSE_ALARM_MARGIN) * base["false_alarms_per_100"]
    )
    fair = (
        v["roc_auc_mean"] >= base["roc_auc_mean"] - TOLERANCE
        and v["brier_mean"] <= base["brier_mean"] + TOLERANCE
    )
    return no_worse and margin and fair


def decide(summary: dict, targets: list[float]) -> dict:
    points = {name: at_target(figures, targets) for name, figures in summary.items()}
    winners = [n for n in points if n != "current" and better(points[n], points["current"])]
    winners.sort(
        key=lambda n: (-points[n]["share_reaching_required"], points[n]["false_alarms_per_100"])
    )
    return {"rule": RULE, "at_targets": points, "candidates": winners[0] if winners else "current"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="times the 5 outer folds repeat")
    args = parser.parse_args()
    targets = sorted(float(t) for t in TARGETS.split(","))

    from mlcycle.config import load_config

    started = time.perf_counter()
    config = load_config(CONFIG)
    summary, data = study(config, variants(config), args.repeats, targets)
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": "the training split only (the test split is never read); shared machine",
        "data": {**data, "calibration": "sigmoid", "svm": SVM, "wide_lr_C": WIDE_C},
        "decision": decide(summary, targets),
        "summary": summary,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(results["decision"], indent=2))
    out = HERE / "results" / "candidates.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
