"""Data-quality findings: what ingest and validate say about a snapshot, for people and code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MAX_EXAMPLES = 5  # values an issue quotes


def examples_of(values: Any) -> list[Any]:
    """The first few distinct values of a pandas Series, as plain Python (NaN as None)."""
    import pandas as pd  # only callers holding a Series get here: the CLI imports this module

    return [
        v.item() if hasattr(v, "item") else (None if pd.isna(v) else v)
        for v in values.drop_duplicates().head(MAX_EXAMPLES)
    ]


def plural(n: int, word: str) -> str:
    """`1 error`, `2 errors`, `2 classes`."""
    return f"{n:,} {word}{'' if n == 1 else 'es' if word.endswith('s') else 's'}"


@dataclass(frozen=True)
class Issue:
    """One broken rule: where, which rule, how many values, and a few of them."""

    rule: str
    message: str
    column: str | None = None
    file: str | None = None
    count: int | None = None
    unit: str = "value"  # what `count` counts: values, columns, classes
    examples: list[Any] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # the first few, from 1 after the header


@dataclass
class DataReport:
    """Errors stop the run; warnings are recorded and the run goes on."""

    stage: str
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "passed": self.passed,
            "errors": [asdict(i) for i in self.errors],
            "warnings": [asdict(i) for i in self.warnings],
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataReport:
        return cls(
            stage=data["stage"],
            errors=[Issue(**i) for i in data.get("errors", [])],
            warnings=[Issue(**i) for i in data.get("warnings", [])],
            info=data.get("info", {}),
        )

    def render(self) -> str:
        """Plain text a person can act on, one line per finding."""
        verdict = "passed" if self.passed else "REJECTED"
        lines = [
            f"{self.stage}: {verdict} ({plural(len(self.errors), 'error')}, "
            f"{plural(len(self.warnings), 'warning')})"
        ]
        for label, issues in (("error", self.errors), ("warning", self.warnings)):
            for issue in issues:
                where = ", ".join(
                    f"{k} {v!r}" for k, v in (("file", issue.file), ("column", issue.column)) if v
                )
                rows = ", ".join(map(str, issue.rows))
                at = f", {'row' if len(issue.rows) == 1 else 'rows'} {rows}" if rows else ""
                count = (
                    f" ({plural(issue.count, issue.unit)}{at})" if issue.count is not None else ""
                )
                examples = f"; found: {issue.examples}" if issue.examples else ""
                prefix = f"[{where}] " if where else ""
                lines.append(f"  {label}: {prefix}{issue.rule}{count}: {issue.message}{examples}")
        return "\n".join(lines)


class DataRejected(Exception):  # noqa: N818 - a verdict, not a malfunction
    """The data broke a hard rule; the report says which and where."""

    def __init__(self, report: DataReport) -> None:
        super().__init__(report.render())
        self.report = report
