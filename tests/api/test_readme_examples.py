"""Every `curl` in the README runs as written (from the repository's folder, with the bodies
shipped in examples/) against a live API on a free port, and gets a 2xx answer."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import LiveServer

REPO = Path(__file__).resolve().parents[2]
FENCED = re.compile(r"```(?:bash|sh|shell)\n(.*?)```", re.S)
INLINE = re.compile(r"`(curl [^`]+)`")


def readme_curls() -> list[str]:
    text = (REPO / "README.md").read_text()
    commands = []
    for block in FENCED.findall(text):
        joined = block.replace("\\\n", " ")
        commands += [line.strip() for line in joined.splitlines() if line.startswith("curl ")]
    commands += INLINE.findall(text)
    return commands


def test_the_readme_has_curl_examples() -> None:
    commands = readme_curls()
    assert len(commands) >= 4, commands
    assert not any("..." in c for c in commands)  # no placeholder bodies


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
@pytest.mark.parametrize("command", readme_curls())
def test_a_readme_curl_works_as_written(command: str, live: LiveServer) -> None:
    assert "localhost:8080" in command, command
    command = command.replace("localhost:8080", f"127.0.0.1:{live.port}")
    # The README's commands, as written, plus: fail on an HTTP error and print the status.
    script = f"curl() {{ command curl --fail-with-body -w '\\n%{{http_code}}' \"$@\"; }}\n{command}"
    result = subprocess.run(
        ["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, (command, result.stdout[-500:], result.stderr[-500:])
    assert result.stdout.rstrip().splitlines()[-1].startswith("2"), result.stdout[-500:]
