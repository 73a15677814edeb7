"""Where and how to serve, from the CLI's options and the platform's variables.

Cloud Run sets PORT; a Vertex AI endpoint sets AIP_HTTP_PORT, AIP_HEALTH_ROUTE,
AIP_PREDICT_ROUTE and AIP_STORAGE_URI. Both route traffic to the container's public interface,
so when either platform's port variable is set the default host becomes 0.0.0.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcycle.settings import ApiSettings, Platform

DEFAULT_PORT = 8080
LOCAL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Serving:
    root: str
    host: str
    port: int
    health_route: str | None  # an extra readiness route (AIP_HEALTH_ROUTE)
    predict_route: str | None  # an extra prediction route (AIP_PREDICT_ROUTE)


def _route(value: str | None) -> str | None:
    if not value:
        return None
    return value if value.startswith("/") else f"/{value}"


def resolve_serving(
    settings: ApiSettings,
    platform: Platform,
    root: str | None = None,
    host: str | None = None,
    port: int | None = None,
) -> Serving:
    """Explicit options win; then Vertex AI's variables, then Cloud Run's, then the settings
    (MLCYCLE_ROOT, MLCYCLE_HOST), then the defaults.

    AIP_STORAGE_URI is taken as the registry root: the model is still the one its champion
    pointer names, verified as always.
    """
    from mlcycle import storage

    platform_port = platform.aip_http_port or platform.port
    return Serving(
        # --root and AIP_STORAGE_URI enter here; MLCYCLE_ROOT came in normalised.
        root=storage.normalize(root or platform.aip_storage_uri or settings.root),
        host=host or settings.host or ("0.0.0.0" if platform_port else LOCAL_HOST),
        port=port or platform_port or DEFAULT_PORT,
        health_route=_route(platform.aip_health_route),
        predict_route=_route(platform.aip_predict_route),
    )


def guarded_protocol(header_seconds: float, body_seconds: float) -> type:
    """uvicorn's HTTP protocol with deadlines for slow clients, which uvicorn lacks: a
    request's headers must arrive within `header_seconds` of the connection opening (or of the
    previous response), and its body within `body_seconds` of the headers. A client that
    misses one gets a JSON 408 and the connection is closed, so trickled headers or bodies
    cannot hold connections open forever."""
    import asyncio

    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from mlcycle.api.request_id import request_id

    class GuardedProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self, seconds: float, what: str) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expire, what, seconds)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self, what: str, seconds: float) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if self._between_answers():
                # The headers parsed so far (all of them for a late body): the parser hands
                # one on only once the next begins, so a half-received id is never taken.
                rid = request_id(self.headers or [])
                message = f"the request's {what} took over {seconds:g} s"
                self.transport.write(_timeout_response(message, rid))
            self.transport.close()

        def _between_answers(self) -> bool:
            # Whether a 408 can be written without cutting into an answer: none has begun for
            # this request, or the last one on a kept-alive connection is complete (its cycle
            # stays until the next request's headers are in), and none is queued behind it.
            cycle = self.cycle
            idle = cycle is None or cycle.response_complete or not cycle.response_started
            return idle and not self.pipeline

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(header_seconds, "headers")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_headers_complete(self) -> None:
            self._arm(body_seconds, "body")
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.pipeline:
                self._arm(header_seconds, "headers")

    return GuardedProtocol


def _timeout_response(message: str, rid: str) -> bytes:
    import json

    from mlcycle.api.app import SECURITY_HEADERS  # as on every other answer

    body = json.dumps({"detail": message, "errors": []}).encode()
    security = "".join(f"{k.decode()}: {v.decode()}\r\n" for k, v in SECURITY_HEADERS)
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nx-request-id: {rid}\r\n{security}"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body
