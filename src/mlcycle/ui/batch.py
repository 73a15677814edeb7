"""Batch predictions from an uploaded CSV: reading it safely, and the results as a table/CSV.

Plain `csv`, not pandas: the UI stays a light client, and every way a file can be wrong gets
its own sentence for the user (never a traceback).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from mlcycle.ui.api_client import FieldError
from mlcycle.ui.forms import format_number, to_value

# Read as missing, as pandas reads them when the pipeline ingests a CSV.
MISSING = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "-nan", "null", "NULL", "None", "<NA>"})
MAX_LISTED = 10


class UploadError(Exception):
    """An upload the UI refuses before calling the API. `status` is 400 or 413."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Batch:
    header: list[str]
    rows: list[list[str]]
    instances: list[dict[str, Any]]
    extra_columns: list[str]  # columns that are not features (an id, a known label...)


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


def read_csv(data: bytes, schema: dict[str, Any], max_rows: int) -> Batch:
    """Rows of a CSV with a header naming every feature; UploadError says what is wrong."""
    if not data.strip():
        raise UploadError(400, "The file is empty.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(
            400, f"The file is not UTF-8 text (byte {exc.start} cannot be read): is it a CSV?"
        ) from None
    if "\x00" in text:
        raise UploadError(400, "The file holds binary data: is it a CSV?")
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise UploadError(400, f"The file is not valid CSV: {exc}.") from None
    records = [r for r in records if any(cell.strip() for cell in r)]  # blank lines
    if not records:
        raise UploadError(400, "The file is empty.")
    header, rows = [h.strip() for h in records[0]], records[1:]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise UploadError(400, f"Column names appear twice: {_listed(duplicated)}.")
    features = [f["name"] for f in schema["features"]]
    missing = [name for name in features if name not in header]
    if missing:
        raise UploadError(
            400,
            f"The header lacks {len(missing)} feature column(s): {_listed(missing)}. "
            "The first line must name the columns.",
        )
    if not rows:
        raise UploadError(400, "The file has a header but no rows.")
    if len(rows) > max_rows:
        raise UploadError(413, f"The file has {len(rows)} rows; at most {max_rows} at a time.")
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise UploadError(
                400,
                f"Row {number} has {len(row)} values but the header names {len(header)} columns.",
            )
    kinds = {f["name"]: f["type"] for f in schema["features"]}
    position = {name: header.index(name) for name in features}
    instances = [
        {
            name: None if row[position[name]].strip() in MISSING else to_value(row[i], kinds[name])
            for name, i in position.items()
        }
        for row in rows
    ]
    extra = [h for h in header if h not in kinds]
    return Batch(header, rows, instances, extra)


def describe_errors(errors: list[FieldError]) -> list[str]:
    """The API's complaints about a batch, in the file's terms (rows count from 1)."""
    lines = []
    for error in errors:
        where = f"row {error.instance + 1}" if error.instance is not None else "the file"
        column = f", column {error.field}" if error.field and error.field != "instances" else ""
        lines.append(f"{where}{column}: {error.message}")
    return lines


def result_header(batch: Batch, classes: list[str]) -> list[str]:
    return [*batch.header, "predicted", *(f"probability_{c}" for c in classes), "warnings"]


def out_of_range_text(entry: dict[str, Any]) -> str:
    """`mean_texture 45 outside the training range 9.71 to 39.28`."""
    low, high = format_number(entry.get("min")), format_number(entry.get("max"))
    value = format_number(entry.get("value"))
    return f"{entry.get('feature')} {value} outside the training range {low} to {high}"


def unseen_category_text(entry: dict[str, Any]) -> str:
    """`colour "purple" not seen in training`."""
    return f'{entry.get("feature")} "{entry.get("value")}" not seen in training'


def warnings_text(warnings: dict[str, Any] | None) -> str:
    """An instance's warnings from the API in one line ("" when it has none)."""
    warnings = warnings or {}
    parts = [out_of_range_text(e) for e in warnings.get("out_of_range") or []]
    parts += [unseen_category_text(e) for e in warnings.get("unseen_category") or []]
    imputed = warnings.get("imputed") or 0
    if imputed:
        parts.append(f"{imputed} feature{'s' if imputed != 1 else ''} missing, filled in")
    return "; ".join(parts)


def result_rows(
    batch: Batch, predictions: list[dict[str, Any]], classes: list[str]
) -> list[list[str]]:
    """Each input row with the predicted class, every class's probability and the API's
    warnings appended."""
    return [
        [
            *row,
            p["label"],
            *(f"{p['probabilities'][c]:.6f}" for c in classes),
            warnings_text(p.get("warnings")),
        ]
        for row, p in zip(batch.rows, predictions, strict=True)
    ]


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
