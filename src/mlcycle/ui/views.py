"""The pages: predict (one case), batch (a CSV), model (the champion's facts). Thin views over
the API client, the form builder and the CSV reader."""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request
from werkzeug.utils import secure_filename

from mlcycle.ui import batch as batches
from mlcycle.ui import forms
from mlcycle.ui.api_client import ApiClient, ApiError, ApiRejectedError, FieldError
from mlcycle.ui.display import display_of

bp = Blueprint("ui", __name__)
DISPLAY_ROWS = 200  # the table shows this many; the download holds every row


def api() -> ApiClient:
    return current_app.extensions["mlcycle.api"]


# -- predict --------------------------------------------------------------------------------


def percent(probability: float) -> str:
    """`87.5%`; at the extremes `> 99.9%` and `< 0.1%`, never a rounded `100.0%` or `0.0%`
    (a model is never that sure)."""
    if probability > 0.999:
        return "> 99.9%"
    if probability < 0.001:
        return "< 0.1%"
    return f"{100 * probability:.1f}%"


def _result(schema: dict[str, Any], response: dict[str, Any], typed: dict[str, str]) -> dict:
    prediction = response["predictions"][0]
    probabilities = prediction["probabilities"]
    warnings = prediction.get("warnings") or {}
    out_of_range = warnings.get("out_of_range") or []
    unseen = warnings.get("unseen_category") or []
    return {
        "label": prediction["label"],
        "positive": prediction["label"] == schema.get("positive_class"),
        "model_version": response["model_version"],
        "bars": [
            {
                "cls": cls,
                "probability": probabilities[cls],
                "percent": percent(probabilities[cls]),
                "width": f"{100 * probabilities[cls]:.2f}",
            }
            for cls in schema["classes"]
        ],
        "inputs": [(name, text, not text.strip()) for name, text in typed.items()],
        "imputed": warnings.get("imputed", sum(1 for text in typed.values() if not text.strip())),
        "out_of_range": [batches.out_of_range_text(e) for e in out_of_range],
        "unseen_category": [batches.unseen_category_text(e) for e in unseen],
        # Shown at the fields concerned: feature -> the range the value is outside of, or
        # that the value is not one of the categories seen.
        "field_warnings": {
            **{
                e["feature"]: "Outside the training range ("
                f"{forms.format_number(e.get('min'))} to {forms.format_number(e.get('max'))})"
                for e in out_of_range
            },
            **{e["feature"]: "Not a value seen in training" for e in unseen},
        },
    }


def render_predict(
    schema: dict[str, Any],
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: list[FieldError] | None = None,
    result: dict[str, Any] | None = None,
    next_example: int = 0,
) -> tuple[str, int]:
    features = {f["name"] for f in schema["features"]}
    field_errors: dict[str, str] = {}
    general: list[str] = []
    for error in errors or []:
        if error.field in features:  # shown next to the field it names
            field_errors.setdefault(error.field, error.message)
        elif error.field and error.field != "instances":  # the whole case needs no name
            general.append(f"{error.field}: {error.message}")
        else:
            general.append(error.message)
    page = render_template(
        "predict.html",
        active="predict",
        schema=schema,
        display=display_of(schema),
        groups=forms.build_groups(schema),
        values=values or {},
        field_errors=field_errors,
        field_warnings=(result or {}).get("field_warnings", {}),
        general_errors=general,
        result=result,
        example_classes=[c for c in schema["classes"] if schema.get("examples", {}).get(c)],
        next_example=next_example,
    )
    return page, status


@bp.get("/")
def predict_page() -> tuple[str, int]:
    return render_predict(api().schema())


@bp.post("/")
def predict() -> tuple[str, int]:
    schema = api().schema()
    if "example" in request.form:  # an example button: fill the form, predict nothing yet
        n = request.form.get("n", "0")
        n = int(n) if n.isdigit() else 0
        values = forms.example_values(schema, request.form["example"], n)
        return render_predict(schema, values=values, next_example=n + 1)
    instance, typed = forms.read_instance(request.form, schema)
    try:
        response = api().predict([instance])
    except ApiRejectedError as exc:
        status = exc.status if exc.status in (400, 413) else 422
        errors = exc.errors or [FieldError(None, "", exc.message)]
        return render_predict(schema, status, values=typed, errors=errors)
    return render_predict(schema, values=typed, result=_result(schema, response, typed))


# -- batch ----------------------------------------------------------------------------------


def render_batch(
    status: int = 200,
    schema: dict[str, Any] | None = None,
    message: str = "",
    details: list[str] | None = None,
    result: dict[str, Any] | None = None,
) -> tuple[str, int]:
    page = render_template(
        "batch.html",
        active="batch",
        schema=schema,
        display=display_of(schema),
        max_bytes=current_app.config["MAX_UPLOAD_BYTES"],
        max_rows=current_app.config["MAX_ROWS"],
        message=message,
        details=details or [],
        result=result,
    )
    return page, status


def _batch_result(
    schema: dict[str, Any], batch: batches.Batch, response: dict[str, Any], filename: str
) -> dict[str, Any]:
    classes = schema["classes"]
    predictions = response["predictions"]
    header = batches.result_header(batch, classes)
    rows = batches.result_rows(batch, predictions, classes)
    csv_text = batches.to_csv(header, rows)
    stem = secure_filename(filename.rsplit(".", 1)[0]) or "upload"
    counts = Counter(p["label"] for p in predictions)
    return {
        "model_version": response["model_version"],
        "classes": classes,
        "extra_columns": batch.extra_columns,
        "rows": [
            {
                "number": i + 1,
                "extra": [row[batch.header.index(c)] for c in batch.extra_columns],
                "label": p["label"],
                "probabilities": [percent(p["probabilities"][c]) for c in classes],
                "warnings": batches.warnings_text(p.get("warnings")),
            }
            for i, (row, p) in enumerate(zip(batch.rows[:DISPLAY_ROWS], predictions, strict=False))
        ],
        "total": len(rows),
        "counts": [(c, counts.get(c, 0)) for c in classes],
        # A data: URL keeps the UI stateless (no stored results to expire or share between
        # workers); Chromium downloaded 8 MB ones here, more than a capped upload produces.
        "download_url": "data:text/csv;charset=utf-8;base64,"
        + base64.b64encode(csv_text.encode()).decode(),
        "download_name": f"{stem}-predictions.csv",
    }


@bp.get("/batch")
def batch_page() -> tuple[str, int]:
    return render_batch(schema=api().schema())


@bp.post("/batch")
def batch() -> tuple[str, int]:
    schema = api().schema()
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise batches.UploadError(400, "Choose a CSV file to upload.")
        cap = current_app.config["MAX_UPLOAD_BYTES"]
        data = upload.stream.read(cap + 1)
        if len(data) > cap:
            raise batches.UploadError(413, f"The file is larger than {cap:,} bytes.")
        batch = batches.read_csv(data, schema, current_app.config["MAX_ROWS"])
    except batches.UploadError as exc:
        return render_batch(exc.status, schema, exc.message)
    try:
        response = api().predict(batch.instances)
    except ApiRejectedError as exc:
        status = exc.status if exc.status in (400, 413) else 422
        details = batches.describe_errors(exc.errors)
        return render_batch(
            status, schema, f"The prediction service refused the file: {exc.message}.", details
        )
    return render_batch(
        schema=schema, result=_batch_result(schema, batch, response, upload.filename)
    )


# -- model ----------------------------------------------------------------------------------


MOVES_SHOWN = 5  # the champion's last moves on the model page


@bp.get("/model")
def model_page() -> tuple[str, int]:
    model = api().model()
    # The schema too, for the data set's words (the disclaimer under the page).
    display = display_of(api().schema())
    try:  # the last few moves; the page stands without them (an API from before the history)
        moves = api().history(MOVES_SHOWN)["moves"] if model.get("champion") else []
    except ApiError:
        moves = []
    # The latest drift report's verdict, linked; None before the first. The page stands
    # without it too (storage failing, a slow API), saying it could not be read.
    try:
        drift, drift_unread = api().drift(), False
    except ApiError:
        drift, drift_unread = None, True
    page = render_template(
        "model.html",
        active="model",
        model=model,
        display=display,
        moves=moves,
        drift=drift,
        drift_unread=drift_unread,
    )
    return page, 200


@bp.get("/model/artifacts/<name>")
def artifact(name: str) -> Response:
    # Proxied, not linked: the browser may not reach the API (a private Cloud Run service).
    try:
        data, media_type = api().artifact(name)
    except ApiRejectedError as exc:
        abort(404 if exc.status == 404 else 502)
    return Response(data, mimetype=media_type, headers={"Cache-Control": "private, max-age=60"})


# The report is a self-contained page (its own <style>, data: images, no script).
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


@bp.get("/model/report")
def report() -> Response:
    try:
        data = api().report()
    except ApiRejectedError as exc:
        abort(404 if exc.status == 404 else 502)
    return Response(data, mimetype="text/html", headers={"Content-Security-Policy": REPORT_CSP})


@bp.get("/model/drift")
def drift() -> Response:
    # Proxied like the model report: a self-contained page (style inline, data: images).
    try:
        data = api().drift_report()
    except ApiRejectedError as exc:
        abort(404 if exc.status == 404 else 502)
    return Response(data, mimetype="text/html", headers={"Content-Security-Policy": REPORT_CSP})


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """The UI process is up (it does not call the API: a down API is not the UI's fault)."""
    return {"status": "ok"}
