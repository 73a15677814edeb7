"""`mlcycle up`: the API and the UI as child processes, started in order, stopped together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT = 60.0


class StackError(RuntimeError):
    """A service did not come up; the message says which and why."""


@dataclass
class Service:
    name: str
    url: str
    ready_path: str
    process: subprocess.Popen[bytes]
    port: int | None = None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind `host:port` now (SO_REUSEADDR, as uvicorn and gunicorn do:
    only a listener, not a closing connection, makes the port busy)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port_near(port: int, avoid: frozenset[int] | set[int] = frozenset()) -> int | None:
    """The first free port after `port` (for a suggestion), or None in the next 100."""
    for candidate in range(port + 1, min(port + 101, 65536)):
        if candidate not in avoid and port_is_free(candidate):
            return candidate
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(fields[9])
    return inodes


def _process_tree(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The command may hold spaces and parentheses: the fields follow the last ')'.
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


def owns_port(pid: int, port: int) -> bool | None:
    """Whether the process `pid` (or a child of it) holds the socket listening on `port`;
    None where /proc cannot tell (not Linux)."""
    if not Path("/proc/net/tcp").exists():
        return None
    inodes = _listening_inodes(port)
    for member in _process_tree(pid):
        try:
            fds = list(Path(f"/proc/{member}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = str(fd.readlink())
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return True
    return False


def start(
    name: str, args: list[str], url: str, ready_path: str, port: int | None = None
) -> Service:
    """Start `mlcycle <args>` in its own process group (so Ctrl-C reaches us first)."""
    process = subprocess.Popen([sys.executable, "-m", "mlcycle.cli", *args], start_new_session=True)
    return Service(name, url, ready_path, process, port)


def wait_ready(service: Service, timeout: float = READY_TIMEOUT) -> None:
    """Poll the service's readiness route until it answers 200 from the service's own process
    (not another server on the same port), or say why it never did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (code := service.process.poll()) is not None:
            raise StackError(
                f"{service.name} exited with status {code} before it was ready"
                + (f" (is port {service.port} in use?)" if service.port else "")
            )
        try:
            with urllib.request.urlopen(service.url + service.ready_path, timeout=2) as r:
                ours = service.port is None or owns_port(service.process.pid, service.port)
                if r.status == 200 and ours is not False:
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
