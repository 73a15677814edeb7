"""POST /v1/predict (and Vertex AI's predict route): bytes in, status and bytes out.

One function does the work (`predict`); two thin shells reach it: the FastAPI route (which
documents it) and `PredictEndpoint`, a bare ASGI endpoint the app's front door sends predict
calls to directly, past FastAPI's per-request middleware and routing: on this hot path that
machinery costs more than validating and predicting a row (bench/serve.py measures both floors:
`floor_front_door_vs_fastapi_route_c32`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from anyio import to_thread
from pydantic_core import to_json

from mlcycle.api.columnar import (
    columnar_format,
    passthrough_problems,
    read_batch,
    write_predictions,
)
from mlcycle.api.holder import ModelHolder
from mlcycle.api.metrics import ApiMetrics
from mlcycle.api.prediction_log import PredictionLog
from mlcycle.api.request_id import request_id as make_request_id
from mlcycle.api.requests import (
    MAX_REPORTED_ERRORS,
    RequestError,
    parse_instances,
    problem,
    problems,
    to_batch,
)
from mlcycle.model.operating import labels
from mlcycle.model.predict import to_predictions
from mlcycle.model.version import FeatureSchema

# Bodies above this are validated and predicted in a worker thread, so one 10,000-row batch
# does not hold up the single-row requests queued behind it on the event loop.
THREAD_ABOVE_BYTES = 256 * 1024
JSON_TYPE = "application/json"
NOT_A_NUMBER = "the model's output is not a number for this instance"


def no_model_message(holder: ModelHolder) -> str:
    return (
        f"no model is loaded: there is no usable champion in {holder.registry.models}. "
        "Run the training pipeline (`mlcycle run`, or `make run`); the API picks up the new "
        "champion by itself."
    )


async def read_body(chunks: AsyncIterator[bytes], limit: int, declared: int | None) -> bytes:
    """The whole body, or RequestError(413) as soon as it is known to exceed `limit`."""
    too_big = RequestError(
        413,
        f"the body is larger than {limit} bytes",
        (problem(None, "body", "too_large", f"at most {limit} bytes per request"),),
    )
    if declared is not None and declared > limit:
        raise too_big
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_big
        parts.append(chunk)
    return b"".join(parts)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    media_type: str = JSON_TYPE
    model_version: str | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"content-type", self.media_type.encode())]
        if self.model_version:
            headers.append((b"x-model-version", self.model_version.encode()))
        return headers


def passthrough_names(query_string: str) -> tuple[str, ...]:
    """`?passthrough=id,outcome` (or the parameter repeated) as names, in order, once each."""
    if not query_string:  # the hot path: nothing to parse
        return ()
    from urllib.parse import parse_qs

    values = parse_qs(query_string, keep_blank_values=False).get("passthrough", [])
    names = [n.strip() for value in values for n in value.split(",")]
    return tuple(dict.fromkeys(n for n in names if n))


def _split_json(
    body: bytes, passthrough: tuple[str, ...], schema: FeatureSchema
) -> tuple[bytes, list[dict[str, Any]]]:
    """The body without the pass-through fields, and those fields per instance (absent: null).
    Anything malformed is left in place for the model's validation to name."""
    import json

    features = schema.feature_names()
    if errors := passthrough_problems(passthrough, {n: None for n in features}):
        raise problems(errors)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body, []
    instances = data.get("instances") if isinstance(data, dict) else None
    if not isinstance(instances, list):
        return body, []
    kept = []
    for instance in instances:
        if isinstance(instance, dict):
            kept.append({n: instance.pop(n, None) for n in passthrough})
    return to_json(data), kept


def _refusal(exc: RequestError) -> Answer:
    return Answer(exc.status, exc.payload_json())


def predict(
    holder: ModelHolder,
    metrics: ApiMetrics,
    body: bytes,
    media_type: str | None = None,
    passthrough: tuple[str, ...] = (),
    request_id: str = "",
    log: PredictionLog | None = None,
) -> Answer:
    """Validate, predict, and answer; never raises for anything a client can send.

    `media_type` is a columnar format (`columnar.MEDIA_TYPES`) or None for a JSON body; the
    answer has the request's format, and errors are always JSON. `passthrough` names columns
    (fields) that are not features: they are kept in the answer and not fed to the model.
    A prediction is recorded in `log` under `request_id` (the JSON answer says it too)."""
    model = holder.current  # read once: a swap mid-request does not touch this request
    if model is None:
        return Answer(503, to_json({"detail": no_model_message(holder), "errors": []}))
    kept: Any = None
    try:
        if media_type:
            batch, kept = read_batch(
                body, media_type, model.schema, holder.max_instances, passthrough
            )
        else:
            if passthrough:
                body, kept = _split_json(body, passthrough, model.schema)
            batch = to_batch(
                parse_instances(model.adapter, body, holder.max_instances), model.schema
            )
    except RequestError as exc:
        return _refusal(exc)
    checked = model.rules.check(batch)  # the version's own serving rules
    if checked.problems:
        return _refusal(problems([p._asdict() for p in checked.problems]))
    proba = model.predictor.predict_proba(batch)
    if not np.isfinite(proba).all():  # the bounds in the schema prevent this; never send NaN
        rows = np.flatnonzero(~np.isfinite(proba).all(axis=1))[:MAX_REPORTED_ERRORS].tolist()
        return _refusal(
            RequestError(
                422,
                "the model cannot score these instances: values too extreme",
                tuple(problem(r, "instances", "not_scorable", NOT_A_NUMBER) for r in rows),
            )
        )
    classes = model.predictor.classes
    said = labels(proba, classes, model.operating_point)  # every label of the answer, once
    counts = [int((said == name).sum()) for name in classes]
    metrics.count_predictions(model.version, classes, counts)
    logged = log is not None and log.enabled
    # As JSON text for a table's column and the log; made once, and only when needed.
    text = checked.warnings_text() if media_type or logged else None
    if logged:
        log.record(model, request_id, batch, proba, text)
    if media_type:
        payload = write_predictions(proba, classes, model.version, media_type, said, text, kept)
        return Answer(200, payload, media_type, model.version)
    predictions = to_predictions(proba, classes, said)
    for prediction, warnings in zip(predictions, checked.warnings(), strict=True):
        prediction["warnings"] = warnings
    if kept:
        for prediction, fields in zip(predictions, kept, strict=True):
            prediction["passthrough"] = fields
    answer: dict[str, Any] = {"predictions": predictions, "model_version": model.version}
    if request_id:
        answer["request_id"] = request_id
    payload = to_json(answer)
    return Answer(200, payload, JSON_TYPE, model.version)


async def predict_async(
    holder: ModelHolder,
    metrics: ApiMetrics,
    body: bytes,
    media_type: str | None = None,
    passthrough: tuple[str, ...] = (),
    request_id: str = "",
    log: PredictionLog | None = None,
) -> Answer:
    args = (holder, metrics, body, media_type, passthrough, request_id, log)
    if len(body) > THREAD_ABOVE_BYTES:
        return await to_thread.run_sync(predict, *args)
    return predict(*args)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    value = _header(headers, b"content-length")
    return int(value) if value and value.isdigit() else None


REQUEST_ID_KEY = "mlcycle.request_id"  # where the front door leaves a request's id in its scope


def scope_request_id(scope: dict[str, Any]) -> str:
    """The id the front door gave this request (one made here when it did not run)."""
    rid = scope.get(REQUEST_ID_KEY)
    if rid is None:
        rid = scope[REQUEST_ID_KEY] = make_request_id(scope.get("headers", []))
    return rid


class PredictEndpoint:
    """A bare ASGI endpoint for the predict routes (see the module docstring for why)."""

    def __init__(
        self,
        holder: ModelHolder,
        metrics: ApiMetrics,
        max_body_bytes: Callable[[], int],
        log: PredictionLog | None = None,
    ) -> None:
        self.holder, self.metrics, self.max_body_bytes = holder, metrics, max_body_bytes
        self.log = log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                yield message.get("body", b"")
                more = message.get("more_body", False)

        headers = scope["headers"]
        try:
            media_type = columnar_format(_header(headers, b"content-type"))
            body = await read_body(chunks(), self.max_body_bytes(), _content_length(headers))
            answer = await predict_async(
                self.holder,
                self.metrics,
                body,
                media_type,
                passthrough_names(scope.get("query_string", b"").decode("latin-1")),
                scope_request_id(scope),
                self.log,
            )
        except RequestError as exc:
            answer = _refusal(exc)
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.headers()}
        )
        await send({"type": "http.response.body", "body": answer.body})
