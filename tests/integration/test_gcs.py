"""The storage layer, the registry and the whole pipeline against a GCS emulator."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from mlcycle import storage
from mlcycle.model.registry import Registry
from mlcycle.pipeline.local import run_pipeline
from support import roc_auc_on


@pytest.fixture
def prefix(gcs_emulator: str) -> str:
    return f"gs://{gcs_emulator}/{uuid.uuid4().hex[:8]}"


def test_write_read_list_remove(prefix: str) -> None:
    storage.write_json(storage.join(prefix, "a/x.json"), {"a": 1})
    storage.write_text(storage.join(prefix, "a/b/y.csv"), "h\n1\n")
    storage.write_text(storage.join(prefix, "a/.hidden"), "x")
    assert storage.read_json(storage.join(prefix, "a/x.json")) == {"a": 1}
    files = storage.list_files(storage.join(prefix, "a"))
    assert [(f.name, f.size) for f in files] == [("b/y.csv", 4), ("x.json", 13)]
    assert all(f.modified for f in files)
    assert storage.exists(storage.join(prefix, "a/x.json"))
    assert not storage.exists(storage.join(prefix, "nope"))
    storage.remove(storage.join(prefix, "a/b"))
    assert [f.name for f in storage.list_files(storage.join(prefix, "a"))] == ["x.json"]
    assert storage.list_files(storage.join(prefix, "empty")) == []


def test_overwrite_replaces_whole_object(prefix: str) -> None:
    uri = storage.join(prefix, "pointer.json")
    storage.write_json(uri, {"version": "a" * 1000})
    storage.write_json(uri, {"version": "b"})
    assert storage.read_json(uri) == {"version": "b"}


def test_listing_sees_changes_made_by_others(prefix: str) -> None:
    folder = storage.join(prefix, "incoming")
    storage.write_text(storage.join(folder, "a.csv"), "x\n1\n")
    assert len(storage.list_files(folder)) == 1
    # Another process (an upload) adds a file: a fresh listing must show it.
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage as gcs

    client = gcs.Client(project="test", credentials=AnonymousCredentials())
    bucket, _, key = folder.removeprefix("gs://").partition("/")
    client.bucket(bucket).blob(f"{key}/b.csv").upload_from_string("x\n2\n")
    assert [f.name for f in storage.list_files(folder)] == ["a.csv", "b.csv"]


@pytest.mark.slow
def test_pipeline_on_a_bucket_root(prefix: str, config, tmp_path, bc_frame) -> None:
    """Data in the bucket, registry in the bucket: the cloud layout, run locally."""
    result = run_pipeline(prefix, config, pipeline_root=str(tmp_path / "pipeline"))
    assert result.ok, Path(result.log_path).read_text()[-3000:]
    assert result.seeded == storage.join(prefix, "data/incoming/sklearn_breast_cancer.csv")
    registry = Registry(prefix)
    champion = registry.champion()
    assert champion.metrics["roc_auc"] >= 0.99
    assert roc_auc_on(registry.load_model(champion.version), bc_frame) > 0.99
    assert storage.exists(registry.version_uri(champion.version, "roc_curve.png"))


def test_settle_lets_only_the_newest_upload_in_a_bucket_retrain(prefix: str) -> None:
    from mlcycle.trigger import settle

    incoming = storage.join(prefix, "data", "incoming")
    uploads = [storage.join(incoming, name) for name in ("b.csv", "a.csv", "c[1].csv")]
    for uri in uploads:  # each a little later than the one before
        storage.write_text(uri, "x\n1\n")
        time.sleep(0.05)
    decisions = [settle(uri, prefix, 0) for uri in uploads]
    assert [d.retrain for d in decisions] == [False, False, True]
    assert {d.newer for d in decisions[:2]} == {uploads[-1]}
    # The listing carries each object's generation: an event for an older one steps aside.
    (info,) = [f for f in storage.list_files(incoming) if f.name == "c[1].csv"]
    assert info.generation
    older = settle(uploads[-1], prefix, 0, generation=str(int(info.generation) - 1))
    assert not older.retrain and "overwritten" in older.reason


def test_a_rejected_file_is_moved_aside_in_the_bucket(prefix: str) -> None:
    from mlcycle.data.quarantine import quarantine, rejection_advice
    from mlcycle.data.report import DataReport, Issue

    incoming = storage.join(prefix, "data", "incoming")
    storage.write_text(storage.join(incoming, "good.csv"), "a,y\n1,p\n")
    storage.write_bytes(storage.join(incoming, "bad.csv"), b"")
    report = DataReport("ingest", errors=[Issue("unreadable_file", "empty", file="bad.csv")])
    [move] = quarantine(prefix, report)
    assert move["to"] == storage.join(prefix, "data", "rejected", "bad.csv")
    assert [f.name for f in storage.list_files(incoming)] == ["good.csv"]
    rejected = storage.list_files(storage.join(prefix, "data", "rejected"))
    assert [f.name for f in rejected] == ["bad.csv", "bad.csv.report.json"]
    assert "gcloud storage mv" in rejection_advice(report, prefix, None)
