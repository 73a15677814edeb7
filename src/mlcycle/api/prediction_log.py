"""The API's side of the prediction log: answers are queued in memory, a thread writes them.

A request adds one `Record` (its arrays, as predicted: no per-row work) to a queue bounded in
rows; a background thread writes the queue as Parquet parts (`mlcycle.predictions`, one per
version and date) every `flush_seconds`, as soon as `flush_rows` wait, when asked (feedback
needs its ids written) and at shutdown. Recording never blocks a request on storage and never
fails one: a full queue drops the request's rows, a failed write loses its rows, and both are
counted in /metrics (`mlcycle_prediction_log_rows`) and the failure logged.

pyarrow is imported by the first write, not at start: it would add to the cold start.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from mlcycle.api.holder import ServedModel
from mlcycle.api.metrics import ApiMetrics
from mlcycle.model.operating import labels
from mlcycle.model.predict import FeatureBatch

log = logging.getLogger("mlcycle.api")
STOP_SECONDS = 30.0  # the longest a shutdown waits for the last write


# A queued record is one answered request, its arrays kept by reference, as a plain tuple:
#
#     (version, time, request_id, numeric, categorical, proba, warnings)
#
# numeric and categorical are the request's FeatureBatch blocks (the schema's numeric features,
# then the others, in its order), time is seconds since the epoch, warnings the answer's JSON
# text per instance (None: none; InputCheck.warnings_text). A plain tuple of strings, floats
# and arrays, because the garbage collector stops tracking such a tuple at its first look, so
# a queue of 20,000 costs it nothing; a named tuple (a subclass) or a reference to the model
# stays tracked, and every full collection would walk the whole queue (measured: about 15 us
# a request at c32).
Record = tuple[str, float, str, np.ndarray, np.ndarray, np.ndarray, Any]
VERSION, TIME, REQUEST_ID, NUMERIC, CATEGORICAL, PROBA, WARNINGS = range(7)


class PredictionLog:
    def __init__(
        self,
        root: str,
        metrics: ApiMetrics,
        *,
        enabled: bool = True,
        sample: float = 1.0,
        flush_seconds: float = 5.0,
        flush_rows: int = 10_000,
        queue_rows: int = 200_000,
    ) -> None:
        self.root, self.metrics = root, metrics
        self.enabled, self.sample = enabled, sample
        self.flush_seconds, self.flush_rows, self.queue_rows = flush_seconds, flush_rows, queue_rows
        self._queue: deque[Record] = deque()
        self._rows = 0
        self._lock = threading.Lock()  # the queue
        self._writing = threading.Lock()  # one write at a time (thread, feedback, shutdown)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._imported = False
        self._models: dict[str, ServedModel] = {}  # version -> the model that answered

    # -- the request path -------------------------------------------------------------------

    def record(
        self,
        model: ServedModel,
        request_id: str,
        batch: FeatureBatch,
        proba: np.ndarray,
        warnings: np.ndarray | None = None,
    ) -> None:
        """Queue one answered request's rows, or drop them (counted) when the queue is full."""
        if not self.enabled or (self.sample < 1.0 and random.random() >= self.sample):
            return
        n = len(proba)
        if self._models.get(model.version) is not model:
            self._models[model.version] = model
        item: Record | None = (
            model.version,
            time.time(),
            request_id,
            batch.numeric,
            batch.categorical,
            proba,
            warnings,
        )
        with self._lock:
            if self._rows + n > self.queue_rows:
                item = None
            else:
                self._queue.append(item)
                self._rows += n
            due = self._rows >= self.flush_rows
        if item is None:
            self.metrics.log_dropped.inc(n)
        elif due:
            self._wake.set()

    # -- the writing thread -----------------------------------------------------------------

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="mlcycle-prediction-log", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Write what is queued and stop the thread (the app's shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write every queued row now; how many were written. Never raises."""
        with self._writing:
            with self._lock:
                taken, self._queue, self._rows = self._queue, deque(), 0
            if taken and not self._imported:
                _import_writer()
                self._imported = True
            written = 0
            for (version, day), records in _groups(taken).items():
                rows = sum(len(r[PROBA]) for r in records)
                try:
                    write(self.root, self._models[version], day, records)
                except Exception:  # storage trouble must not reach a request, nor stop the thread
                    log.exception(
                        "the prediction log lost %d rows of version %s: writing failed",
                        rows,
                        version,
                    )
                    self.metrics.log_write_failures.inc()
                    self.metrics.log_lost.inc(rows)
                    continue
                self.metrics.log_written.inc(rows)
                written += rows
            return written


def _import_writer() -> None:
    """Import what writing needs, then take it out of the garbage collector's scans as the
    lifespan did the startup heap (app.py: gc.freeze): tens of thousands of objects that
    every full collection would walk again on the request path."""
    import gc

    import pyarrow.parquet  # noqa: F401

    from mlcycle import predictions  # noqa: F401

    gc.freeze()


def _groups(records: Sequence[Record]) -> dict[tuple[str, str], list[Record]]:
    """Records by (version, UTC date): one file each."""
    out: dict[tuple[str, str], list[Record]] = {}
    days: dict[int, str] = {}  # days since the epoch -> its date: formatted once, not per record
    for record in records:
        number = int(record[TIME] // 86_400)
        if number not in days:
            days[number] = time.strftime("%Y-%m-%d", time.gmtime(number * 86_400))
        out.setdefault((record[VERSION], days[number]), []).append(record)
    return out


def write(root: str, model: ServedModel, day: str, records: Sequence[Record]) -> str:
    """One version's records of one day as one Parquet file (the layout's columns); its URI."""
    import pyarrow as pa

    from mlcycle import predictions

    version, schema = model.version, model.schema
    classes = list(model.predictor.classes)
    counts = [len(r[PROBA]) for r in records]
    stamps = (np.array([r[TIME] for r in records]) * 1000).astype(np.int64)
    proba = np.concatenate([r[PROBA] for r in records]).astype(np.float64, copy=False)
    n_rows = len(proba)
    columns: dict[str, Any] = {
        "time": _fixed(pa.timestamp("ms", tz="UTC"), np.repeat(stamps, counts)),
        "request_id": _strings(np.repeat(np.array([r[REQUEST_ID] for r in records]), counts)),
        "row": _fixed(pa.int32(), _rows(counts)),
        "version": _same(version, n_rows),
        "label": _strings(labels(proba, classes, model.operating_point)),  # as answered
        "warnings": _strings(_warnings(records)),
    }
    for j, name in enumerate(classes):
        columns[predictions.PROBA_PREFIX + name] = _floats(proba[:, j])
    # Both request parsers (requests.to_batch, columnar.table_to_batch) make a FeatureBatch's
    # blocks in the schema's order: numeric features, then the others. Stacked once, sliced.
    types = schema.feature_types()
    # (Concatenating is most of the writer's time: a block no feature is in is skipped.)
    kinds = set(types.values())
    numeric = np.concatenate([r[NUMERIC] for r in records]) if "numeric" in kinds else None
    text = np.concatenate([r[CATEGORICAL] for r in records]) if "categorical" in kinds else None
    n = t = 0
    for name, kind in types.items():
        if kind == "numeric":
            columns[predictions.FEATURE_PREFIX + name] = _floats(numeric[:, n])
            n += 1
        else:
            columns[predictions.FEATURE_PREFIX + name] = _strings(text[:, t])
            t += 1
    return predictions.write_columns(
        root,
        version,
        columns,
        classes,
        types,
        datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).date(),
    )


# Arrow arrays made from their buffers: `pa.array` would import pandas (42 MB) on its first
# call, only to check whether it was given pandas objects.


def _validity(valid: np.ndarray) -> Any:
    import pyarrow as pa

    return None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))


def _fixed(kind: Any, values: np.ndarray) -> Any:
    import pyarrow as pa

    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def _floats(values: np.ndarray) -> Any:
    """float64, NaN as null (how a numeric feature arrives missing: the layout's null)."""
    import pyarrow as pa

    values = np.ascontiguousarray(values, dtype=np.float64)
    valid = ~np.isnan(values)
    return pa.Array.from_buffers(
        pa.float64(), len(values), [_validity(valid), pa.py_buffer(values)]
    )


def _same(value: str, n: int) -> Any:
    """`value` n times (the version, no warnings): no string made per row."""
    import pyarrow as pa

    data = value.encode()
    offsets = np.arange(n + 1, dtype=np.int32) * len(data)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)]
    )


def _strings(values: Sequence[Any]) -> Any:
    """UTF-8 strings, None as null."""
    import pyarrow as pa

    encoded = [b"" if v is None else str(v).encode() for v in values]
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    buffers = [_validity(valid), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers)


def _rows(counts: list[int]) -> np.ndarray:
    """0..n-1 for each record's n rows, end to end, without an array per record."""
    ends = np.cumsum(counts)
    return (np.arange(ends[-1]) - np.repeat(ends - counts, counts)).astype(np.int32)


def _warnings(records: Sequence[Record]) -> list[str | None]:
    """Each row's warnings text (None: none), end to end."""
    out: list[str | None] = []
    for r in records:
        out.extend([None] * len(r[PROBA]) if r[WARNINGS] is None else r[WARNINGS])
    return out
