"""The app factory. The model is loaded in the lifespan, never at import."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

import mlcycle
from mlcycle.api import feedback, routes
from mlcycle.api.auth import FailedAttempts
from mlcycle.api.docs import add_docs_routes
from mlcycle.api.holder import ModelHolder, Refresh, ServedModel, StorageStalledError
from mlcycle.api.metrics import ApiMetrics
from mlcycle.api.prediction import REQUEST_ID_KEY, PredictEndpoint
from mlcycle.api.prediction_log import PredictionLog
from mlcycle.api.request_id import HEADER as REQUEST_ID_HEADER
from mlcycle.api.request_id import request_id
from mlcycle.api.requests import RequestError, problem, request_adapter
from mlcycle.api.serving import Serving, resolve_serving
from mlcycle.api.settings import ApiSettings, get_api_settings
from mlcycle.model.registry import Registry
from mlcycle.model.version import FeatureSchema
from mlcycle.settings import get_platform

# The request schema /openapi.json shows before any model is loaded.
NO_FEATURES = FeatureSchema(label="", classes=[], features=[])

log = logging.getLogger("mlcycle.api")
PREDICT_PATH = "/v1/predict"


class FrontDoor:
    """The first middleware (inside Starlette's last-resort error handler): times and counts
    every request, gives it an id (`x-request-id` on every answer: the client's if safe, else
    a new one), adds the security headers, answers HEAD as GET without the body (FastAPI's
    routes list no HEAD), and sends POSTs on the predict routes straight to the predict endpoint,
    past FastAPI's per-request machinery (the hot path). The FastAPI predict route documents
    the same function and answers only if this middleware is not installed."""

    def __init__(self, app: Any, metrics: ApiMetrics, predict: PredictEndpoint, paths: set[str]):
        self.app, self.metrics, self.predict, self.paths = app, metrics, predict, paths

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, answered = 500, False
        rid = scope[REQUEST_ID_KEY] = request_id(scope["headers"])

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                headers = _with_security_headers(message["headers"])
                headers.append((REQUEST_ID_HEADER, rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        path, method = scope["path"], scope["method"]
        fast = method == "POST" and path in self.paths
        try:
            if fast:
                await self.predict(scope, receive, send_status)
            elif method == "HEAD":
                await self.app({**scope, "method": "GET"}, receive, _without_body(send_status))
            else:
                await self.app(scope, receive, send_status)
        except Exception:
            # A bug, not the client: logged with the request's id, and answered as every other
            # error is (JSON, the id, the security headers) rather than by Starlette's plain
            # text. Once an answer has started it can only be cut short.
            log.exception("internal error answering %s %s (request id %s)", method, path, rid)
            if answered:
                raise
            await _internal_error(send_status, rid)
        finally:
            # FastAPI records the matched route in the scope; unmatched paths share one label
            # so that scanners cannot grow the metrics without bound.
            route = path if fast else getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(route, method, status, time.perf_counter() - started)


async def _internal_error(send: Any, rid: str) -> None:
    body = json.dumps({"detail": f"internal error; the server's log has it under request id {rid}"})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


# Every answer gets these unless its route set its own (the docs page and the model report
# set a Content-Security-Policy that lets them render). JSON needs no policy but "nothing".
SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def _with_security_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    headers = list(headers)
    present = {name.lower() for name, _ in headers}
    headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
    return headers


def _without_body(send: Any) -> Any:
    """HEAD is GET without the body: the same status and headers (content-length included)."""

    async def send_head(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head


async def _poll(holder: ModelHolder, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await holder.refresh_async()
        except StorageStalledError as exc:
            log.error("checking the champion pointer: %s; retrying in %ss", exc, seconds)
        except Exception:  # storage hiccups must not stop the poller
            log.exception("checking the champion pointer failed; retrying in %ss", seconds)


def _openapi(app: FastAPI, holder: ModelHolder) -> Any:
    """The OpenAPI document, with the request schema of the model being served."""
    cache: dict[str, Any] = {}

    def build() -> dict[str, Any]:
        model = holder.current
        key = model.version if model else ""
        if cache.get("key") == key:
            return cache["schema"]
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        adapter = model.adapter if model else request_adapter(NO_FEATURES, holder.max_instances)
        body = adapter.json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(body.pop("$defs", {}))
        components["PredictRequest"] = body
        if model:
            examples = {
                f"{cls}": {"value": {"instances": rows[:1]}}
                for cls, rows in model.schema.examples.items()
                if rows
            }
            for item in schema["paths"].values():
                content = item.get("post", {}).get("requestBody", {}).get("content", {})
                if "#/components/schemas/PredictRequest" in str(content):
                    content["application/json"]["examples"] = examples
        cache.update(key=key, schema=schema)
        return schema

    return build


def _error_response(exc: RequestError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    return JSONResponse(exc.payload(), status_code=exc.status, headers=headers | exc.headers)


def create_app(
    settings: ApiSettings | None = None,
    serving: Serving | None = None,
    poll: bool = True,
) -> FastAPI:
    """The API for the registry at `serving.root` (default: from settings and environment)."""
    settings = settings or get_api_settings()
    serving = serving or resolve_serving(settings, get_platform())
    metrics = ApiMetrics()
    live = feedback.LiveFeedback(serving.root, metrics)

    def on_refresh(result: Refresh, current: ServedModel | None) -> None:
        metrics.on_refresh(result, current)
        if result.outcome == "loaded":
            live.on_model(current)

    holder = ModelHolder(
        Registry(serving.root),
        settings.max_instances,
        on_refresh,
        settings.storage_timeout_seconds,
    )
    prediction_log = PredictionLog(
        serving.root,
        metrics,
        enabled=settings.prediction_log,
        sample=settings.prediction_log_sample,
        flush_seconds=settings.prediction_log_flush_seconds,
        flush_rows=settings.prediction_log_flush_rows,
        queue_rows=settings.prediction_log_queue_rows,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            result = await holder.refresh_async()
            if result.outcome == "no_champion":
                log.warning("no model yet: %s; run the training pipeline", result.detail)
        except Exception:
            log.exception("loading the champion failed; will retry")
        # Everything alive now (libraries, the first model) lives as long as the process: take
        # it out of the garbage collector's scans. A 10,000-row request allocates ~300,000
        # objects, and full collections walking the startup heap cost it ~20% of its time.
        gc.freeze()
        task = asyncio.create_task(_poll(holder, settings.poll_seconds)) if poll else None
        prediction_log.start()
        yield
        if task:
            task.cancel()
        await asyncio.to_thread(prediction_log.stop)  # what is queued is written

    app = FastAPI(
        title="mlcycle prediction API",
        version=mlcycle.__version__,
        description="Predictions from the registry's champion model, its schema, metrics and "
        "lineage. The champion is swapped in without downtime when the pipeline promotes a new "
        "one.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load their assets from a CDN: ours are local
        redoc_url=None,
    )
    app.state.settings, app.state.holder, app.state.metrics = settings, holder, metrics
    app.state.prediction_log, app.state.live = prediction_log, live
    app.state.admin_failures = FailedAttempts()
    router = routes.router
    extra = routes.APIRouter()
    routes.add_predict_route(extra, PREDICT_PATH, "predict")
    predict_paths = {PREDICT_PATH}
    if serving.predict_route and serving.predict_route != PREDICT_PATH:
        routes.add_predict_route(extra, serving.predict_route, "vertex_predict")
        predict_paths.add(serving.predict_route)
    if serving.health_route and serving.health_route not in ("/readyz", "/healthz"):
        routes.add_health_route(extra, serving.health_route)
    app.include_router(router)
    app.include_router(extra)
    app.include_router(feedback.router)
    add_docs_routes(app)

    @app.exception_handler(RequestError)
    async def request_error(_: Request, exc: RequestError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(StorageStalledError)
    async def storage_stalled(_: Request, exc: StorageStalledError) -> JSONResponse:
        message = f"{exc}; the model being served is unchanged"
        return JSONResponse(
            {"detail": message, "errors": [problem(None, "storage", "timeout", message)]},
            status_code=504,
        )

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc.detail), "errors": []},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "instance": None,
                "field": ".".join(map(str, e["loc"][1:])) or "body",
                "type": e["type"],
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "invalid request", "errors": errors}, status_code=422)

    app.openapi = _openapi(app, holder)  # type: ignore[method-assign]
    endpoint = PredictEndpoint(holder, metrics, lambda: settings.max_body_bytes, prediction_log)
    app.add_middleware(FrontDoor, metrics=metrics, predict=endpoint, paths=predict_paths)
    return app
