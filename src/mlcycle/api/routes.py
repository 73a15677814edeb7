"""The API's routes: thin shells over the holder, the registry and the predict function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from mlcycle.api.auth import require_admin
from mlcycle.api.columnar import ARROW, CSV, columnar_format
from mlcycle.api.holder import ModelHolder, ServedModel, StorageStalledError
from mlcycle.api.metrics import ApiMetrics
from mlcycle.api.models import (
    ChampionHistory,
    ErrorResponse,
    ModelInfo,
    PredictResponse,
    ReloadResult,
    ServedSchema,
    ServingInfo,
    Status,
)
from mlcycle.api.prediction import (
    no_model_message,
    passthrough_names,
    predict_async,
    read_body,
    scope_request_id,
)
from mlcycle.api.requests import RequestError, refusal
from mlcycle.model.drift import DriftReport
from mlcycle.model.metrics import DESCRIPTIONS as METRIC_DESCRIPTIONS
from mlcycle.model.registry import REPORT_FILE

IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}
# The report is one self-contained page: its plots are data: URIs, its style inline, no script.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 422, 503, 504)
}
RELOAD_ERRORS = {**ERRORS, 429: {"model": ErrorResponse}}
COLUMNAR = {
    CSV: {"schema": {"type": "string"}},
    ARROW: {"schema": {"type": "string", "format": "binary"}},
}
PASSTHROUGH_HELP = (
    "Columns (JSON: instance fields) that are not features, such as an id or a known outcome, "
    "comma-separated or repeated: each is kept in the answer, beside the prediction of its row, "
    "and not fed to the model. Other unknown columns are refused (422)."
)
PREDICT_BODY = {
    "parameters": [
        {
            "name": "passthrough",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "example": "patient_id,outcome",
            "description": PASSTHROUGH_HELP,
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}},
            **COLUMNAR,
        },
    },
}


# Dependencies are async: FastAPI runs a sync one in a worker thread, and the routes that
# must answer while storage stalls (health, model info) must not wait for a thread.
async def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


async def served_model(holder: Annotated[ModelHolder, Depends(get_holder)]) -> ServedModel:
    model = holder.current
    if model is None:
        raise refusal(503, no_model_message(holder))
    return model


Holder = Annotated[ModelHolder, Depends(get_holder)]
Model = Annotated[ServedModel, Depends(served_model)]

router = APIRouter()


@router.get("/healthz", response_model=Status, tags=["health"])
async def healthz() -> dict[str, Any]:
    """The process is up (it may not have a model yet: see /readyz). Answered on the event
    loop, from memory: never waits for storage or for a thread."""
    return {"status": "ok"}


def readiness(holder: ModelHolder, response: Response) -> dict[str, Any]:
    model, trouble = holder.current, holder.storage_problem
    if model is None:
        response.status_code = 503
        return {"status": "not ready", "detail": trouble or no_model_message(holder)}
    # The model is in memory, so predictions still work; the detail says what is failing.
    detail = f"serving from memory; {trouble}" if trouble else None
    return {"status": "ready", "model_version": model.version, "detail": detail}


@router.get("/readyz", response_model=Status, responses={503: {"model": Status}}, tags=["health"])
async def readyz(holder: Holder, response: Response) -> dict[str, Any]:
    """200 while a model is loaded and predictions can be served, else 503; `detail` says
    what is wrong (no champion yet, storage not answering). Never waits for storage."""
    return readiness(holder, response)


@router.get("/metrics", tags=["health"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: requests and latency by route and status, predictions by class,
    the model being served, and model loads and refusals."""
    registry: ApiMetrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)


def images(model: ServedModel) -> list[str]:
    """The version's evaluation images: the only files /v1/model/artifacts/ serves."""
    return [a for a in model.metadata.artifacts if a.endswith(tuple(IMAGE_TYPES))]


# Version records are returned as stored: fields a version was written without (an older
# version) are left out rather than shown as null.
@router.get(
    "/v1/model",
    response_model=ModelInfo,
    response_model_exclude_unset=True,
    responses=ERRORS,
    tags=["model"],
)
async def model_info(model: Model, holder: Holder, request: Request) -> ModelInfo:
    """The champion being served: version, creation time, test metrics, the gate's decision
    and reasons, lineage (data hash, pipeline run, commit, library versions), for two
    classes the operating point its labels follow, how it became the champion, and its live
    accuracy and recall on the ground truth sent to POST /v1/feedback."""
    meta = model.metadata
    return ModelInfo(
        version=model.version,
        created_at=meta.created_at,
        dataset=meta.dataset,
        candidate=meta.model.candidate,
        metrics=meta.metrics,
        metric_descriptions={
            n: METRIC_DESCRIPTIONS[n] for n in meta.metrics if n in METRIC_DESCRIPTIONS
        },
        gate=meta.gate,
        lineage=meta.lineage,
        evaluation=meta.evaluation,
        training=meta.training,
        artifacts=images(model),
        report=meta.has(REPORT_FILE),
        serving=ServingInfo(
            backend=model.predictor.backend,
            loaded_at=model.loaded_at,
            onnx=meta.onnx,
            last_refusal=holder.last_refusal,
        ),
        champion=model.move,
        live=request.app.state.live.for_model(model),
        # Left out for versions registered before operating points (they label by argmax).
        **({"operating_point": meta.operating_point} if meta.operating_point else {}),
    )


@router.get(
    "/v1/model/history",
    response_model=ChampionHistory,
    response_model_exclude_unset=True,  # moves as stored, like /v1/model's champion
    responses=ERRORS,
    tags=["model"],
)
async def champion_history(
    model: Model,
    holder: Holder,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many moves.")] = 10,
) -> ChampionHistory:
    """How the served version became the champion: the moves of the champion pointer, newest
    first (when, kind: pipeline, promote, rollback or repair, from which version, by what,
    why). Empty for a pointer written before mlcycle kept a history."""
    if model.move is None:
        return ChampionHistory(model_version=model.version, moves=[], problem=None)
    what = "the champion's history"
    moves, problem = await from_storage(holder, what, holder.registry.history, limit, model.move)
    return ChampionHistory(model_version=model.version, moves=moves, problem=problem)


@router.get(
    "/v1/schema",
    response_model=ServedSchema,
    response_model_exclude_unset=True,
    responses=ERRORS,
    tags=["model"],
)
async def feature_schema(model: Model) -> ServedSchema:
    """The features a prediction needs: names, types, ranges and medians seen in training,
    real example instances per class (the UI builds its form from this), and the words pages
    show (`display`: each class's name, what is predicted, the disclaimer; absent for versions
    built before it, served as stored)."""
    return ServedSchema.model_validate({"model_version": model.version, **model.schema.to_json()})


T = TypeVar("T")


async def from_storage(holder: ModelHolder, what: str, call: Callable[..., T], *args: Any) -> T:
    """`call(*args)` in a storage thread: 504 if storage stalls (StorageStalledError), 503
    naming `what` if it fails."""
    try:
        return await holder.in_storage_thread(call, *args)
    except StorageStalledError:
        raise
    except Exception as exc:
        message = f"{what} cannot be read from storage: {exc}"
        raise refusal(503, message, "storage", "unavailable") from None


async def read_artifact(holder: ModelHolder, version: str, name: str) -> bytes:
    """A stored file of `version` (504 or 503 as `from_storage`)."""
    what = f"{name} of version {version}"
    return await from_storage(holder, what, holder.registry.read_artifact, version, name)


@router.get(
    "/v1/model/artifacts/{name}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **ERRORS},
    tags=["model"],
)
async def artifact(name: str, model: Model, holder: Holder) -> Response:
    """An evaluation image of the champion: `roc_curve.png` or `confusion_matrix.png`."""
    served = images(model)
    if name not in served:  # only names the registry lists: never a path from the request
        raise refusal(404, f"no artifact {name!r}; available: {served}", "name", "not_found")
    data = await read_artifact(holder, model.version, name)
    return Response(data, media_type=IMAGE_TYPES["." + name.rsplit(".", 1)[-1]])


@router.get(
    "/v1/model/report",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}, **ERRORS},
    tags=["model"],
)
async def report(model: Model, holder: Holder) -> Response:
    """The champion's model report: one self-contained HTML page (data, validation, training,
    test metrics and plots, the gate's decision, lineage)."""
    if not model.metadata.has(REPORT_FILE):
        raise refusal(404, f"version {model.version} has no report", "", "not_found")
    data = await read_artifact(holder, model.version, REPORT_FILE)
    return Response(
        data, media_type="text/html; charset=utf-8", headers={"content-security-policy": REPORT_CSP}
    )


def wants_json(request: Request, format: str | None) -> bool:
    """?format= decides; else JSON only for an Accept that asks for JSON and not for HTML."""
    if format is not None:
        return format == "json"
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@router.get(
    "/v1/model/drift",
    response_class=Response,
    responses={200: {"model": DriftReport, "content": {"text/html": {}}}, **ERRORS},
    tags=["model"],
)
async def drift(
    request: Request,
    holder: Holder,
    format: Annotated[
        Literal["html", "json"] | None,
        Query(
            description="html or json (default: by the Accept header; HTML unless it asks "
            "for application/json)."
        ),
    ] = None,
) -> Response:
    """The latest drift report `mlcycle monitor` wrote: the features of recently logged
    predictions against the training data of the version named in it, feature by feature
    (population stability index, shift in training standard deviations, the thresholds and
    the verdict: ok, warn, alert or too_few_rows). A self-contained HTML page, or its JSON.
    404 when no report was written yet."""
    from mlcycle import monitor

    as_json = wants_json(request, format)
    kind = "json" if as_json else "html"
    what = "the drift report"
    data = await from_storage(holder, what, monitor.read_latest, holder.registry.root, kind)
    if data is None:
        raise refusal(
            404,
            "no drift report yet: `mlcycle monitor` writes one (or `mlcycle watch --on-drift`)",
            "",
            "not_found",
        )
    if as_json:
        return Response(data, media_type="application/json")
    return Response(
        data, media_type="text/html; charset=utf-8", headers={"content-security-policy": REPORT_CSP}
    )


@router.post(
    "/v1/model/reload",
    response_model=ReloadResult,
    responses={409: {"model": ReloadResult}, **RELOAD_ERRORS},
    dependencies=[Depends(require_admin)],
    tags=["model"],
)
async def reload(holder: Holder, response: Response) -> dict[str, Any]:
    """Check the champion pointer now (it is also polled); load and swap in a new champion.
    A champion that fails to load or fails its sha256 check, or a champion pointer that cannot
    be read (its file is named in `detail`), is refused (409) and the current model keeps
    serving. Storage that does not answer within MLCYCLE_STORAGE_TIMEOUT_SECONDS gets 504.
    Needs `Authorization: Bearer <MLCYCLE_ADMIN_TOKEN>`; after 10 wrong tokens in a minute a
    client gets 429 until the minute has passed."""
    try:
        result = await holder.refresh_async(True)
    except StorageStalledError:
        raise  # 504
    except Exception as exc:
        message = f"the registry cannot be read: {type(exc).__name__}: {exc}"
        raise refusal(503, message, "storage", "unavailable") from None
    if result.outcome == "refused":
        response.status_code = 409
    current = holder.current
    return {
        "outcome": result.outcome,
        "model_version": current.version if current else None,
        "detail": result.detail,
    }


async def predict(request: Request) -> Response:
    """Predict a class and its probabilities for each instance.

    JSON body: `{"instances": [{feature: value, ...}, ...]}`, every feature of /v1/schema in
    each instance (null = unknown, imputed as in training). Answers
    `{"predictions": [{"label", "probabilities", "warnings"}, ...], "model_version"}`:
    `warnings` lists the instance's features outside the range seen in training (name, value,
    training min and max) and counts its imputed features.

    Refused (422, naming the instance and field): a value further outside the training range
    than the version's `serving.range_tolerance` times the range's width, a value across a
    bound the data-set config declares (e.g. below 0 for a size), and an instance with more
    than `serving.max_missing_fraction` of its features missing.

    For batches, a columnar body is faster: `Content-Type: text/csv` (a header row of feature
    names; an empty cell is unknown) or `application/vnd.apache.arrow.stream` (an uncompressed
    Arrow IPC stream). The answer then has the same format, with columns `label`,
    `probability_<class>` and `warnings` (the instance's warnings as JSON text, empty when it
    has none), and the version in the `x-model-version` header.

    Columns that are not features (an id, a known outcome) are refused unless named in
    `?passthrough=`: then they are kept in the answer and not fed to the model (CSV and Arrow:
    as the first columns; JSON: a `passthrough` object in each prediction).

    Any other Content-Type is refused (415); none at all is read as JSON. Bad input gets a 4xx
    JSON error naming the instance (row, from 0) and field; no model yet gets 503.
    """
    state = request.app.state
    try:
        media_type = columnar_format(request.headers.get("content-type"))
        declared = request.headers.get("content-length")
        body = await read_body(
            request.stream(),
            state.settings.max_body_bytes,
            int(declared) if declared and declared.isdigit() else None,
        )
    except RequestError as exc:
        return Response(exc.payload_json(), status_code=exc.status, media_type="application/json")
    answer = await predict_async(
        state.holder,
        state.metrics,
        body,
        media_type,
        passthrough_names(request.url.query),
        scope_request_id(request.scope),
        state.prediction_log,
    )
    headers = {"x-model-version": answer.model_version} if answer.model_version else None
    return Response(answer.body, answer.status, headers, answer.media_type)


def add_predict_route(router: APIRouter, path: str, name: str) -> None:
    router.add_api_route(
        path,
        predict,
        methods=["POST"],
        name=name,
        response_model=PredictResponse,
        responses={200: {"content": COLUMNAR}, 415: {"model": ErrorResponse}, **ERRORS},
        openapi_extra=PREDICT_BODY,
        tags=["predict"],
    )


def add_health_route(router: APIRouter, path: str) -> None:
    def health(holder: Holder, response: Response) -> dict[str, Any]:
        """Vertex AI's health route (AIP_HEALTH_ROUTE): the same answer as /readyz."""
        return readiness(holder, response)

    router.add_api_route(
        path,
        health,
        methods=["GET"],
        response_model=Status,
        name="vertex_health",
        responses={503: {"model": Status}},
        tags=["health"],
    )
