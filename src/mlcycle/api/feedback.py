"""POST /v1/feedback: ground truth for logged predictions; the champion's live metrics.

An item names a logged prediction (request id and row) and its true label. The log is written
out first (so an answer given a moment ago is found), then the ids are looked up in it; an
unknown id or row, or a label that is not a class of the version that answered, refuses the
whole request (404 when only ids or rows are unknown, else 422; every item at fault named by
index and id) and nothing is stored.
Accepted items are appended under `<root>/feedback/` (`mlcycle.feedback`).

`LiveFeedback` keeps the feedback in memory, read once from storage (at start, in a storage
thread) and added to on each accepted request, so /v1/model and /metrics show the live
accuracy and recall without reading the bucket per request. Feedback another instance stored
is read when this one next loads a champion.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from mlcycle import feedback
from mlcycle.api.auth import require_admin
from mlcycle.api.holder import ModelHolder, ServedModel
from mlcycle.api.metrics import ApiMetrics
from mlcycle.api.models import ErrorResponse, FeedbackItem, FeedbackResult
from mlcycle.api.prediction_log import PredictionLog
from mlcycle.api.requests import RequestError, problem, refusal
from mlcycle.model.registry import RegistryError

log = logging.getLogger("mlcycle.api")
router = APIRouter()


class LiveFeedback:
    """Every (request id, row)'s latest feedback, and the champion's metrics on it."""

    def __init__(self, root: str, metrics: ApiMetrics) -> None:
        self.root, self.metrics = root, metrics
        self._items: dict[feedback.Key, feedback.Feedback] | None = None  # None: not read yet
        self._model: ServedModel | None = None
        self.current: feedback.LiveMetrics | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Read the stored feedback (a storage call: run it in a storage thread)."""
        items = feedback.read(self.root)
        with self._lock:
            self._items = items
            self._update()

    def on_model(self, model: ServedModel | None) -> None:
        """A champion was loaded: its metrics from now on (the feedback read again)."""
        self._model = model
        try:
            self.load()
        except Exception:  # the model still serves; live metrics wait for the next load
            log.exception("reading the feedback under %s failed", feedback.folder(self.root))

    def add(self, items: list[feedback.Feedback]) -> None:
        with self._lock:
            if self._items is None:
                self._items = {}
            feedback.merge(self._items, items)
            self._update()

    def for_model(self, model: ServedModel) -> feedback.LiveMetrics | None:
        live = self.current
        return live if live is not None and live.model_version == model.version else None

    def _update(self) -> None:
        model = self._model
        if model is None or self._items is None:
            return
        self.current = feedback.live_metrics(
            self._items.values(), model.version, model.schema.positive_class
        )
        self.metrics.on_live(self.current)


def _classes_of(holder: ModelHolder) -> Any:
    cache: dict[str, list[str]] = {}

    def classes(version: str) -> list[str]:
        if version not in cache:
            current = holder.current
            if current is not None and current.version == version:
                cache[version] = list(current.schema.classes)
            else:
                try:
                    cache[version] = list(holder.registry.get(version).feature_schema.classes)
                except RegistryError:
                    cache[version] = []  # the version is gone: no label can be checked
        return cache[version]

    return classes


def accept(
    items: list[FeedbackItem],
    holder: ModelHolder,
    prediction_log: PredictionLog,
    live: LiveFeedback,
) -> FeedbackResult:
    """Check `items` against the log and store them (storage calls: run in a storage thread)."""
    from mlcycle import predictions

    prediction_log.flush()  # what was answered before this request is in the log now
    requested = [(i.request_id, i.row, str(i.label)) for i in items]
    frame = predictions.lookup(prediction_log.root, {i.request_id for i in items})
    logged = {
        (rid, int(row)): (version, label)
        for rid, row, version, label in zip(
            frame["request_id"], frame["row"], frame["version"], frame["label"], strict=True
        )
    }
    accepted, problems = feedback.match(
        requested, logged, set(frame["request_id"]), _classes_of(holder)
    )
    if problems:
        # Ids or rows not in the log: 404, what they name is not there; a bad label: 422.
        unknown = all(p.kind in ("unknown_id", "unknown_row") for p in problems)
        raise RequestError(
            404 if unknown else 422,
            f"{len(problems)} of {len(items)} feedback item(s) refused; nothing was stored",
            tuple(
                problem(
                    p.index,
                    p.field,
                    p.kind,
                    f"item {p.index} (request_id {p.request_id!r}): {p.message}",
                )
                for p in problems[:20]
            ),
        )
    feedback.append(prediction_log.root, accepted)
    live.add(accepted)
    return FeedbackResult(accepted=len(accepted), live=live.current)


FEEDBACK_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 422, 429, 504)
}


@router.post(
    "/v1/feedback",
    response_model=FeedbackResult,
    responses=FEEDBACK_ERRORS,
    dependencies=[Depends(require_admin)],
    tags=["model"],
)
async def post_feedback(
    items: Annotated[list[FeedbackItem], Body(min_length=1)], request: Request
) -> FeedbackResult:
    """Ground truth for logged predictions: `[{"request_id", "row", "label"}, ...]`, the
    request id an answer's `x-request-id` gave, the row (instance) within it (default 0) and
    the true label. Answers how many were stored and the champion's live metrics on all the
    feedback so far. An unknown id or row, or a label that is not a class of the version that
    answered, refuses the request (404 when only ids or rows are unknown, else 422; each item
    at fault named by index and id); nothing is stored then. Needs
    `Authorization: Bearer <MLCYCLE_ADMIN_TOKEN>`, as reload does."""
    state = request.app.state
    holder: ModelHolder = state.holder
    prediction_log: PredictionLog = state.prediction_log
    if not prediction_log.enabled:
        raise refusal(
            409,
            "feedback needs the prediction log, and it is off (MLCYCLE_PREDICTION_LOG=false)",
            "body",
            "no_log",
        )
    if len(items) > holder.max_instances:
        raise refusal(
            413, f"at most {holder.max_instances} feedback items per request", "body", "too_long"
        )
    return await holder.in_storage_thread(accept, items, holder, prediction_log, state.live)
