"""How long a local run's intermediate artifacts stay under the pipeline root.

kfp.local writes one folder per run (every step's outputs) and mlcycle one log beside it.
`prune_runs` keeps the newest `keep` of each, and every run folder that holds a registered
version's snapshot (its lineage points there); the rest is deleted. A deleted run's cache
entries become cache misses (kfp.local checks that an entry's files still exist).
On a bucket, a lifecycle rule does the same job (docs/deploy.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mlcycle import storage
from mlcycle.model.registry import Registry
from mlcycle.pipeline.definition import PIPELINE_NAME


def referenced_runs(local_root: Path, registry: Registry) -> set[str]:
    """Names of the run folders under `local_root` that a registered version's lineage names."""
    names = set()
    for meta in registry.versions():
        snapshot = meta.lineage.snapshot_uri or ""
        if snapshot and storage.is_local(snapshot):
            path = Path(storage.normalize(snapshot))
            if path.is_relative_to(local_root):
                names.add(path.relative_to(local_root).parts[0])
    return names


def prune_runs(local_root: Path, keep: int, registry: Registry) -> list[Path]:
    """Delete all but the newest `keep` runs (folders and logs) and the registered versions'
    run folders; returns what was deleted."""
    local_root = local_root.resolve()
    runs = sorted(
        p for p in local_root.iterdir() if p.is_dir() and p.name.startswith(f"{PIPELINE_NAME}-")
    )
    logs = sorted(local_root.glob(f"{PIPELINE_NAME}-*.log"))
    kept = {p.name for p in runs[-keep:]} | referenced_runs(local_root, registry)
    deleted = [p for p in runs if p.name not in kept] + logs[:-keep]
    for path in deleted:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return deleted
