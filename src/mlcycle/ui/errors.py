"""Error pages: friendly, escaped, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from mlcycle.ui import views
from mlcycle.ui.api_client import ApiRejectedError, ApiUnavailableError

log = logging.getLogger("mlcycle.ui")


def error_page(status: int, title: str, message: str) -> tuple[str, int, dict[str, str]]:
    headers = {"Retry-After": "10"} if status == 503 else {}
    return (
        render_template("error.html", status=status, title=title, message=message),
        status,
        headers,
    )


def register(app: Flask) -> None:
    @app.errorhandler(ApiUnavailableError)
    def api_unavailable(exc: ApiUnavailableError) -> tuple[str, int, dict[str, str]]:
        return error_page(exc.status, "The prediction service is unavailable", exc.message)

    @app.errorhandler(ApiRejectedError)
    def api_rejected(exc: ApiRejectedError) -> tuple[str, int, dict[str, str]]:
        # Views catch the rejections they expect; any other 4xx means UI and API disagree.
        log.error("API refused a request the UI thought valid: %s %s", exc.status, exc.message)
        return error_page(
            502, "The prediction service is unavailable", "It answered something unexpected."
        )

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int, dict[str, str]]:
        return error_page(
            400,
            "This form has expired",
            "The page was open too long, or the form did not come from this site. "
            "Go back, reload the page and try again.",
        )

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> tuple[str, int] | tuple[str, int, dict]:
        message = f"The file is larger than {app.config['MAX_UPLOAD_BYTES']:,} bytes."
        if request.endpoint == "ui.batch":
            try:
                schema = views.api().schema()
            except (ApiUnavailableError, ApiRejectedError):
                schema = None
            return views.render_batch(413, schema, message)
        return error_page(413, "Too large", message)

    @app.errorhandler(InternalServerError)
    def internal_error(exc: InternalServerError) -> tuple[str, int, dict[str, str]]:
        # Flask has logged the exception with its traceback; the page shows none of it.
        return error_page(500, "Something went wrong", "The error was logged. Please try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int, dict[str, str]]:
        status = exc.code or 500
        titles = {404: "Page not found", 405: "Not allowed"}
        return error_page(status, titles.get(status, exc.name), exc.description or "")
