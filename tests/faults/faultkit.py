"""Helpers for the fault tests: small real model versions and an in-process CLI."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
from sklearn.dummy import DummyClassifier
from typer.testing import CliRunner

from mlcycle import cli
from mlcycle.pipeline import lifeline

META = {
    "metrics": {"roc_auc": 0.5, "recall": 0.5},
    "gate": {"decision": "rejected", "promote": False, "reasons": []},
    "lineage": {"data_hash": "0" * 64},
    "model": {"candidate": "dummy"},
    "schema": {"label": "y", "classes": ["0", "1"], "features": [{"name": "x", "type": "numeric"}]},
}


def model_bytes(strategy: str = "prior") -> bytes:
    out = io.BytesIO()
    joblib.dump(DummyClassifier(strategy=strategy).fit([[0], [1]], ["a", "b"]), out)
    return out.getvalue()


def invoke(*args: str) -> tuple[int, str]:
    """Run the CLI in this process; (exit code, stdout and stderr)."""
    out = CliRunner().invoke(cli.app, list(args), env={"COLUMNS": "200"})
    if out.exception and not isinstance(out.exception, SystemExit):
        raise out.exception
    return out.exit_code, out.output


def as_text(out: Any) -> str:
    return " ".join(str(out).split())  # rich wraps long lines; compare with single spaces


# -- processes -------------------------------------------------------------------------------


def _processes(matches: Callable[[Path], bool]) -> list[int]:
    """Pids of live (not zombie) processes for which `matches(/proc/PID)` holds."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            zombie = proc.name.isdigit() and (proc / "stat").read_text().split(") ")[1][0] == "Z"
            if proc.name.isdigit() and not zombie and matches(proc):
                found.append(int(proc.name))
        except OSError:  # it ended while we looked
            continue
    return found


def steps_of(owner: int) -> list[int]:
    """Processes started for the run `owner` (they carry its pid in their environment)."""
    marker = f"{lifeline.OWNER_ENV}={owner}".encode()
    return _processes(lambda proc: marker in (proc / "environ").read_bytes().split(b"\0"))


def working_on(root: Path, cli: int) -> list[int]:
    """Processes other than `cli` whose command line names `root`: steps started cold (kfp
    passes the root in each step's arguments). Works whatever the code under test sets."""
    return _processes(
        lambda proc: int(proc.name) != cli and str(root).encode() in (proc / "cmdline").read_bytes()
    )


def descendants(pid: int) -> list[int]:
    """Live processes below `pid`: its steps however they were started (cold, or forked from
    the warm process, whose command line does not name the root)."""
    parents = {}
    for child in _processes(lambda proc: True):
        try:
            parents[child] = int(Path(f"/proc/{child}/stat").read_text().split(") ")[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        below = [child for child, parent in parents.items() if parent in frontier]
        found += below
        frontier = below
    return found


def still_running(pids: list[int]) -> list[int]:
    alive = set(_processes(lambda proc: True))
    return [pid for pid in pids if pid in alive]


def step_processes(root: Path, cli: int) -> list[int]:
    return sorted(set(working_on(root, cli)) | set(descendants(cli)))


def reads(path: Path, word: bytes) -> bool:
    """Whether `word` is one of the NUL- or newline-separated fields of `path`."""
    try:
        return word in path.read_bytes().replace(b"\n", b"\0").split(b"\0")
    except OSError:  # the process ended while we looked
        return False


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
