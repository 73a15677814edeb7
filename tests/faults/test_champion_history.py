"""The champion's history through the real CLI and API, on a folder and on a bucket: every move
recorded, a kill -9 between the history entry and the pointer leaves them agreeing, and of two
moves at once exactly one wins.

A killed or racing move runs in a real child process: `mlcycle` itself, with one registry
function replaced before the CLI starts (so the kill lands exactly between the two writes).
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from faultkit import META, as_text, invoke, model_bytes, wait_for

from mlcycle import storage
from mlcycle.api import create_app
from mlcycle.api.serving import Serving
from mlcycle.api.settings import ApiSettings
from mlcycle.model.registry import Registry

# Versions the API can serve: the stand-in models predict classes a and b.
SERVABLE = {**META, "schema": {**META["schema"], "classes": ["a", "b"]}}
REPO = Path(__file__).resolve().parents[2]

# `mlcycle ARGS...` with the pointer write replaced by a stall: the history entry is written,
# the pointer is not, and the test kills the process with SIGKILL there.
STALL_BEFORE_POINTER = """
import pathlib, sys, time
from mlcycle.model.registry import Registry

marker = pathlib.Path(sys.argv.pop(1))

def stall(self, pointer, generation):
    marker.write_text(pointer.move.name)
    time.sleep(300)

Registry._write_pointer = stall
from mlcycle.cli import app
app(sys.argv[1:], prog_name="mlcycle")
"""

# `mlcycle ARGS...` that, once it has read the champion it expects, waits for a start file:
# two of them then move at once from the same champion.
WAIT_TO_MOVE = """
import os, pathlib, sys, time
from mlcycle.model.registry import Registry

start = pathlib.Path(sys.argv.pop(1))
real = Registry.promote

def promote(self, *args, **kwargs):
    (start.parent / f"ready-{os.getpid()}").touch()
    while not start.exists():
        time.sleep(0.005)
    return real(self, *args, **kwargs)

Registry.promote = promote
from mlcycle.cli import app
app(sys.argv[1:], prog_name="mlcycle")
"""


def child(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture(params=["folder", "bucket"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "folder":
        return str(tmp_path / "root")
    bucket = request.getfixturevalue("gcs_emulator")
    return f"gs://{bucket}/{tmp_path.name}"


def servable_versions(root: str, count: int) -> list[str]:
    registry = Registry(root)
    strategies = ["prior", "uniform", "stratified"][:count]
    return [
        registry.register({"model.joblib": model_bytes(s)}, SERVABLE).version for s in strategies
    ]


def shown(root: str) -> dict:
    """What `mlcycle champion --json` shows."""
    code, out = invoke("champion", "--json", "--root", root)
    assert code == 0, out
    return json.loads(out)


def served(root: str) -> tuple[dict, dict]:
    """What a fresh API on `root` says: /v1/model and /v1/model/history."""
    settings = ApiSettings(poll_seconds=3600)
    serving = Serving(root=root, host="127.0.0.1", port=0, health_route=None, predict_route=None)
    with TestClient(create_app(settings, serving)) as client:
        model = client.get("/v1/model")
        history = client.get("/v1/model/history", params={"limit": 100})
        assert model.status_code == 200 and history.status_code == 200, model.text
        return model.json(), history.json()


def entry_files(root: str) -> list[str]:
    return [info.name for info in storage.list_files(Registry(root).history_uri)]


def test_every_move_is_recorded_newest_first_and_the_api_says_so(root: str) -> None:
    a, b = servable_versions(root, 2)
    assert invoke("promote", a, "--reason", "the first", "--root", root)[0] == 0
    assert invoke("promote", b, "--reason", "better", "--reason", "asked", "--root", root)[0] == 0
    code, out = invoke("rollback", "--reason", "b misbehaves", "--root", root)
    assert code == 0, out
    assert f"champion: {a} (was {b}; rollback)" in as_text(out)

    state = shown(root)
    moves = state["history"]
    assert [m["kind"] for m in moves] == ["rollback", "promote", "promote"]
    assert [(m["version"], m["previous"]) for m in moves] == [(a, b), (b, a), (a, None)]
    assert [m["reasons"] for m in moves] == [["b misbehaves"], ["better", "asked"], ["the first"]]
    assert [m["seq"] for m in moves] == [3, 2, 1]
    assert all(m["by"]["tool"] == "cli" and m["by"]["user"] == getpass.getuser() for m in moves)
    registry = Registry(root)
    assert all(m["sha256"] == registry.get(m["version"]).model.sha256 for m in moves)
    assert state["champion"]["version"] == a and state["champion"]["move"] == moves[0]
    assert len(entry_files(root)) == 3

    model, history = served(root)
    assert model["version"] == a
    assert model["champion"] == moves[0]
    assert history["moves"] == moves and history["model_version"] == a
    # Rollback again: back to the one the champion replaced, recorded as such.
    assert invoke("rollback", "--root", root)[0] == 0
    assert shown(root)["history"][0]["version"] == b


def test_kill_9_between_the_history_entry_and_the_pointer(root: str, tmp_path: Path) -> None:
    a, b, c = servable_versions(root, 3)
    assert invoke("promote", a, "--root", root)[0] == 0
    marker = tmp_path / "entry-written"
    proc = child(STALL_BEFORE_POINTER, str(marker), "promote", b, "--root", root)
    try:
        assert wait_for(marker.exists, 60), proc.communicate(timeout=5)
        os.kill(proc.pid, signal.SIGKILL)  # after the entry, before the pointer
    finally:
        proc.kill()
        proc.wait(10)
    orphan = marker.read_text()
    assert f"{orphan}.json" in entry_files(root)  # the killed move's entry is there...

    state = shown(root)  # ...and is no part of the history: the champion never moved
    assert state["champion"]["version"] == a
    assert [m["version"] for m in state["history"]] == [a] and state["problem"] is None
    model, history = served(root)
    assert model["version"] == a and model["champion"] == state["history"][0]
    assert history["moves"] == state["history"]

    # The next move takes the killed one's place in the sequence and removes its entry.
    assert invoke("promote", c, "--root", root)[0] == 0
    state = shown(root)
    assert [(m["seq"], m["version"], m["previous"]) for m in state["history"]] == [
        (2, c, a),
        (1, a, None),
    ]
    assert f"{orphan}.json" not in entry_files(root) and len(entry_files(root)) == 2
    model, history = served(root)
    assert model["version"] == c and history["moves"] == state["history"]


@pytest.fixture(params=["folder", "bucket"])
def race_root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A root for racing moves: a folder, or a bucket on a server that enforces GCS's
    preconditions (the plain emulator ignores them)."""
    if request.param == "folder":
        return str(tmp_path / "root")
    return f"gs://{request.getfixturevalue('enforcing_gcs')}/root"


def test_two_moves_at_once_one_wins_the_other_is_told(race_root: str, tmp_path: Path) -> None:
    """A promote and a rollback, both from champion b: one moves it, the other exits 3."""
    root = race_root
    a, b, c = servable_versions(root, 3)
    for version in (a, b):
        assert invoke("promote", version, "--root", root)[0] == 0
    start = tmp_path / "start"
    procs = {  # the version each would make champion
        c: child(WAIT_TO_MOVE, str(start), "promote", c, "--root", root),
        a: child(WAIT_TO_MOVE, str(start), "rollback", "--root", root),
    }
    try:
        both_ready = lambda: len(list(tmp_path.glob("ready-*"))) == 2  # noqa: E731
        assert wait_for(both_ready, 60), [p.poll() for p in procs.values()]
        start.touch()
        outputs = {v: p.communicate(timeout=60) for v, p in procs.items()}
        results = {v: (procs[v].returncode, *out) for v, out in outputs.items()}
    finally:
        for p in procs.values():
            p.kill()
    assert sorted(code for code, _, _ in results.values()) == [0, 3], results
    [winner] = [v for v, (code, _, _) in results.items() if code == 0]
    [loser] = [v for v, (code, _, _) in results.items() if code == 3]
    message = as_text(results[loser][2])
    assert f"not moved: {winner} became the champion while this command ran" in message
    assert f"(it expected {b})" in message and "Nothing changed" in message

    state = shown(root)
    assert state["champion"]["version"] == winner
    assert [(m["version"], m["previous"]) for m in state["history"]] == [
        (winner, b),
        (b, a),
        (a, None),
    ]
    assert state["history"][0]["kind"] == ("promote" if winner == c else "rollback")
    assert len(entry_files(root)) == 3  # the loser's entry was never committed, nor kept
    model, history = served(root)
    assert model["version"] == winner and history["moves"] == state["history"]


def test_a_repair_is_recorded_and_continues_the_history(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    a, b = servable_versions(root, 2)
    assert invoke("promote", a, "--reason", "first", "--root", root)[0] == 0
    Path(Registry(root).pointer_uri).write_text('{"version": "2026')  # truncated by hand
    code, out = invoke("promote", b, "--reason", "pointer was broken", "--root", root)
    assert code == 0, out
    assert "is not valid JSON" in as_text(out) and f"champion: {b}" in as_text(out)
    moves = shown(root)["history"]
    assert [(m["kind"], m["version"], m["previous"]) for m in moves] == [
        ("repair", b, a),
        ("promote", a, None),
    ]
    assert moves[0]["reasons"] == ["pointer was broken"]
