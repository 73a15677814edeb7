"""Every answer's `x-request-id`: the client's, when it is a safe short token, else a new one.

The id names a prediction in the log (POST /v1/feedback refers to it), so it goes into files
and logs: a client's is honoured only when it is 1 to 128 characters of letters, digits and
`-_.:+/=` (UUIDs, base64 and most tracing ids); anything else is replaced by a uuid4 hex.
"""

from __future__ import annotations

import re
import uuid

HEADER = b"x-request-id"
MAX_LENGTH = 128
SAFE = re.compile(rb"[A-Za-z0-9._:+/=-]{1,%d}" % MAX_LENGTH)


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The request's id: its own `x-request-id` if safe, else a fresh uuid4 hex."""
    for name, value in headers:
        if name == HEADER:
            if SAFE.fullmatch(value):
                return value.decode("ascii")
            break
    return uuid.uuid4().hex


def is_safe(value: str) -> bool:
    """Whether `value` could be an id the API kept or made (for checks on ids sent back)."""
    return SAFE.fullmatch(value.encode("utf-8", "replace")) is not None
