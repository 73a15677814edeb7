"""Slow clients cannot hold connections open: headers or a body trickled byte by byte get a
408 and a closed connection within the deadlines (`mlcycle serve`'s protocol, on a real
server on 127.0.0.1, talked to through a raw socket)."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlcycle.api import create_app
from mlcycle.api.serving import guarded_protocol
from support import LiveServer

from .conftest import api_settings, serving_for

DEADLINE = 1.0  # seconds, for headers and for bodies
PATIENCE = 4.0  # how long a test waits for the server to close
# The server's clock starts at its accept, the test's at its connect; the event loop may also
# run a timer a little early. Closing within this much before the deadline is not "too early".
SLACK = 0.1


@pytest.fixture
def guarded(root: Path) -> Iterator[LiveServer]:
    app = create_app(api_settings(), serving_for(root), poll=False)
    with LiveServer(app, http=guarded_protocol(DEADLINE, DEADLINE)) as server:
        yield server


def trickle(port: int, start: bytes, then: bytes, after: bytes = b"") -> tuple[float, bytes]:
    """Send `start`, then `then` one byte every 50 ms; (seconds until the server closed, what
    it answered). Fails if the server is still listening after PATIENCE seconds. With
    `after`, that whole request is sent and answered first, on the same connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as sock:
        if after:
            sock.sendall(after)
            assert read_answer(sock).startswith(b"HTTP/1.1 200 ")
        sock.settimeout(0.05)
        began, answer = time.monotonic(), b""
        sock.sendall(start)
        for byte in then:
            assert time.monotonic() - began < PATIENCE, "the server is still waiting"
            try:
                sock.sendall(bytes([byte]))
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            answer += chunk
            if not chunk:
                break
        return time.monotonic() - began, answer


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer (headers and a content-length body) read from `sock`."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    length = int(head_of(answer)["content-length"])
    while len(answer.split(b"\r\n\r\n", 1)[1]) < length:
        answer += sock.recv(4096)
    return answer


def head_of(answer: bytes) -> dict[str, str]:
    """A raw answer's headers, by lower-case name."""
    lines = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}


def test_headers_sent_byte_by_byte_get_408_and_the_connection_closed(
    guarded: LiveServer,
) -> None:
    start = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nx-request-id: slow-client-7\r\n"
    seconds, answer = trickle(guarded.port, start, b"X-Slow: " + b"a" * 1000)
    assert DEADLINE - SLACK <= seconds < DEADLINE + 2
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["detail"].startswith("the request's headers")
    assert head_of(answer)["x-request-id"] == "slow-client-7"  # the id it had sent, as always
    assert head_of(answer)["x-content-type-options"] == "nosniff"  # and the security headers


def test_a_body_sent_byte_by_byte_gets_408_and_the_connection_closed(
    guarded: LiveServer,
) -> None:
    head = (
        b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: text/csv\r\n"
        b"x-request-id: not a safe id\r\ncontent-length: 100000\r\n\r\n"
    )
    seconds, answer = trickle(guarded.port, head, b"mean_radius," * 1000)
    assert DEADLINE - SLACK <= seconds < DEADLINE + 2
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert re.fullmatch("[0-9a-f]{32}", head_of(answer)["x-request-id"])  # a new one, as always


def test_prompt_clients_are_served_and_kept_alive_past_the_deadline(
    guarded: LiveServer,
) -> None:
    with httpx.Client(base_url=guarded.url) as http:
        example = http.get("/v1/schema").json()["examples"]["benign"][0]
        for _ in range(3):  # one connection, longer in all than the deadline
            assert http.post("/v1/predict", json={"instances": [example]}).status_code == 200
            time.sleep(DEADLINE / 2)
        assert http.get("/healthz").status_code == 200


def test_a_second_request_trickled_on_a_kept_alive_connection_gets_its_408_too(
    guarded: LiveServer,
) -> None:
    # The first request's finished answer must not stop the second's 408.
    first = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    start = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nx-request-id: second-on-keepalive\r\n"
    seconds, answer = trickle(guarded.port, start, b"X-Slow: " + b"a" * 1000, after=first)
    assert DEADLINE - SLACK <= seconds < DEADLINE + 2
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert head_of(answer)["x-request-id"] == "second-on-keepalive"
