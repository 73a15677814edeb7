"""Ingest: every file in the incoming folder becomes one snapshot with a content hash."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import warnings
from collections import Counter
from collections.abc import Collection

import pandas as pd

from mlcycle import storage
from mlcycle.config import Limits
from mlcycle.data.categories import declared_text
from mlcycle.data.incoming import READERS
from mlcycle.data.report import DataRejected, DataReport, Issue, plural
from mlcycle.data.schema import category_column

# Field separators a CSV export may use instead of commas, and their names for the error.
OTHER_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "pipe"}


def _check_header(names: list[str]) -> None:
    """Every column has a name of its own (pandas would rename a repeat to `name.1`)."""
    stripped = [str(n).strip() for n in names]
    repeated = [n for n, k in Counter(stripped).items() if k > 1 and n]
    if repeated:
        where = {n: [str(i + 1) for i, m in enumerate(stripped) if m == n] for n in repeated}
        listed = ", ".join(f"{n!r} (columns {', '.join(at)})" for n, at in where.items())
        raise ValueError(f"repeats column name(s) {listed}; each column needs its own name")


def _check_separator(header: list[str]) -> None:
    """A one-column header holding another separator: the file is not comma-separated."""
    if len(header) != 1:
        return
    for sep, name in OTHER_SEPARATORS.items():
        if header[0].count(sep):
            raise ValueError(
                f"has a single column whose header holds {header[0].count(sep)} {name}s "
                f"({sep!r}): the file looks {name}-separated, and mlcycle reads comma-separated "
                "CSV; save it with commas as separators (and '.' as the decimal point)"
            )


def value_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Columns whose file type says true/false or dates (Parquet): concatenation with other
    files would turn them into numbers, so validate is told what they were."""
    kinds = {}
    for column in frame.columns:
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kinds[str(column)] = "boolean"
        elif pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(
            dtype
        ):
            kinds[str(column)] = "datetime"
    return kinds


def parse_file(name: str, data: bytes, text_columns: Collection[str] = ()) -> pd.DataFrame:
    """One incoming file as a DataFrame; ValueError names what is wrong with it.

    A CSV's `text_columns` (those the config declares categorical) are read as written, not as
    the numbers or booleans pandas would make of them: a code 00712 keeps its zeros."""
    if not data.strip():
        raise ValueError("the file is empty")
    if name.lower().endswith((".parquet", ".pq")):
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:
            raise ValueError(f"not a readable Parquet file ({exc})") from None
        _check_header(list(frame.columns))
        return frame
    if not name.lower().endswith(".csv"):
        raise ValueError(f"unsupported file type; incoming files must end in {', '.join(READERS)}")
    if b"\x00" in data[:8192]:
        raise ValueError("looks like a binary file, not a CSV text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}); "
            "save it as UTF-8"
        ) from None
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error:
        header = []  # pandas names the problem below
    _check_separator(header)
    _check_header(header)
    as_text = {h: str for h in header if h.strip() in text_columns}
    try:
        with warnings.catch_warnings():
            # More fields than header names: pandas would silently drop or index them.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), index_col=False, dtype=as_text or None)
    except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"could not be parsed as CSV ({exc})") from None
    if frame.empty:
        raise ValueError("has a header but no data rows")
    unnamed = [i + 1 for i, c in enumerate(frame.columns) if str(c).startswith("Unnamed:")]
    if unnamed:
        where = ", ".join(map(str, unnamed[:10])) + (" ..." if len(unnamed) > 10 else "")
        hint = (
            " (a nameless first column is often the index pandas writes: save with index=False)"
            if unnamed[0] == 1
            else ""
        )
        raise ValueError(
            f"has {plural(len(unnamed), 'column')} without a header name "
            f"({'columns' if len(unnamed) > 1 else 'column'} {where}){hint}"
        )
    for column in as_text:
        frame[column] = declared_text(frame[column])
    return frame


def content_hash(frame: pd.DataFrame) -> str:
    """A hash of the values and column names, independent of file formats and order of files."""
    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _uniform_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns that mix numbers and text (across files) become text, so Parquet can hold them;
    validate decides what the text means. Numbers are spelt as `category_text` spells them: a
    Parquet file's 12345.0 beside a CSV's declared-categorical 12345 is the same code."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = category_column(out[column]).astype("string")
    return out


def _too_large(files: list[storage.FileInfo], limits: Limits) -> Issue | None:
    total = sum(f.size for f in files)
    if total <= limits.max_bytes:
        return None
    biggest = ", ".join(
        f"{f.name} ({f.size:,} B)" for f in sorted(files, key=lambda f: -f.size)[:3]
    )
    return Issue(
        rule="too_large",
        message=f"the incoming files hold {total:,} bytes, over the limit of "
        f"{limits.max_bytes:,} (limits.max_bytes in the config); largest: {biggest}. "
        "Remove or shrink files (mlcycle data rm), or raise the limit",
    )


def ingest(
    files: list[storage.FileInfo],
    limits: Limits | None = None,
    text_columns: Collection[str] = (),
) -> tuple[pd.DataFrame, DataReport]:
    """Read and concatenate every incoming file (`text_columns` as `parse_file` reads them);
    raise DataRejected naming each unreadable one, or the limit that too much data exceeds
    (size before reading, rows after)."""
    limits = limits or Limits()
    report = DataReport(stage="ingest")
    frames = []
    columns_by_file: dict[str, list[str]] = {}
    kinds_by_file: dict[str, dict[str, str]] = {}
    if not files:
        report.errors.append(
            Issue(rule="no_data", message="the incoming folder holds no data files")
        )
    if issue := _too_large(files, limits):
        report.errors.append(issue)
        raise DataRejected(report)
    for info in files:
        try:
            frame = parse_file(info.name, storage.read_bytes(info.uri), text_columns)
        except ValueError as exc:
            report.errors.append(Issue(rule="unreadable_file", file=info.name, message=str(exc)))
            continue
        frame.columns = [str(c).strip() for c in frame.columns]
        columns_by_file[info.name] = list(frame.columns)
        if kinds := value_kinds(frame):
            kinds_by_file[info.name] = kinds
        frames.append(frame)
    rows = sum(len(f) for f in frames)
    if rows > limits.max_rows:
        report.errors.append(
            Issue(
                rule="too_many_rows",
                message=f"the incoming files hold {rows:,} rows, over the limit of "
                f"{limits.max_rows:,} (limits.max_rows in the config). Remove files "
                "(mlcycle data rm), or raise the limit",
            )
        )
    if report.errors:
        raise DataRejected(report)
    snapshot = _uniform_types(pd.concat(frames, ignore_index=True, sort=False))
    report.info = {
        "files": [{"name": f.name, "size": f.size, "modified": f.modified} for f in files],
        "rows_by_file": {name: len(f) for name, f in zip(columns_by_file, frames, strict=True)},
        "columns_by_file": columns_by_file,
        "value_kinds_by_file": kinds_by_file,
        # A column with no value at all in a file of several rows is a broken export.
        "empty_columns_by_file": {
            name: [c for c in f.columns if f[c].isna().all()]
            for name, f in zip(columns_by_file, frames, strict=True)
            if len(f) > 1 and f.isna().all().any()
        },
        "rows": len(snapshot),
        "columns": int(snapshot.shape[1]),
    }
    return snapshot, report
