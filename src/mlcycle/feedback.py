"""Ground truth for logged predictions, under `<root>/feedback/`, append-only:

    feedback/date=YYYY-MM-DD/part-<HHMMSSffffff>-<random>.jsonl

One `Feedback` a line (JSON): the request id and row of a logged prediction, its true label,
when it was received, and, copied from the prediction log when it was accepted, the version
that answered and the label it gave (so live metrics need no join with the log; the export
joins for the features). A later line for the same (request_id, row) is a correction: it
replaces the earlier one. No file is ever rewritten.

Pandas and pyarrow are imported only by `labelled` (the export): the API imports this module
at start, and they would add to its cold start.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from mlcycle import storage

if TYPE_CHECKING:
    import pandas as pd

FOLDER = "feedback"
Key = tuple[str, int]


class Feedback(BaseModel):
    """One instance's ground truth, as stored."""

    request_id: str
    row: int = 0
    label: str = Field(description="The true label.")
    version: str = Field(description="The model version that answered (from the log).")
    predicted: str = Field(description="The label the answer gave (from the log).")
    received_at: datetime


class LiveMetrics(BaseModel):
    """A version's metrics on the ground truth received for its predictions."""

    model_version: str
    rows: int = Field(description="Predictions of this version with ground truth received.")
    accuracy: float | None = Field(description="Share predicted right (null: no feedback yet).")
    recall: float | None = Field(
        description="Share of the positive class's true cases predicted positive (null: no "
        "positive class, or none of its cases in the feedback yet)."
    )
    positive_class: str | None = None


def folder(root: str) -> str:
    return storage.join(root, FOLDER)


def append(root: str, items: Sequence[Feedback], now: datetime | None = None) -> str:
    """Write `items` as one new file; its URI."""
    now = now or datetime.now(UTC)
    name = f"part-{now:%H%M%S%f}-{secrets.token_hex(3)}.jsonl"
    uri = storage.join(folder(root), f"date={now.date().isoformat()}", name)
    storage.write_text(uri, "".join(item.model_dump_json() + "\n" for item in items))
    return uri


def read(root: str) -> dict[Key, Feedback]:
    """Every (request_id, row)'s latest feedback, in the order received."""
    items = [
        Feedback.model_validate_json(line)
        for info in storage.list_files(folder(root), (".jsonl",))  # none: a missing folder
        for line in storage.read_text(info.uri).splitlines()
        if line.strip()
    ]
    return latest(items)


def latest(items: Iterable[Feedback]) -> dict[Key, Feedback]:
    """The last item per (request_id, row), by time received."""
    out: dict[Key, Feedback] = {}
    merge(out, sorted(items, key=lambda i: i.received_at))
    return out


def merge(into: dict[Key, Feedback], items: Iterable[Feedback]) -> None:
    """Add `items`, received in this order: an item for a (request_id, row) already there is
    a correction; it replaces the earlier one and moves to the end."""
    for item in items:
        into.pop((item.request_id, item.row), None)
        into[(item.request_id, item.row)] = item


def live_metrics(
    items: Iterable[Feedback], version: str, positive_class: str | None
) -> LiveMetrics:
    """Accuracy and recall (of `positive_class`) of `version` on its feedback."""
    mine = [i for i in items if i.version == version]
    right = sum(i.label == i.predicted for i in mine)
    positives = [i for i in mine if positive_class is not None and i.label == positive_class]
    return LiveMetrics(
        model_version=version,
        rows=len(mine),
        accuracy=right / len(mine) if mine else None,
        recall=sum(i.predicted == positive_class for i in positives) / len(positives)
        if positives
        else None,
        positive_class=positive_class,
    )


class Problem(BaseModel):
    """Why one item of a feedback request was refused."""

    index: int
    request_id: str
    field: str
    kind: str
    message: str


def match(
    requested: Sequence[tuple[str, int, str]],
    logged: dict[Key, tuple[str, str]],
    logged_ids: set[str],
    classes_of: Callable[[str], Sequence[str]],
    now: datetime | None = None,
) -> tuple[list[Feedback], list[Problem]]:
    """Requested (request_id, row, label) items against the log: (request_id, row) ->
    (version, label given). Accepted items, or the problems of the others, by index."""
    now = now or datetime.now(UTC)
    accepted, problems = [], []
    for index, (request_id, row, label) in enumerate(requested):

        def refuse(field: str, kind: str, message: str, i: int = index, r: str = request_id):
            problems.append(Problem(index=i, request_id=r, field=field, kind=kind, message=message))

        if (request_id, row) not in logged:
            if request_id in logged_ids:
                refuse("row", "unknown_row", f"request {request_id!r} has no row {row}")
            else:
                refuse("request_id", "unknown_id", f"no logged prediction has id {request_id!r}")
            continue
        version, given = logged[(request_id, row)]
        classes = list(classes_of(version))
        if label not in classes:
            refuse(
                "label",
                "unknown_label",
                f"{label!r} is not a class of version {version} (classes: {classes})",
            )
            continue
        accepted.append(
            Feedback(
                request_id=request_id,
                row=row,
                label=label,
                version=version,
                predicted=given,
                received_at=now,
            )
        )
    return accepted, problems


def labelled(
    root: str, label_column: str, features: Sequence[str] | None = None, version: str | None = None
) -> pd.DataFrame:
    """The logged features of every prediction with feedback, and its true label under
    `label_column`: the rows a retrain can learn from. `features` orders and limits the
    columns (a feature a row's version was not given is empty); default: every logged one."""
    import pandas as pd

    from mlcycle import predictions

    received = [i for i in read(root).values() if version is None or i.version == version]
    if not received:
        return pd.DataFrame(columns=[*(features or []), label_column])
    truth = pd.DataFrame(
        [(i.request_id, i.row, i.label) for i in received],
        columns=["request_id", "row", label_column],
    )
    logged = predictions.read(root)
    logged = logged[logged["request_id"].isin(set(truth["request_id"]))]
    joined = truth.merge(logged, on=["request_id", "row"], how="inner")
    frame = predictions.features(joined)
    if features is not None:
        frame = frame.reindex(columns=list(features))
    frame[label_column] = joined[label_column].to_numpy()
    return frame


EXPORT_NAME = "feedback-{stamp}.csv"


def export(
    root: str,
    label_column: str,
    features: Sequence[str] | None = None,
    version: str | None = None,
    now: float | None = None,
) -> tuple[str | None, int]:
    """The labelled predictions (`labelled`) as a new CSV in `<root>/data/incoming/`, named
    by the incoming folder's rules (never replacing a file): (its URI, rows); (None, 0) when
    there is nothing to export. The next run ingests and validates it like any upload."""
    import time

    from mlcycle.data.incoming import free_name, incoming_uri

    frame = labelled(root, label_column, features, version)
    if frame.empty:
        return None, 0
    now = time.time() if now is None else now
    incoming = incoming_uri(root)
    name = free_name(
        EXPORT_NAME.format(stamp=time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))),
        lambda candidate: storage.exists(storage.join(incoming, candidate)),
        now,
    )
    uri = storage.join(incoming, name)
    storage.write_bytes(uri, frame.to_csv(index=False).encode())
    return uri, len(frame)
