"""`mlcycle watch --on-drift` as a user runs it: a process on a root whose champion was
trained by the real steps, a prediction log in the API's layout. Drift past psi_alert starts
a retraining run, once per report: the same logged predictions do not start another, new
drifted predictions do."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from api.training import fast_config, train_and_register
from drift_support import log_features, shifted
from mlcycle.model.registry import Registry

REPO = Path(__file__).resolve().parents[2]
RUN_BOUND = 180.0  # one pipeline run on a loaded 2-core machine

pytestmark = pytest.mark.slow


class Lines:
    """A process's output, line by line, read on a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.seen, self.lines = proc, [], queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next(self, timeout: float) -> str | None:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            pytest.fail("the watcher exited:\n" + "\n".join(self.seen))
        self.seen.append(line)
        return line

    def wait_for(self, word: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.next(0.2)
            if line is not None and word in line:
                return line
        pytest.fail(f"no {word!r} within {timeout:.0f}s:\n" + "\n".join(self.seen))


def test_drift_retrains_once_per_report(tmp_path: Path) -> None:
    root, work = tmp_path / "root", tmp_path / "work"
    first = train_and_register(str(root), work, fast_config())
    assert first["promoted"], first
    champion = first["version"]
    train = pd.read_parquet(work / "split" / "train_set")
    log_features(root, champion, shifted(train, "mean_concavity", 300))

    raw = fast_config().model_dump(mode="json")
    raw["gate"]["thresholds"] = {"roc_auc": 1.01}  # never promoted: the champion stays put
    config = tmp_path / "never.yaml"
    config.write_text(yaml.safe_dump(raw))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCYCLE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlcycle.cli", "watch", "--root", str(root), "--config",
         str(config), "--interval", "0.5", "--on-drift", "--drift-interval", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={**env, "COLUMNS": "250", "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    out = Lines(proc)
    try:
        line = out.wait_for(" drift ", timeout=60)
        assert "alert" in line and "mean_concavity" in line, line
        line = out.wait_for(" run ", timeout=30)
        assert "drift past psi_alert" in line, line
        out.wait_for("not promoted", timeout=RUN_BOUND)  # the same data: the same model, kept
        assert Registry(str(root)).champion_version() == champion
        claimed = json.loads((root / "monitoring/drift/retrained.json").read_text())
        latest = json.loads((root / "monitoring/drift/latest.json").read_text())
        assert claimed["id"] == latest["id"]

        # The same predictions: checked again (the same report), no second run
        mark = len(out.seen)
        for _ in range(3):
            line = out.wait_for(" drift ", timeout=30)
            assert "alert" in line, line
        assert not [s for s in out.seen[mark:] if " run " in s], out.seen[mark:]

        # New drifted predictions: a new report, retrained for too
        log_features(root, champion, shifted(train, "mean_concavity", 300, seed=9))
        line = out.wait_for(" run ", timeout=30)
        assert "drift past psi_alert" in line and latest["id"] not in line, line
        out.wait_for("not promoted", timeout=RUN_BOUND)

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
