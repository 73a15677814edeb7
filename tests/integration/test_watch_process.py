"""`mlcycle watch` as a user runs it: a process on a root with data, real pipeline runs.

New data becomes a new registered version within the bound; a corrupt file is rejected,
the champion stays, and the watcher keeps running; Ctrl-C (SIGINT) stops it cleanly.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from mlcycle import storage
from mlcycle.data.seed import breast_cancer_frame, seed_incoming
from mlcycle.model.registry import Registry

REPO = Path(__file__).resolve().parents[2]
RUN_BOUND = 120.0  # seconds for one pipeline run on a loaded 2-core machine (~15 s idle)

pytestmark = pytest.mark.slow


@pytest.fixture
def quick_config(tmp_path: Path) -> Path:
    """The default data set with one fast candidate: the watcher, not the model, is tested."""
    raw = yaml.safe_load((REPO / "configs" / "breast_cancer.yaml").read_text())
    raw["candidates"] = [raw["candidates"][0] | {"grid": {}}]
    raw["cv_folds"] = 3
    raw["gate"]["thresholds"] = {"roc_auc": 0.9}  # so that the first version is promoted
    path = tmp_path / "quick.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


class Watcher:
    """`mlcycle watch` in a subprocess, its output read line by line on a thread."""

    def __init__(self, root: Path, config: Path, cwd: Path) -> None:
        env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        env = {k: v for k, v in env.items() if not k.startswith("MLCYCLE_")}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlcycle.cli",
                "watch",
                "--root",
                str(root),
                "--config",
                str(config),
                "--interval",
                "0.5",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, word: str, timeout: float) -> str:
        """The first new line containing `word` (fails on timeout or if the process ends)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if not self.reader.is_alive() and self.lines.empty():  # output ended
                    pytest.fail(f"no {word!r}; the watcher exited:\n" + "\n".join(self.seen))
                continue
            self.seen.append(line)
            if word in line:
                return line
        pytest.fail(f"no {word!r} within {timeout:.0f}s:\n" + "\n".join(self.seen))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def watcher(tmp_path: Path, quick_config: Path) -> Iterator[Callable[[], Watcher]]:
    started: list[Watcher] = []

    def start() -> Watcher:
        started.append(Watcher(tmp_path / "root", quick_config, tmp_path))
        return started[-1]

    yield start
    for w in started:
        w.stop()


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return False


def new_rows(seed: int, n: int = 120) -> str:
    """Rows like the real ones, measured again with small errors: genuinely new data."""
    frame = breast_cancer_frame().sample(n, random_state=seed)
    rng = np.random.default_rng(seed)
    features = frame.columns.drop(["id", "diagnosis"])
    frame[features] = frame[features] * rng.normal(1.0, 0.01, (n, len(features)))
    frame["id"] = frame["id"] + 10_000_000 * (seed + 1)
    return frame.to_csv(index=False)


def test_watch_retrains_on_new_data_survives_a_corrupt_file_and_stops_on_ctrl_c(
    tmp_path: Path, watcher: Callable[[], Watcher]
) -> None:
    root = tmp_path / "root"
    incoming = storage.join(str(root), "data", "incoming")
    seed_incoming(incoming, "sklearn_breast_cancer")  # present before the watch: not a change
    registry = Registry(str(root))
    assert registry.versions() == []

    w = watcher()
    w.wait_for("watching", timeout=30)

    # New data: within the bound, a version is registered; the first one is the champion.
    started = time.monotonic()
    storage.write_text(storage.join(incoming, "batch-2.csv"), new_rows(seed=2))
    w.wait_for("run", timeout=30)
    assert wait_until(lambda: len(registry.versions()) == 1, RUN_BOUND), "\n".join(w.seen)
    (version,) = registry.versions()
    # Trained on the new file too: 20% of 569 + 120 rows were held out, not 20% of 569.
    assert version.evaluation.test_rows == round(0.2 * (569 + 120))
    w.wait_for(f"version {version.version} is the new champion", timeout=30)
    print(f"new data -> version {version.version} in {time.monotonic() - started:.1f}s")
    champion = registry.champion_version()
    assert champion == version.version

    # A corrupt file: rejected, champion and versions unchanged, the watcher still runs.
    storage.write_bytes(storage.join(incoming, "corrupt.csv"), b"\x00\x01garbage\xff" * 100)
    w.wait_for("run", timeout=30)
    w.wait_for("rejected", timeout=RUN_BOUND)
    assert w.wait_for("corrupt.csv", timeout=10)
    # Moved aside with its report; the message ends saying how to bring it back.
    rejected = storage.join(str(root), "data", "rejected", "corrupt.csv")
    assert w.wait_for(f"corrupt.csv -> {rejected}", timeout=10)
    w.wait_for("To bring a file back", timeout=10)
    assert "corrupt.csv" not in {f.name for f in storage.list_files(incoming)}
    assert registry.champion_version() == champion
    assert len(registry.versions()) == 1
    time.sleep(1.5)  # a few more polls: still alive, and no rerun for the file moved aside
    assert w.proc.poll() is None
    assert w.lines.empty()

    # Ctrl-C: a clean stop with exit code 0.
    w.proc.send_signal(signal.SIGINT)
    assert w.proc.wait(timeout=20) == 0
    w.wait_for("stopped", timeout=5)
