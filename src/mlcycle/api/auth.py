"""The admin token: POST /v1/model/reload needs it; guesses are limited per client."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from mlcycle.api.requests import RequestError, problem, refusal
from mlcycle.api.settings import ApiSettings

MAX_FAILURES = 10  # wrong tokens per client per window, then 429 until the window passes
WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000  # clients remembered; the oldest are forgotten first


class FailedAttempts:
    """Failed admin tokens per client in a moving window. A few lines over a dict: the one
    rule needed here does not justify a rate-limiting dependency."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> float:
        """0 if `client` may try a token now, else how long until it may."""
        with self._lock:
            times = self._recent(client)
            if len(times) < MAX_FAILURES:
                return 0.0
            return max(times[0] + WINDOW_SECONDS - self.clock(), 0.1)

    def record(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(self.clock())
            while len(self._seen) > MAX_CLIENTS:
                del self._seen[next(iter(self._seen))]

    def _recent(self, client: str) -> deque[float]:
        times = self._seen.setdefault(client, deque())
        while times and times[0] <= self.clock() - WINDOW_SECONDS:
            times.popleft()
        return times


async def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


async def require_admin(
    request: Request,
    settings: Annotated[ApiSettings, Depends(get_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if not token:
        raise refusal(
            403,
            "reload is disabled: no MLCYCLE_ADMIN_TOKEN is configured",
            "Authorization",
            "disabled",
        )
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise RequestError(
            401,
            "send Authorization: Bearer <MLCYCLE_ADMIN_TOKEN>",
            (problem(None, "Authorization", "missing", "a bearer token is required"),),
        )
    failures: FailedAttempts = request.app.state.admin_failures
    client = request.client.host if request.client else "unknown"
    if wait := failures.wait_seconds(client):
        message = f"too many wrong admin tokens from {client}: try again in {wait:.0f} s"
        raise RequestError(
            429,
            message,
            (problem(None, "Authorization", "rate_limited", message),),
            headers={"retry-after": str(int(wait + 0.999))},
        )
    if not secrets.compare_digest(given.encode(), token.encode()):
        failures.record(client)
        raise refusal(403, "wrong admin token", "Authorization", "forbidden")
