"""What runs leave behind: old pipeline artifacts are pruned, a killed registration's folder
is removed by the next run, and neither touches what a registered version needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from faultkit import META, model_bytes

from mlcycle.model.registry import CLAIM_FILE, Registry
from mlcycle.pipeline.retention import prune_runs

RUN = "mlcycle-training-2026-12-0{}-00-00-00-000000"


def test_only_the_newest_runs_and_the_registered_versions_runs_are_kept(
    registry: Registry, tmp_path: Path
) -> None:
    pipeline = Path(registry.root) / "pipeline"
    for day in range(1, 7):
        (pipeline / RUN.format(day) / "ingest").mkdir(parents=True)
        (pipeline / RUN.format(day) / "ingest/snapshot").write_bytes(b"rows")
        (pipeline / f"mlcycle-training-2026120{day}-000000.log").write_text("log")
    (pipeline / ".kfp_cache").mkdir()
    snapshot = pipeline / RUN.format(2) / "ingest/snapshot"
    registry.register(
        {"model.joblib": model_bytes()},
        {**META, "lineage": {**META["lineage"], "snapshot_uri": str(snapshot)}},
    )
    deleted = prune_runs(pipeline, 3, registry)
    left = sorted(p.name for p in pipeline.iterdir())
    assert left == sorted(
        [".kfp_cache", RUN.format(2), RUN.format(4), RUN.format(5), RUN.format(6)]
        + [f"mlcycle-training-2026120{day}-000000.log" for day in (4, 5, 6)]
    )
    assert len(deleted) == 5 and snapshot.read_bytes() == b"rows"


def _interrupted_registration(registry: Registry, pid: int) -> Path:
    """A version folder as a registration killed between its files and metadata.json leaves."""
    folder = Path(registry.version_uri("20260101-000000-dead00"))
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(model_bytes())
    claim = {"host": os.uname().nodename, "pid": pid, "started_at": 0}
    (folder / CLAIM_FILE).write_text(json.dumps(claim))
    return folder


def test_a_killed_registration_is_removed_by_the_next_run(registry: Registry, new_version) -> None:
    version = new_version()
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    left = _interrupted_registration(registry, dead.pid)
    assert registry.remove_incomplete() == [left.name]
    assert not left.exists()
    assert [m.version for m in registry.versions()] == [version]


def test_a_registration_still_being_written_is_left_alone(registry: Registry) -> None:
    writing = _interrupted_registration(registry, os.getpid())  # its writer is alive
    assert registry.remove_incomplete() == []
    assert writing.is_dir()
    (writing / CLAIM_FILE).write_text(json.dumps({"host": "elsewhere", "started_at": 0}))
    assert registry.remove_incomplete() == [writing.name]  # another host's, an hour old


def test_a_completed_registration_leaves_no_claim(registry: Registry, new_version) -> None:
    version = new_version()
    assert not Path(registry.version_uri(version, CLAIM_FILE)).exists()
    assert registry.remove_incomplete() == []
