"""The one module that knows where the prediction API is and talks HTTP to it.

Every failure becomes one of two exceptions the views can show: `ApiUnavailableError` (the service
is down, slow or broken: a 502/503 page) and `ApiRejectedError` (the API refused the input: its
errors name the field and the instance, and are shown next to the field).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger("mlcycle.ui")

IMAGE_TYPES = ("image/png", "image/svg+xml")


@dataclass(frozen=True)
class FieldError:
    """One problem the API found: which instance (row) and which field, and what."""

    instance: int | None
    field: str
    message: str


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class ApiUnavailableError(ApiError):
    """The API could not give an answer. `status` is what the UI answers: 502 or 503."""


class ApiRejectedError(ApiError):
    """The API answered 4xx: the request was wrong. `status` is the API's."""

    def __init__(self, status: int, message: str, errors: list[FieldError]) -> None:
        super().__init__(status, message)
        self.errors = errors


def _rejection(response: httpx.Response) -> ApiRejectedError:
    try:
        body = response.json()
        detail = str(body.get("detail") or f"the API answered {response.status_code}")
        errors = [
            FieldError(
                e.get("instance") if isinstance(e.get("instance"), int) else None,
                str(e.get("field") or ""),
                str(e.get("message") or ""),
            )
            for e in body.get("errors") or []
            if isinstance(e, dict)
        ]
    except (ValueError, AttributeError):  # not the API's JSON error shape
        detail, errors = f"the API answered {response.status_code}", []
    return ApiRejectedError(response.status_code, detail, errors)


class ApiClient:
    """A small, synchronous client of mlcycle's prediction API (one per app)."""

    def __init__(
        self, base_url: str, timeout: float, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # The schema last answered: pages that fetch none (errors, the model page) name the
        # data set's words from it.
        self.last_schema: dict[str, Any] | None = None
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"user-agent": "mlcycle-ui"},
        )

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            log.warning("API %s %s timed out: %r", method, path, exc)
            # 503, not 504: the issue asks for 502/503, and "try again shortly" is the advice.
            raise ApiUnavailableError(
                503, "The prediction service did not answer in time."
            ) from None
        except httpx.HTTPError as exc:  # refused, reset, DNS, bad URL...
            log.warning("API %s %s failed: %r", method, path, exc)
            raise ApiUnavailableError(502, "The prediction service cannot be reached.") from None
        if response.status_code == 503:  # the API is up, but has no model or cannot read
            # Its detail is for operators (it names the registry's location): log it only.
            rejection = _rejection(response)
            log.warning("API %s %s: 503 %s", method, path, rejection.message)
            if any(e.field == "storage" for e in rejection.errors):
                raise ApiUnavailableError(
                    503,
                    "The prediction service cannot read its storage just now. Try again shortly.",
                )
            raise ApiUnavailableError(
                503,
                "The prediction service has no model yet, or is still starting. "
                "Train one with `mlcycle run` (or `make run`): the service picks it up by itself.",
            )
        if response.status_code >= 500:
            log.error("API %s %s: %s %s", method, path, response.status_code, response.text[:500])
            raise ApiUnavailableError(502, "The prediction service failed to answer.")
        if response.status_code >= 400:
            raise _rejection(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):  # the URL points at something that is not the API
            log.error("API %s %s answered non-JSON: %s", method, path, response.text[:200])
            raise ApiUnavailableError(502, "The prediction service answered something unexpected.")
        return body

    def schema(self) -> dict[str, Any]:
        """Features (name, type, range, median or categories), classes, examples per class."""
        self.last_schema = self._json("GET", "/v1/schema")
        return self.last_schema

    def model(self) -> dict[str, Any]:
        """The champion: version, creation time, metrics, gate decision, lineage, artifacts."""
        return self._json("GET", "/v1/model")

    def history(self, limit: int = 5) -> dict[str, Any]:
        """`{"model_version", "moves": [...], "problem"}`: how the champion got there, newest
        move first."""
        return self._json("GET", "/v1/model/history", params={"limit": limit})

    def predict(self, instances: list[dict[str, Any]]) -> dict[str, Any]:
        """`{"predictions": [{"label", "probabilities"}], "model_version"}`, or ApiRejectedError."""
        return self._json("POST", "/v1/predict", json={"instances": instances})

    def report(self) -> bytes:
        """The champion's HTML model report."""
        response = self._send("GET", "/v1/model/report")
        if response.headers.get("content-type", "").split(";")[0] != "text/html":
            raise ApiUnavailableError(502, "The prediction service answered something unexpected.")
        return response.content

    def drift(self) -> dict[str, Any] | None:
        """The latest drift report as JSON (status, message, per-feature PSI); None if none."""
        try:
            return self._json("GET", "/v1/model/drift", params={"format": "json"})
        except ApiRejectedError as exc:
            if exc.status == 404:
                return None
            raise

    def drift_report(self) -> bytes:
        """The latest drift report's HTML page (ApiRejectedError 404 when there is none)."""
        response = self._send("GET", "/v1/model/drift", params={"format": "html"})
        if response.headers.get("content-type", "").split(";")[0] != "text/html":
            raise ApiUnavailableError(502, "The prediction service answered something unexpected.")
        return response.content

    def artifact(self, name: str) -> tuple[bytes, str]:
        """An evaluation image of the champion and its media type."""
        response = self._send("GET", f"/v1/model/artifacts/{quote(name, safe='')}")
        media_type = response.headers.get("content-type", "").split(";")[0]
        if media_type not in IMAGE_TYPES:
            raise ApiUnavailableError(502, "The prediction service answered something unexpected.")
        return response.content, media_type
