"""Validate: a snapshot is checked against the config and, once one exists, the champion.

Column rules run as a pandera schema; a few whole-table rules (classes, files) are plain pandas.
Errors reject the snapshot; warnings are recorded and the run goes on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from mlcycle.config import DatasetConfig
from mlcycle.data.report import DataReport, Issue
from mlcycle.data.schema import coerce_features, feature_columns, feature_types

MAX_EXAMPLES = 5


def _examples(values: pd.Series) -> list[Any]:
    out = []
    for v in values.drop_duplicates().head(MAX_EXAMPLES):
        out.append(v.item() if hasattr(v, "item") else (None if pd.isna(v) else v))
    return out


def expected_features(
    columns_by_file: dict[str, list[str]], config: DatasetConfig, champion: dict[str, Any] | None
) -> list[str]:
    """What every file must carry: the champion's features, or every feature seen in any file."""
    if champion:
        return [f["name"] for f in champion["features"]]
    seen: dict[str, None] = {}
    for columns in columns_by_file.values():
        seen |= dict.fromkeys(feature_columns(columns, config))
    return list(seen)


def _column_checks(
    types: dict[str, str],
    config: DatasetConfig,
    champion: dict[str, Any] | None,
    tolerance: float,
    unseen_categories: bool = False,
) -> pa.DataFrameSchema:
    """The pandera schema: presence, finiteness, ranges (widened by `tolerance`), classes."""
    known = {f["name"]: f for f in champion["features"]} if champion else {}
    columns: dict[str, pa.Column] = {}
    for name, kind in types.items():
        checks = [
            pa.Check(
                lambda s: s.notna().any(),
                element_wise=False,
                name="not_all_missing",
                error="every value is missing",
            ),
        ]
        if kind == "numeric":
            checks.append(
                pa.Check(
                    lambda s: ~np.isinf(s),
                    name="finite",
                    ignore_na=True,
                    error="values must be finite",
                )
            )
            spec = known.get(name)
            if spec and spec.get("min") is not None:
                margin = (spec["max"] - spec["min"]) * tolerance
                lo, hi = spec["min"] - margin, spec["max"] + margin
                checks.append(
                    pa.Check.in_range(
                        lo, hi, name="in_range", error=f"outside [{lo:.6g}, {hi:.6g}]"
                    )
                )
            columns[name] = pa.Column(float, checks=checks, nullable=True)
        else:
            spec = known.get(name)
            if spec and unseen_categories:
                checks.append(
                    pa.Check.isin(
                        spec["categories"],
                        name="known_category",
                        error="categories the model has not seen",
                    )
                )
            columns[name] = pa.Column(str, checks=checks, nullable=True)
    if champion:
        columns[config.label] = pa.Column(
            str,
            nullable=True,
            checks=pa.Check.isin(
                champion["classes"],
                name="known_class",
                error="classes the champion was not trained on",
            ),
        )
    return pa.DataFrameSchema(columns, strict=False)


def _run(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> list[Issue]:
    """Validate lazily; one Issue per (column, check) with its count and example values."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        issues = []
        cases = exc.failure_cases
        keys = ["column", "check", "check_number"]
        for (column, check, number), group in cases.groupby(keys, dropna=False, sort=False):
            spec = schema.columns.get(column)
            if spec is not None and pd.notna(number):
                # pandera reports a check by its error text; name the rule it broke instead.
                rule_check = spec.checks[int(number)]
                rule, message = rule_check.name, rule_check.error or str(check)
            else:
                rule, message = str(check).split("(")[0], str(check)
            issues.append(
                Issue(
                    rule=rule,
                    message=message,
                    column=str(column),
                    count=len(group),
                    examples=_examples(group["failure_case"]),
                )
            )
        return issues
    return []


def validate(
    frame: pd.DataFrame,
    columns_by_file: dict[str, list[str]],
    config: DatasetConfig,
    champion: dict[str, Any] | None = None,
    empty_columns_by_file: dict[str, list[str]] | None = None,
) -> DataReport:
    """Every rule a snapshot must pass before it may train a model that could be promoted."""
    report = DataReport(stage="validate")
    rules = config.validation

    # Files: each must carry the label and every expected feature; unknown columns are dropped.
    expected = expected_features(columns_by_file, config, champion)
    unknown: dict[str, None] = {}
    for file, columns in columns_by_file.items():
        if config.label not in columns:
            report.errors.append(
                Issue(
                    rule="missing_label",
                    file=file,
                    column=config.label,
                    message="the label column is missing",
                )
            )
        missing = [c for c in expected if c not in columns]
        if missing:
            report.errors.append(
                Issue(
                    rule="missing_column",
                    file=file,
                    count=len(missing),
                    examples=missing[:MAX_EXAMPLES],
                    column=missing[0] if len(missing) == 1 else None,
                    message=f"feature column(s) the model needs are missing: {', '.join(missing)}",
                )
            )
        empty = [c for c in (empty_columns_by_file or {}).get(file, []) if c in expected]
        for column in empty:
            report.errors.append(
                Issue(
                    rule="not_all_missing",
                    file=file,
                    column=column,
                    message="every value in this file is missing",
                )
            )
        for c in feature_columns(columns, config):
            if c not in expected:
                unknown[c] = None
    for c in unknown:
        report.warnings.append(
            Issue(rule="unknown_column", column=c, message="not a known feature; dropped")
        )
    if report.errors:
        return report

    types = feature_types(frame[[*expected, config.label]], config, champion)
    coerced, not_numbers = coerce_features(frame, types)
    for name, values in not_numbers.items():
        report.errors.append(
            Issue(
                rule="wrong_type",
                column=name,
                count=len(values),
                examples=_examples(values),
                message="expected numbers, found text",
            )
        )

    # Label: enough classes and enough rows of each.
    label = coerced[config.label].map(lambda v: v if pd.isna(v) else str(v))
    coerced[config.label] = label.astype(object)
    missing_labels = int(label.isna().sum())
    if missing_labels:
        report.warnings.append(
            Issue(
                rule="missing_label_value",
                column=config.label,
                count=missing_labels,
                message="rows without a label are dropped",
            )
        )
    counts = label.value_counts()
    if len(counts) < 2:
        report.errors.append(
            Issue(
                rule="single_class",
                column=config.label,
                count=len(counts),
                examples=counts.index.tolist(),
                message="at least two classes are needed to train a classifier",
            )
        )
    small = counts[counts < rules.min_rows_per_class]
    if len(small):
        report.errors.append(
            Issue(
                rule="too_few_rows",
                column=config.label,
                count=len(small),
                examples=small.index.tolist(),
                message=f"each class needs at least {rules.min_rows_per_class} rows "
                f"(have {dict(small.astype(int))})",
            )
        )
    if len(counts) == 2 and config.positive_class not in counts.index:
        report.errors.append(
            Issue(
                rule="positive_class",
                column=config.label,
                examples=counts.index.tolist(),
                message=f"positive_class {config.positive_class!r} (config) is not a label value",
            )
        )

    # Columns: pandera rules; hard ones first, then the same at zero tolerance as warnings.
    checked = coerced.drop(columns=list(not_numbers))
    typed = {k: v for k, v in types.items() if k not in not_numbers}
    report.errors += _run(_column_checks(typed, config, champion, rules.range_tolerance), checked)
    if champion:
        # The same rules at zero tolerance: values the champion never saw, but plausibly real.
        hard = {(i.column, i.rule) for i in report.errors}
        for issue in _run(
            _column_checks(typed, config, champion, 0.0, unseen_categories=True), checked
        ):
            if (issue.column, issue.rule) not in hard and issue.rule in (
                "in_range",
                "known_category",
            ):
                report.warnings.append(
                    Issue(
                        **{
                            **issue.__dict__,
                            "rule": f"{issue.rule}_observed",
                            "message": "outside what the champion saw in training",
                        }
                    )
                )
    for name in typed:
        share = float(checked[name].isna().mean())
        if 0 < share < 1 and share > rules.max_missing_fraction:
            report.warnings.append(
                Issue(
                    rule="many_missing",
                    column=name,
                    count=int(checked[name].isna().sum()),
                    message=f"{share:.0%} of values are missing",
                )
            )
    report.info = {
        "rows": len(frame),
        "features": expected,
        "types": types,
        "dropped_columns": list(unknown),
        "class_counts": {str(k): int(v) for k, v in counts.items()},
        "checked_against_champion": bool(champion),
    }
    return report
