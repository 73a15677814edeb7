"""`mlcycle up` (what `make run` runs): train when there is no champion, then API and UI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from support import free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()


def _start_up(root: Path, api: int, ui: int) -> tuple[subprocess.Popen[str], str]:
    """Start `mlcycle up` and read its output until it says it is up; returns that output."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlcycle.cli",
            "up",
            "--root",
            str(root),
            "--api-port",
            str(api),
            "--ui-port",
            str(ui),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    lines: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if "mlcycle is up" in line:
            lines += [proc.stdout.readline() for _ in range(3)]
            return proc, "".join(lines)
    proc.kill()
    pytest.fail("not up in time:\n" + "".join(lines[-40:]))


def _closed(*ports: int) -> bool:
    for port in ports:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return False
    return True


def test_up_trains_then_serves_api_and_ui_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    api, ui = free_port(), free_port()
    proc, out = _start_up(tmp_path / "root", api, ui)
    try:
        assert "gate: promoted" in out  # an empty root: it trained first
        assert f"http://127.0.0.1:{ui}" in out and f"http://127.0.0.1:{api}/docs" in out
        status, page = _get(f"http://127.0.0.1:{ui}/")
        assert status == 200 and "mean_radius" in page  # the form, built from the API's schema
        assert _get(f"http://127.0.0.1:{api}/readyz")[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert _closed(api, ui)  # both children are gone with it


def test_up_serves_an_existing_champion_and_stops_on_sigterm(champion_root: Path) -> None:
    api, ui = free_port(), free_port()
    proc, out = _start_up(champion_root, api, ui)
    try:
        assert "gate:" not in out  # a champion exists: nothing is trained
        assert _get(f"http://127.0.0.1:{ui}/model")[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)  # what `docker stop` or a supervisor sends
        proc.wait(timeout=30)
    assert _closed(api, ui)


def test_up_with_a_port_taken_names_it_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy, ui = taken.getsockname()[1], free_port()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "mlcycle.cli",
                "up",
                "--root",
                str(tmp_path / "root"),
                "--api-port",
                str(busy),
                "--ui-port",
                str(ui),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1, out
    assert f"port {busy} (the API's) is in use: pick another with --api-port" in out
    assert "mlcycle is up" not in out and "gate:" not in out  # nothing trained or started
    assert not (tmp_path / "root").exists()


def test_a_port_answered_by_another_process_is_not_ours() -> None:
    """What keeps `up` from announcing a server it did not start: the listener's owner."""
    from mlcycle import stack

    port = free_port()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import socket, time; s = socket.socket(); "
            f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(60)",
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while stack.port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stack.owns_port(child.pid, port) is True
        with socket.socket() as other:
            other.bind(("127.0.0.1", 0))
            other.listen()
            assert stack.owns_port(child.pid, other.getsockname()[1]) is False
    finally:
        child.kill()
        child.wait()
