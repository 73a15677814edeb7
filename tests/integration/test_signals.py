"""Long-running commands stop on Ctrl-C even when started as a background job.

A shell starts background jobs with SIGINT ignored, and Python then installs no handler:
without care, `mlcycle watch &` (or a CI runner doing the same) could not be interrupted.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_watch_stops_on_sigint_even_if_started_with_it_ignored(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlcycle.cli",
            "watch",
            "--root",
            str(tmp_path),
            "--interval",
            "0.2",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as `cmd &` does
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "watching" not in proc.stdout.readline():
            pass
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert "stopped" in proc.stdout.read()
    finally:
        proc.kill()
