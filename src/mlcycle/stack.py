"""`mlcycle up`: the API and the UI as child processes, started in order, stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

READY_TIMEOUT = 60.0


class StackError(RuntimeError):
    """A service did not come up; the message says which and why."""


@dataclass
class Service:
    name: str
    url: str
    ready_path: str
    process: subprocess.Popen[bytes]


def start(name: str, args: list[str], url: str, ready_path: str) -> Service:
    """Start `mlcycle <args>` in its own process group (so Ctrl-C reaches us first)."""
    process = subprocess.Popen([sys.executable, "-m", "mlcycle.cli", *args], start_new_session=True)
    return Service(name, url, ready_path, process)


def wait_ready(service: Service, timeout: float = READY_TIMEOUT) -> None:
    """Poll the service's readiness route until it answers 200, or say why it never did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (code := service.process.poll()) is not None:
            raise StackError(
                f"{service.name} exited with status {code} before it was ready "
                "(is the port in use?)"
            )
        try:
            with urllib.request.urlopen(service.url + service.ready_path, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise StackError(
        f"{service.name} not ready at {service.url}{service.ready_path} after {timeout:.0f}s"
    )


def stop(services: list[Service], grace: float = 10.0) -> None:
    """SIGTERM every service (newest first), then SIGKILL what is still there after `grace`."""
    for service in reversed(services):
        if service.process.poll() is None:
            os.killpg(service.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for service in services:
        try:
            service.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()


def wait_any(services: list[Service]) -> Service:
    """Block until one service exits; returns it."""
    while True:
        for service in services:
            if service.process.poll() is not None:
                return service
        time.sleep(0.5)
