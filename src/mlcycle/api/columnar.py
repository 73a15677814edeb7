"""Columnar prediction bodies: Arrow IPC streams and CSV, for batches.

A 10,000-row JSON body is 8 MB of repeated keys, and reading it costs many times the model's
own time; an Arrow stream of the same rows is 2.4 MB that is read without parsing
(bench/serve.py measures both). CSV is the convenient form (`curl --data-binary @rows.csv`).
Both become an Arrow table and get the checks the JSON body gets: every feature present, no
unknown column, numbers where numbers belong, finite values, and then the version's serving
rules (model/input_checks.py); every error names the column and the row (`instance`, counted
from 0). The answer has the request's format: `label`, one `probability_<class>` column per
class and `warnings` (the instance's warnings as JSON text, empty when it has none); the
version is in the `x-model-version` header (and, for Arrow, in the schema's metadata).

pyarrow is imported on the first columnar request, not at start: it would add to cold start.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from mlcycle.api.requests import (
    MAX_REPORTED_ERRORS,
    RequestError,
    problem,
    problems,
    refusal,
    too_many,
)
from mlcycle.data.categories import as_trained, category_text
from mlcycle.model.predict import FeatureBatch
from mlcycle.model.version import Feature, FeatureSchema

ARROW = "application/vnd.apache.arrow.stream"
CSV = "text/csv"
JSON = "application/json"
MEDIA_TYPES = (ARROW, CSV)


def _bad_body(what: str, detail: str) -> RequestError:
    return refusal(400, f"the body is not a valid {what}: {detail}", "body", "invalid_body")


# --- Arrow IPC -----------------------------------------------------------------------------
# A record batch's header says how many rows it has and whether its buffers are compressed.
# Both are read before anything is decoded: a compressed batch can inflate a body within the
# size limit into gigabytes, so compressed bodies are refused, and a body with more rows than
# allowed is refused without decoding it. The header is a flatbuffer (Arrow's Message.fbs):
# Message{version, header_type, header, ...}; RecordBatch{length, nodes, buffers, compression}.
# Dictionary batches (categorical columns) are refused: text columns come as plain strings.


def _field(buf: bytes, table: int, index: int) -> int:
    """Position of a flatbuffer table's field, or 0 when the field is absent."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    size = struct.unpack_from("<H", buf, vtable)[0]
    slot = 4 + 2 * index
    offset = struct.unpack_from("<H", buf, vtable + slot)[0] if slot < size else 0
    return table + offset if offset else 0


def _subtable(buf: bytes, position: int) -> int:
    return position + struct.unpack_from("<I", buf, position)[0]


def batch_header(metadata: bytes) -> tuple[int, bool]:
    """(rows, compressed) from a record batch message's flatbuffer header."""
    message = _subtable(metadata, 0)
    header = _field(metadata, message, 2)
    if not header:
        raise ValueError("a record batch message without a header")
    batch = _subtable(metadata, header)
    length = _field(metadata, batch, 0)
    rows = struct.unpack_from("<q", metadata, length)[0] if length else 0
    if rows < 0:
        raise ValueError("a record batch with a negative length")
    return rows, bool(_field(metadata, batch, 3))


def _check_names(schema: Any) -> None:
    """Column names must be UTF-8 (pyarrow decodes them only when asked, so ask now)."""
    bad = []
    for j in range(len(schema)):
        try:
            schema.field(j).name  # noqa: B018
        except UnicodeDecodeError as exc:
            readable = exc.object.decode("utf-8", "replace")
            message = f"column {j + 1}'s name is not UTF-8 text: {bytes(exc.object[:40])!r}"
            bad.append(problem(None, readable, "invalid_utf8", message))
    if bad:
        raise RequestError(400, "the body is not valid UTF-8 in its column names", tuple(bad))


def read_arrow(body: bytes, max_instances: int) -> Any:
    """An Arrow IPC stream as a validated table; RequestError for anything else."""
    import pyarrow as pa

    if not body:
        raise _bad_body("Arrow IPC stream", "the body is empty")
    batches, rows = [], 0
    try:
        reader = pa.ipc.MessageReader.open_stream(pa.py_buffer(body))
        first = reader.read_next_message()
        if first.type != "schema":
            raise ValueError("the stream does not start with a schema")
        schema = pa.ipc.read_schema(first)
        _check_names(schema)
        for message in reader:
            if message.type == "dictionary":
                raise refusal(
                    415,
                    "dictionary-encoded columns are not accepted: send text columns as strings",
                    "body",
                    "dictionary",
                )
            if message.type != "record batch":
                raise ValueError(f"unexpected {message.type} message")
            count, compressed = batch_header(message.metadata.to_pybytes())
            if compressed:
                raise refusal(
                    415,
                    "compressed Arrow bodies are not accepted: write the stream uncompressed",
                    "body",
                    "compressed",
                )
            rows += count
            if rows > max_instances:
                raise too_many(max_instances)
            batches.append(pa.ipc.read_record_batch(message, schema))
        table = pa.Table.from_batches(batches, schema)
        table.validate(full=True)  # offsets and lengths checked before any value is read
    except RequestError:
        raise
    except (pa.ArrowException, OSError, ValueError, struct.error, StopIteration) as exc:
        raise _bad_body("Arrow IPC stream", str(exc) or type(exc).__name__) from None
    return table


# --- CSV -----------------------------------------------------------------------------------


def read_csv(body: bytes, schema: FeatureSchema, passthrough: tuple[str, ...] = ()) -> Any:
    """A CSV body (header row of feature names) as a table. An empty cell is unknown (null);
    everything else must read as the feature's type. Pass-through columns stay text (an id
    such as 007 keeps its zeros). Text must be UTF-8."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {name: pa.string() for name in passthrough}
    types |= {f.name: pa.float64() if f.type == "numeric" else pa.string() for f in schema.features}
    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            convert_options=pacsv.ConvertOptions(
                column_types=types, null_values=[""], strings_can_be_null=True
            ),
        )
        table.column_names  # noqa: B018 (pyarrow decodes the header's names only when asked)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _csv_cells_problems(body, schema, str(exc)) from None
    return table


def _csv_cells_problems(body: bytes, schema: FeatureSchema, reason: str) -> RequestError:
    """Name the cells pyarrow could not read: bytes that are not UTF-8 (400) and text where a
    number belongs (422), by row (from 0, after the header) and column. The body is read
    again by the standard library's csv module, bad bytes kept as surrogates to be found."""
    import csv
    import io

    numeric = {f.name for f in schema.features if f.type == "numeric"}
    text = body.decode("utf-8", "surrogateescape")
    not_utf8: list[dict[str, Any]] = []
    not_numbers: list[dict[str, Any]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        names = next(reader, [])
        for j, name in enumerate(names):
            if _has_bad_bytes(name):
                not_utf8.append(_not_utf8(None, _readable(name), f"column {j + 1}'s name", name))
        for row, cells in enumerate(reader):
            for name, value in zip(names, cells, strict=False):
                if _has_bad_bytes(value):
                    not_utf8.append(_not_utf8(row, _readable(name), "the cell", value))
                elif name in numeric and value and not _is_number(value):
                    message = f"expected a number, got {value[:40]!r}"
                    not_numbers.append(problem(row, name, "float_parsing", message))
    except csv.Error:
        pass  # what pyarrow said is then the best description
    if not_utf8:
        return RequestError(
            400,
            f"the body is not UTF-8 text: {len(not_utf8)} cell(s) or column name(s) hold "
            "other bytes",
            tuple(not_utf8[:MAX_REPORTED_ERRORS]),
        )
    if not_numbers:
        return problems(not_numbers)
    return _bad_body("CSV file", reason)


def _has_bad_bytes(text: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in text)


def _readable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _not_utf8(row: int | None, field: str, what: str, value: str) -> dict[str, Any]:
    raw = value.encode("utf-8", "surrogateescape")
    message = f"{what} is not UTF-8 text: {raw[:40]!r}"
    return problem(row, field, "invalid_utf8", message)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- Checks shared by both -----------------------------------------------------------------


def passthrough_problems(passthrough: tuple[str, ...], features: dict[str, Any]) -> list[dict]:
    """A pass-through name must not be a feature: features are always fed to the model."""
    return [
        problem(None, n, "passthrough_feature", f"{n!r} is a feature, not a pass-through column")
        for n in passthrough
        if n in features
    ]


def _columns_problems(
    names: list[str], features: dict[str, Any], rows: int, passthrough: tuple[str, ...] = ()
) -> list[dict]:
    errors = passthrough_problems(passthrough, features)
    errors += [
        problem(None, n, "missing", f"pass-through column {n!r} is not in the body")
        for n in passthrough
        if n not in names and n not in features
    ]
    if rows == 0:
        errors.append(problem(None, "instances", "too_short", "the body has no rows"))
    for name in sorted({n for n in names if names.count(n) > 1}):
        errors.append(problem(None, name, "duplicate", "duplicate column"))
    errors += [
        problem(
            None,
            n,
            "extra_forbidden",
            f"unknown field {n!r} (name it in ?passthrough= to keep it in the answer)",
        )
        for n in names
        if n not in features and n not in passthrough
    ]
    errors += [
        problem(None, n, "missing", f"feature {n!r} is missing") for n in features if n not in names
    ]
    return errors


def _numeric_block(table: Any, features: list[Feature], errors: list) -> np.ndarray:
    """(rows, features) float64, NaN where unknown; NaN and infinity are errors, as in the JSON
    body. The serving rules (ranges, bounds, missing values) are checked after, for both."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Filled a feature per row, then transposed: each column is one contiguous copy.
    block = np.empty((len(features), table.num_rows))
    unknown = np.zeros(block.shape, dtype=bool)
    for j, feature in enumerate(features):
        column = table.column(feature.name)
        kind = column.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)):
            message = f"expected numbers, got a column of {kind}"
            errors.append(problem(None, feature.name, "float_type", message))
            continue
        block[j] = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)  # null: NaN
        if column.null_count:
            unknown[j] = column.is_null().to_numpy(zero_copy_only=False)
    if errors:
        return block.T
    finite = np.isfinite(block)
    for j, row in zip(*np.nonzero(~finite & ~unknown), strict=True):
        message = "NaN and infinity are not accepted (leave the cell empty if unknown)"
        errors.append(problem(int(row), features[j].name, "finite_number", message))
    return block.T


def _text_block(table: Any, features: list[Feature], errors: list) -> np.ndarray:
    import pyarrow as pa

    block = np.empty((table.num_rows, len(features)), dtype=object)
    for j, feature in enumerate(features):
        column = table.column(feature.name)
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
            # None stays None: unknown. A CSV's true/TRUE is read as pandas read it.
            block[:, j] = as_trained(column.to_pylist(), feature.categories)
        elif pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind):
            cells = column.to_pylist()
            block[:, j] = [None if v is None or v != v else category_text(v) for v in cells]
        else:
            message = f"expected text (or true/false, numbers), got a column of {kind}"
            errors.append(problem(None, feature.name, "string_type", message))
    return block


def table_to_batch(
    table: Any, schema: FeatureSchema, max_instances: int, passthrough: tuple[str, ...] = ()
) -> FeatureBatch:
    """The model's input from a table, or RequestError naming every column and row at fault.
    Columns named in `passthrough` are allowed and left out of the model's input."""
    if table.num_rows > max_instances:
        raise too_many(max_instances)
    features = {f.name: f for f in schema.features}
    errors = _columns_problems(table.column_names, features, table.num_rows, passthrough)
    if errors:
        raise problems(errors)
    numeric = [f for f in features.values() if f.type == "numeric"]
    text = [f for f in features.values() if f.type != "numeric"]
    batch = FeatureBatch(
        [f.name for f in numeric],
        _numeric_block(table, numeric, errors),
        [f.name for f in text],
        _text_block(table, text, errors),
    )
    if errors:
        raise problems(errors)
    return batch


def read_batch(
    body: bytes,
    media_type: str,
    schema: FeatureSchema,
    max_instances: int,
    passthrough: tuple[str, ...] = (),
) -> tuple[FeatureBatch, Any]:
    """The model's input and the pass-through columns (a table, None when none are named)."""
    if media_type == ARROW:
        table = read_arrow(body, max_instances)
    else:
        table = read_csv(body, schema, passthrough)
    batch = table_to_batch(table, schema, max_instances, passthrough)
    return batch, table.select(list(passthrough)) if passthrough else None


def write_predictions(
    proba: np.ndarray,
    classes: list[str],
    version: str,
    media_type: str,
    labels: np.ndarray,
    warnings: np.ndarray,
    kept: Any = None,
) -> bytes:
    """`label` (`labels`, as `operating.labels` made them for the answer), `probability_<class>`
    and `warnings` (JSON text per row, null when none: `InputCheck.warnings_text`) columns, in
    `media_type`, after the pass-through columns (`kept`, a table) when there are any."""
    import pyarrow as pa

    columns = {name: kept.column(name) for name in kept.column_names} if kept else {}
    columns["label"] = pa.array(labels, type=pa.string())
    for i, name in enumerate(classes):
        columns[f"probability_{name}"] = pa.array(proba[:, i].astype(np.float64))
    columns["warnings"] = pa.array(warnings, type=pa.string())
    table = pa.table(columns).replace_schema_metadata({"model_version": version})
    sink = pa.BufferOutputStream()
    if media_type == ARROW:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    else:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


def columnar_format(content_type: str | None) -> str | None:
    """The columnar format a Content-Type names, or None for JSON (also when none is sent);
    RequestError(415) for any other type, which would otherwise be read as something else."""
    value = (content_type or "").split(";", 1)[0].strip().lower()
    if value in MEDIA_TYPES:
        return value
    if value in ("", JSON):
        return None
    hint = (
        " (curl -d sends form data: add -H 'content-type: application/json')"
        if value == "application/x-www-form-urlencoded"
        else ""
    )
    raise refusal(
        415,
        f"cannot read a body of type {value!r}{hint}; send {', '.join((JSON, *MEDIA_TYPES))}",
        "Content-Type",
        "unsupported_media_type",
    )
