"""The prediction log's layout under `<root>/predictions/`: one contract for the API that
writes it and the commands that read it (feedback export, drift monitor).

    predictions/date=YYYY-MM-DD/version=<version>/part-<HHMMSS>-<random>.parquet

One row per predicted instance. Fixed columns:

    time        timestamp (UTC, ms)   when the answer was made
    request_id  string                the request's id (x-request-id); a batch's rows share it
    row         int32                 the instance's position in its request
    version     string                the model version that answered
    label       string                the label the answer gave
    warnings    string                the instance's warnings as its answer gave them, JSON
                                      ({"out_of_range": [...], "imputed": n,
                                      "unseen_category": [...]}); null: none

then `p.<class>` (float64) for each class's probability and `f.<feature>` for each feature as
received (float64 for numeric features, string for categorical ones, null when missing). The
schema is made from the version's feature schema, so every file of one version has the same
columns and a date's files concatenate.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from mlcycle import storage

if TYPE_CHECKING:  # pandas is imported by the readers only: the API's writer never needs it
    import pandas as pd

FOLDER = "predictions"
FEATURE_PREFIX = "f."
PROBA_PREFIX = "p."
FIXED = ("time", "request_id", "row", "version", "label", "warnings")


def folder(root: str) -> str:
    return storage.join(root, FOLDER)


def partition(root: str, day: date, version: str) -> str:
    return storage.join(folder(root), f"date={day.isoformat()}", f"version={version}")


def arrow_schema(classes: Sequence[str], feature_types: dict[str, str]) -> pa.Schema:
    """The columns of one version's files: fixed, then probabilities, then features."""
    fields = [
        pa.field("time", pa.timestamp("ms", tz="UTC")),
        pa.field("request_id", pa.string()),
        pa.field("row", pa.int32()),
        pa.field("version", pa.string()),
        pa.field("label", pa.string()),
        pa.field("warnings", pa.string()),
    ]
    fields += [pa.field(PROBA_PREFIX + c, pa.float64()) for c in classes]
    fields += [
        pa.field(FEATURE_PREFIX + name, pa.string() if kind == "categorical" else pa.float64())
        for name, kind in feature_types.items()
    ]
    return pa.schema(fields)


def write_part(
    root: str,
    version: str,
    rows: Sequence[dict[str, Any]],
    classes: Sequence[str],
    feature_types: dict[str, str],
    now: datetime | None = None,
) -> str:
    """Write `rows` (dicts keyed by the schema's column names) as one new file; its URI.

    A file's date partition is the date of its first row's time (rows are flushed within
    seconds of each other, so a file never straddles more than a flush interval).
    """
    schema = arrow_schema(classes, feature_types)
    table = pa.Table.from_pylist(list(rows), schema=schema)
    now = now or datetime.now(UTC)
    first = rows[0]["time"] if rows else now
    return _write(root, version, table, first.date(), now)


def write_columns(
    root: str,
    version: str,
    columns: dict[str, Any],
    classes: Sequence[str],
    feature_types: dict[str, str],
    day: date,
    now: datetime | None = None,
) -> str:
    """Write columns (the schema's names -> equal-length pyarrow arrays of its types, or
    anything `pa.array` reads) as one new file in `day`'s partition; its URI. The API's path:
    arrays in, no dict per row. Given only pyarrow arrays, pyarrow never imports pandas."""
    schema = arrow_schema(classes, feature_types)
    values = [columns[f.name] for f in schema]
    if all(isinstance(v, pa.Array) for v in values):
        table = pa.Table.from_arrays(values, schema=schema)
    else:
        table = pa.Table.from_pydict(dict(zip(schema.names, values, strict=True)), schema=schema)
    return _write(root, version, table, day, now or datetime.now(UTC))


def _write(root: str, version: str, table: pa.Table, day: date, now: datetime) -> str:
    name = f"part-{now:%H%M%S%f}-{secrets.token_hex(3)}.parquet"
    uri = storage.join(partition(root, day, version), name)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    storage.write_bytes(uri, sink.getvalue().to_pybytes())
    return uri


def _days(since: datetime | None, until: datetime) -> set[str] | None:
    if since is None:
        return None
    days, day = set(), since.date()
    while day <= until.date():
        days.add(day.isoformat())
        day += timedelta(days=1)
    return days


class LogFile(NamedTuple):
    uri: str
    date: str  # its partitions, read from its name under the log's folder (never the root)
    version: str
    name: str  # the file's own name: part-<HHMMSSffffff>-<random>, in time order in a day


def listing(root: str, since: datetime | None = None) -> list[LogFile]:
    """The log's files, oldest partition first, limited to dates from `since`."""
    wanted = _days(since, datetime.now(UTC))
    found = []
    # Sorted by name, so by date; a missing folder lists as nothing.
    for info in storage.list_files(folder(root), (".parquet",)):
        parts = dict(p.split("=", 1) for p in info.name.split("/") if "=" in p)
        date = parts.get("date", "")
        if wanted is None or date in wanted:
            name = info.name.rsplit("/", 1)[-1]
            found.append(LogFile(info.uri, date, parts.get("version", ""), name))
    return found


def files(root: str, since: datetime | None = None, version: str | None = None) -> list[str]:
    """The log's files, oldest partition first, limited to dates from `since` and one version."""
    return [f.uri for f in listing(root, since) if version is None or f.version == version]


def read(root: str, since: datetime | None = None, version: str | None = None) -> pd.DataFrame:
    """Every logged row from `since` on (and of one version), as one DataFrame.

    Versions may differ in features; their columns are unioned (missing ones are null).
    """
    return read_files(files(root, since, version), since)


def read_files(uris: Iterable[str], since: datetime | None = None) -> pd.DataFrame:
    """The rows of these log files from `since` on, as one DataFrame (`read`'s, for a listing
    already made)."""
    import pandas as pd

    frames = [
        frame
        for uri in uris
        if len(frame := pq.read_table(pa.BufferReader(storage.read_bytes(uri))).to_pandas())
    ]
    if not frames:
        return pd.DataFrame(columns=list(FIXED))
    frame = pd.concat(frames, ignore_index=True)
    if since is not None:
        frame = frame[frame["time"] >= pd.Timestamp(since)]
    return frame.sort_values(["time", "request_id", "row"], ignore_index=True)


def lookup(root: str, request_ids: Iterable[str], columns: Sequence[str] = FIXED) -> pd.DataFrame:
    """The logged rows of these request ids (only `columns`), newest files first, reading no
    further once every id is found: a request's rows are always written in one file."""
    import pandas as pd

    wanted = set(request_ids)
    columns = list(dict.fromkeys(["request_id", *columns]))
    newest_first = sorted(listing(root), key=lambda f: (f.date, f.name), reverse=True)
    found: list[pd.DataFrame] = []
    for log_file in newest_first:
        if not wanted:
            break
        data = storage.read_bytes(log_file.uri)
        frame = pq.read_table(pa.BufferReader(data), columns=columns).to_pandas()
        frame = frame[frame["request_id"].isin(wanted)]
        if len(frame):
            found.append(frame)
            wanted -= set(frame["request_id"])
    if not found:
        return pd.DataFrame(columns=columns)
    return pd.concat(found, ignore_index=True)


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """The logged features of `frame`, under their own names."""
    cols = [c for c in frame.columns if c.startswith(FEATURE_PREFIX)]
    return frame[cols].rename(columns=lambda c: c[len(FEATURE_PREFIX) :])
