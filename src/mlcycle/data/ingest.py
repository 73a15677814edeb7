"""Ingest: every file in the incoming folder becomes one snapshot with a content hash."""

from __future__ import annotations

import hashlib
import io
import json
import warnings

import pandas as pd

from mlcycle import storage
from mlcycle.config import Limits
from mlcycle.data.incoming import READERS
from mlcycle.data.report import DataRejected, DataReport, Issue


def parse_file(name: str, data: bytes) -> pd.DataFrame:
    """One incoming file as a DataFrame; ValueError names what is wrong with it."""
    if not data.strip():
        raise ValueError("the file is empty")
    if name.lower().endswith((".parquet", ".pq")):
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as exc:
            raise ValueError(f"not a readable Parquet file ({exc})") from None
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
        with warnings.catch_warnings():
            # More fields than header names: pandas would silently drop or index them.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), index_col=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"could not be parsed as CSV ({exc})") from None
    if frame.empty:
        raise ValueError("has a header but no data rows")
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed:")]
    if unnamed:
        raise ValueError(f"has {len(unnamed)} columns without a header name")
    return frame


def content_hash(frame: pd.DataFrame) -> str:
    """A hash of the values and column names, independent of file formats and order of files."""
    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _uniform_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns that mix numbers and text (across files) become text, so Parquet can hold them;
    validate decides what the text means."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(lambda v: v if pd.isna(v) else str(v)).astype("string")
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
    files: list[storage.FileInfo], limits: Limits | None = None
) -> tuple[pd.DataFrame, DataReport]:
    """Read and concatenate every incoming file; raise DataRejected naming each unreadable one,
    or the limit that too much data exceeds (size before reading, rows after)."""
    limits = limits or Limits()
    report = DataReport(stage="ingest")
    frames = []
    columns_by_file: dict[str, list[str]] = {}
    if not files:
        report.errors.append(
            Issue(rule="no_data", message="the incoming folder holds no data files")
        )
    if issue := _too_large(files, limits):
        report.errors.append(issue)
        raise DataRejected(report)
    for info in files:
        try:
            frame = parse_file(info.name, storage.read_bytes(info.uri))
        except ValueError as exc:
            report.errors.append(Issue(rule="unreadable_file", file=info.name, message=str(exc)))
            continue
        frame.columns = [str(c).strip() for c in frame.columns]
        columns_by_file[info.name] = list(frame.columns)
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
