"""Validate: a snapshot is checked against the config and, once one exists, the champion.

Column rules run as a pandera schema; a few whole-table rules (classes, files) are plain pandas.
Errors reject the snapshot; warnings are recorded and the run goes on.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from mlcycle.config import DatasetConfig
from mlcycle.data.report import MAX_EXAMPLES, DataReport, Issue, examples_of
from mlcycle.data.schema import coerce_features, feature_columns, feature_types, label_column
from mlcycle.data.suspects import suspect_columns

MAX_LISTED = 10  # columns named in one message
# Rules where the config and the data disagree: the fix may be in the config, not a file.
CONFIG_RULES = frozenset({"decision", "label", "positive_class"})


def expected_features(
    columns_by_file: dict[str, list[str]], config: DatasetConfig, champion: dict[str, Any] | None
) -> list[str]:
    """What every file must carry: the champion's features, or (with no champion to say which
    file is right) the features every file carries."""
    if champion:
        return [f["name"] for f in champion["features"]]
    carried = [set(columns) for columns in columns_by_file.values()]
    seen: dict[str, None] = {}
    for columns in columns_by_file.values():
        seen |= dict.fromkeys(
            c for c in feature_columns(columns, config) if all(c in s for s in carried)
        )
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
            if not unseen_categories:  # the hard pass: declared bounds and whole numbers
                checks += _declared_checks(name, config, spec)
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


def _declared_checks(
    name: str, config: DatasetConfig, spec: dict[str, Any] | None
) -> list[pa.Check]:
    """What a numeric column can never hold: values outside the config's bounds, and
    fractions where the champion only ever saw whole numbers."""
    checks = []
    bounds = config.validation.bounds_for(name)
    if bounds and (bounds.min is not None or bounds.max is not None):
        lo = -np.inf if bounds.min is None else bounds.min
        hi = np.inf if bounds.max is None else bounds.max
        declared = ", ".join(
            f"{k} {v:g}" for k, v in (("min", bounds.min), ("max", bounds.max)) if v is not None
        )
        checks.append(
            pa.Check.in_range(
                lo,
                hi,
                name="bounds",
                error=f"outside the bounds the config declares ({declared}): impossible values",
            )
        )
    if spec and spec.get("integer"):
        checks.append(
            pa.Check(
                lambda s: s % 1 == 0,
                ignore_na=True,
                name="integer",
                error="the champion's values were all whole numbers; found fractions",
            )
        )
    return checks


def _locate(rows_by_file: dict[str, int] | None) -> Any:
    """Snapshot row (from 0, files concatenated in order) -> (file, row in that file from 1)."""
    if not rows_by_file:
        return lambda index: (None, None)
    names = list(rows_by_file)
    ends = np.cumsum(list(rows_by_file.values()))

    def locate(index: Any) -> tuple[str | None, int | None]:
        if index is None or pd.isna(index):
            return None, None
        i = int(np.searchsorted(ends, int(index), side="right"))
        if i >= len(names):
            return None, None
        start = int(ends[i - 1]) if i else 0
        return names[i], int(index) - start + 1

    return locate


def _run(
    schema: pa.DataFrameSchema, frame: pd.DataFrame, rows_by_file: dict[str, int] | None = None
) -> list[Issue]:
    """Validate lazily; one Issue per (column, check, file) with its count, example values and
    first rows (counted from 1 after the file's header)."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        issues = []
        cases = exc.failure_cases
        locate = _locate(rows_by_file)
        located = [locate(i) for i in cases["index"]]
        cases = cases.assign(_file=[f or "" for f, _ in located], _row=[r for _, r in located])
        keys = ["column", "check", "check_number", "_file"]
        for (column, check, number, file), group in cases.groupby(keys, dropna=False, sort=False):
            spec = schema.columns.get(column)
            if spec is not None and pd.notna(number):
                # pandera reports a check by its error text; name the rule it broke instead.
                rule_check = spec.checks[int(number)]
                rule, message = rule_check.name, rule_check.error or str(check)
            else:
                rule, message = str(check).split("(")[0], str(check)
            rows = [int(r) for r in group["_row"].dropna().head(MAX_EXAMPLES)]
            issues.append(
                Issue(
                    rule=rule,
                    message=message,
                    column=str(column),
                    file=file or None,
                    count=len(group),
                    examples=examples_of(group["failure_case"]),
                    rows=rows,
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
    rows_by_file: dict[str, int] | None = None,
    value_kinds_by_file: dict[str, dict[str, str]] | None = None,
) -> DataReport:
    """Every rule a snapshot must pass before it may train a model that could be promoted.

    `rows_by_file` (ingest's, in snapshot order) lets value errors name the file and row;
    `value_kinds_by_file` (ingest's) says which columns a file typed as true/false or dates."""
    report = DataReport(stage="validate")
    frame = frame.reset_index(drop=True)  # index = snapshot row, as ingest wrote it
    expected = expected_features(columns_by_file, config, champion)
    unknown = _check_files(
        report, columns_by_file, empty_columns_by_file or {}, expected, config, champion
    )
    if not expected and columns_by_file:
        report.errors.append(
            Issue(
                rule="no_features",
                message="no feature column is in every file: nothing to learn from "
                "(see the unknown_column warnings for the columns only some files carry)",
            )
        )
    if report.errors:  # without the right columns, nothing else can be checked
        return report

    types = feature_types(frame[[*expected, config.label]], config, champion)
    declared = set(config.column_types) | {f["name"] for f in (champion or {}).get("features", [])}
    coerced, not_numbers = coerce_features(frame, types)
    # The label as class names, spelt once, as clean spells them; every label rule reads it.
    coerced[config.label] = label_column(coerced[config.label]).astype(object)
    wrong = _check_types(
        report, frame, types, declared, not_numbers, value_kinds_by_file or {}, rows_by_file
    )
    for column in config.validation.bounds:
        if types.get(column) != "numeric":
            report.warnings.append(
                Issue(
                    rule="unknown_bounds",
                    column=column,
                    message="the config declares bounds for it, but it is not a numeric feature",
                )
            )
    counts = _check_label(report, coerced[config.label], config)
    typed = {k: v for k, v in types.items() if k not in wrong}
    _check_columns(report, coerced.drop(columns=list(wrong)), typed, config, champion, rows_by_file)
    inferred = {c: kind for c, kind in typed.items() if c not in config.column_types}
    report.warnings += suspect_columns(coerced, inferred)
    report.info |= {
        "rows": len(frame),
        "features": expected,
        "types": types,
        "dropped_columns": unknown,
        "class_counts": counts,
        "checked_against_champion": bool(champion),
    }
    return report


def _file_rows(rows_by_file: dict[str, int] | None, length: int) -> dict[str | None, slice]:
    """Each file's rows in the snapshot (one unnamed block when the files are not known)."""
    if not rows_by_file:
        return {None: slice(0, length)}
    ends = np.cumsum(list(rows_by_file.values()))
    return {
        name: slice(int(end - n), int(end))
        for name, n, end in zip(rows_by_file, rows_by_file.values(), ends, strict=True)
    }


def _files_of(rows_by_file: dict[str, int] | None, index: pd.Index) -> np.ndarray:
    """The file each snapshot row came from ("" when the files are not known)."""
    if not rows_by_file:
        return np.full(len(index), "", dtype=object)
    names = np.array([*rows_by_file, ""], dtype=object)
    ends = np.cumsum(list(rows_by_file.values()))
    return names[np.searchsorted(ends, index.to_numpy(), side="right")]


def _all_dates(values: pd.Series) -> bool:
    """Text that is every bit an ISO date or timestamp (2024-01-31, 2024-01-31 08:00:00)."""
    text = values.dropna().astype(str)
    if text.empty or not text.str.contains(r"^\d{4}-\d{2}", regex=True).all():
        return False
    return bool(pd.to_datetime(text, format="ISO8601", errors="coerce").notna().all())


DATES_HINT = (
    "mlcycle learns from numbers and categories: turn the dates into a number "
    "(e.g. days since an event) or list the column under drop_columns"
)


def _check_types(
    report: DataReport,
    frame: pd.DataFrame,
    types: dict[str, str],
    declared: set[str],
    not_numbers: dict[str, pd.Series],
    kinds_by_file: dict[str, dict[str, str]],
    rows_by_file: dict[str, int] | None,
) -> set[str]:
    """Values a column's type cannot hold, one error per file: text, dates or true/false where
    numbers are expected, and dates anywhere. Returns the columns not to check further."""
    locate = _locate(rows_by_file)
    blocks = _file_rows(rows_by_file, len(frame))
    wrong: set[str] = set()

    def add(column: str, file: str | None, values: pd.Series, message: str) -> None:
        rows = [r for _, r in map(locate, values.index[:MAX_EXAMPLES]) if r is not None]
        report.errors.append(
            Issue(
                rule="wrong_type",
                column=column,
                file=file,
                count=int(values.notna().sum()),
                examples=examples_of(values.map(str)),
                rows=rows,
                message=message,
            )
        )
        wrong.add(column)

    reported: set[tuple[str | None, str]] = set()
    for file, kinds in kinds_by_file.items():
        for column, kind in kinds.items():
            if column not in types or file not in blocks:
                continue
            values = frame[column].iloc[blocks[file]].dropna()
            numeric = types[column] == "numeric"
            if kind == "datetime":
                expected = numeric and column in declared  # not merely inferred from dates
                found = "expected numbers, found dates" if expected else "holds dates"
                add(column, file, values, f"{found}; {DATES_HINT}")
            elif kind == "boolean" and numeric:
                flags = values.map(lambda v: v if isinstance(v, str) else bool(v))
                add(column, file, flags, "expected numbers, found true/false (a boolean column)")
            else:
                continue
            reported.add((file, column))
    for column, values in not_numbers.items():
        for file, part in values.groupby(_files_of(rows_by_file, values.index), sort=False):
            file = file or None
            if (file, column) in reported:
                continue
            found = "dates" if _all_dates(part) else "text"
            hint = f"; {DATES_HINT}" if found == "dates" else ""
            add(column, file, part, f"expected numbers, found {found}{hint}")
    for column, kind in types.items():
        if kind == "categorical" and column not in declared and column not in wrong:
            for file, block in blocks.items():
                if (file, column) not in reported and _all_dates(frame[column].iloc[block]):
                    add(
                        column,
                        file,
                        frame[column].iloc[block].dropna(),
                        f"holds dates; {DATES_HINT}",
                    )
    return wrong


def _did_you_mean(name: str, columns: list[str]) -> str:
    """` (did you mean 'Diagnosis'?)` for the column nearest `name`, or nothing."""
    folded = {c.casefold(): c for c in columns}
    near = folded.get(name.casefold()) or next(
        iter(difflib.get_close_matches(name, columns, n=1)), None
    )
    return f" (did you mean {near!r}?)" if near else ""


def _check_files(
    report: DataReport,
    columns_by_file: dict[str, list[str]],
    empty_columns_by_file: dict[str, list[str]],
    expected: list[str],
    config: DatasetConfig,
    champion: dict[str, Any] | None = None,
) -> list[str]:
    """Each file carries the label and every expected feature, none of them empty.
    Returns the unknown columns (warned about, then dropped by clean).

    With no champion, a label no file carries is the config's to fix: one error, no file
    blamed (none is moved out of the incoming folder)."""
    unknown: dict[str, None] = {}
    every = list(dict.fromkeys(c for columns in columns_by_file.values() for c in columns))
    nowhere = bool(columns_by_file) and not champion and config.label not in every
    if nowhere:
        shown = ", ".join(every[:MAX_LISTED]) + (" ..." if len(every) > MAX_LISTED else "")
        report.errors.append(
            Issue(
                rule="label",
                column=config.label,
                message=f"the config's label {config.label!r} is a column of no file"
                f"{_did_you_mean(config.label, every)}; the files' columns: {shown}",
            )
        )
    for section in ("drop_columns", "column_types"):
        for name in getattr(config, section):
            if columns_by_file and name not in every:
                report.warnings.append(
                    Issue(
                        rule="unknown_config_column",
                        column=name,
                        message=f"{section} (config) names a column of no file"
                        f"{_did_you_mean(name, every)}",
                    )
                )
    for file, columns in columns_by_file.items():
        if config.label not in columns and not nowhere:
            report.errors.append(
                Issue(
                    rule="missing_label",
                    file=file,
                    column=config.label,
                    message=f"the label column is missing{_did_you_mean(config.label, columns)}",
                )
            )
        missing = [c for c in expected if c not in columns]
        others = [c for c in columns if c not in expected and c != config.label]
        if missing:
            report.errors.append(
                Issue(
                    rule="missing_column",
                    file=file,
                    count=len(missing),
                    unit="column",
                    column=missing[0] if len(missing) == 1 else None,
                    message="feature column(s) the model needs are missing: "
                    + ", ".join(m + _did_you_mean(m, others) for m in missing),
                )
            )
        for column in empty_columns_by_file.get(file, []):
            if column in expected:
                report.errors.append(
                    Issue(
                        rule="not_all_missing",
                        file=file,
                        column=column,
                        message="every value in this file is missing",
                    )
                )
        unknown |= dict.fromkeys(c for c in feature_columns(columns, config) if c not in expected)
    for column in unknown:
        carriers = [f for f, columns in columns_by_file.items() if column in columns]
        if champion or len(carriers) == len(columns_by_file):
            message = "not a known feature; dropped"
        else:  # no champion to say which file is right: the column is not used
            lacking = [f for f in columns_by_file if f not in carriers]
            message = (
                f"only in {', '.join(map(repr, carriers))}, not in {', '.join(map(repr, lacking))}:"
                " a feature must be in every file; dropped"
            )
        single = champion and len(carriers) == 1 and len(columns_by_file) > 1
        only = carriers[0] if single else None
        report.warnings.append(
            Issue(rule="unknown_column", column=column, file=only, message=message)
        )
    return list(unknown)


def _check_label(report: DataReport, label: pd.Series, config: DatasetConfig) -> dict[str, int]:
    """Enough classes, enough rows of each, and the positive class among them (`label` spelt
    as class names: `label_column`)."""
    missing = int(label.isna().sum())
    if missing:
        report.warnings.append(
            Issue(
                rule="missing_label_value",
                column=config.label,
                count=missing,
                message="rows without a label are dropped",
            )
        )
    counts = {str(k): int(v) for k, v in label.value_counts().items()}

    def about(rule: str, classes: Any, message: str) -> Issue:
        """An issue of the label's classes, naming a few of them."""
        return Issue(
            rule=rule,
            column=config.label,
            count=len(classes),
            unit="class",
            examples=list(classes)[:MAX_EXAMPLES],
            message=message,
        )

    spellings: dict[str, list[str]] = {}
    for name in counts:
        spellings.setdefault(name.casefold(), []).append(name)
    for names in (n for n in spellings.values() if len(n) > 1):
        report.warnings.append(
            about(
                "classes_differ_in_case",
                names,
                f"label values that differ only in case are separate classes "
                f"({', '.join(f'{n!r}: {counts[n]} rows' for n in names)}): spell each class "
                "one way in the files",
            )
        )
    if len(counts) < 2:
        report.errors.append(
            about(
                "single_class",
                counts,
                "at least two classes are needed to train a classifier",
            )
        )
    small = {k: v for k, v in counts.items() if v < config.validation.min_rows_per_class}
    if small:
        shown = dict(list(small.items())[:MAX_EXAMPLES])
        more = f" and {len(small) - len(shown)} more" if len(small) > len(shown) else ""
        numbers = pd.to_numeric(pd.Series(list(counts)), errors="coerce")
        measured = (
            "; the label holds fractional numbers, a measurement rather than classes: mlcycle "
            "trains classifiers, so put the values into classes in the file"
            if numbers.notna().all() and (numbers % 1 != 0).any()
            else ""
        )
        report.errors.append(
            about(
                "too_few_rows",
                small,
                f"each class needs at least {config.validation.min_rows_per_class} rows "
                f"(have {shown}{more}){measured}",
            )
        )
    if len(counts) > 2 and config.decision is not None:
        report.errors.append(
            about(
                "decision",
                counts,
                f"decision (config) sets an operating point for two classes; the label "
                f"has {len(counts)}: remove decision, every label is then the most probable class",
            )
        )
    if len(counts) > 2 and config.positive_class is not None:
        # A config copied from a binary one: the class is unused, and says it is not.
        report.warnings.append(
            about(
                "positive_class_unused",
                counts,
                f"positive_class {config.positive_class!r} (config) is for two classes; "
                f"the label has {len(counts)}, so it is unused (recall, precision and f1 are "
                "averaged over the classes): remove it from the config",
            )
        )
    if len(counts) == 2 and config.positive_class not in counts:
        named = " or ".join(repr(str(c)) for c in counts)
        if config.positive_class is None:
            message = (
                f"the label has two classes, {named}: set positive_class (config) to the one "
                "whose recall matters"
            )
        else:
            message = (
                f"positive_class {config.positive_class!r} (config) is not a label value: "
                f"the label has {named}"
            )
        report.errors.append(
            Issue(
                rule="positive_class",
                column=config.label,
                examples=list(counts)[:MAX_EXAMPLES],
                message=message,
            )
        )
    unknown = sorted(set(config.display.classes) - {str(c) for c in counts})
    if unknown:
        # A display name for a value the label never takes is a typo or a stale config: the
        # class it meant to name would show its raw value.
        report.warnings.append(
            Issue(
                rule="display.classes",
                column=config.label,
                count=len(unknown),
                unit="class",
                examples=unknown,
                message=f"display.classes (config) names {len(unknown)} value(s) the label never "
                f"takes: {', '.join(map(repr, unknown))}; the label has "
                f"{', '.join(repr(str(c)) for c in counts)}",
            )
        )
    return counts


def _check_columns(
    report: DataReport,
    frame: pd.DataFrame,
    types: dict[str, str],
    config: DatasetConfig,
    champion: dict[str, Any] | None,
    rows_by_file: dict[str, int] | None = None,
) -> None:
    """The pandera rules: errors beyond the tolerance, warnings for anything the champion
    never saw, and a warning for columns with many missing values."""
    rules = config.validation
    report.errors += _run(
        _column_checks(types, config, champion, rules.range_tolerance), frame, rows_by_file
    )
    if champion:
        hard = {(i.column, i.rule, i.file) for i in report.errors}
        extended: dict[str, dict[str, list[float]]] = {}
        observed = _column_checks(types, config, champion, 0.0, unseen_categories=True)
        for issue in _run(observed, frame, rows_by_file):
            if (
                issue.rule in ("in_range", "known_category")
                and (issue.column, issue.rule, issue.file) not in hard
            ):
                report.warnings.append(
                    replace(
                        issue,
                        rule=f"{issue.rule}_observed",
                        message=_extension(issue, frame, champion, extended),
                    )
                )
        if extended:
            report.info["range_extended"] = extended
    for name in types:
        share = float(frame[name].isna().mean())
        if rules.max_missing_fraction < share < 1:
            report.warnings.append(
                Issue(
                    rule="many_missing",
                    column=name,
                    count=int(frame[name].isna().sum()),
                    message=f"{share:.0%} of values are missing",
                )
            )


def _extension(
    issue: Issue,
    frame: pd.DataFrame,
    champion: dict[str, Any],
    extended: dict[str, dict[str, list[float]]],
) -> str:
    """Say how far a new upload stretches what the champion saw: a version trained on it
    takes the wider range as its own (the next upload is checked against it)."""
    if issue.rule != "in_range":
        return (
            "categories the champion was not built from; a version trained on this data adds them"
        )
    spec = next(f for f in champion["features"] if f["name"] == issue.column)
    old = [spec["min"], spec["max"]]
    values = frame[issue.column]
    new = [min(old[0], float(values.min())), max(old[1], float(values.max()))]
    extended[str(issue.column)] = {"from": old, "to": new}
    return (
        f"extends the observed range [{old[0]:.6g}, {old[1]:.6g}] (what the champion was built "
        f"from) to [{new[0]:.6g}, {new[1]:.6g}]: a version trained on this data accepts that "
        "range from then on"
    )
