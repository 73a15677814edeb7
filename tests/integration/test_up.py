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
