"""The champion pointer's compare-and-swap on GCS: a write with an ifGenerationMatch precondition.

The GCS emulator (gcp-storage-emulator) ignores preconditions (checked: it overwrote an
object at a stale generation), so the precondition is tested twice more: against a stand-in
blob (what the call sends) and against fake-gcs-server, which enforces it as GCS does.
"""

from __future__ import annotations

import pytest
from faultkit import META, model_bytes
from google.api_core.exceptions import PreconditionFailed

from mlcycle import storage
from mlcycle.model.registry import ChampionChangedError, Registry


class GcsBlob:
    """Enforces ifGenerationMatch the way GCS does (0: only if the object does not exist)."""

    def __init__(self, generation: int) -> None:
        self.generation, self.calls = generation, []

    def upload_from_string(self, data: bytes, content_type: str, if_generation_match: int) -> None:
        self.calls.append(if_generation_match)
        if if_generation_match != self.generation:
            raise PreconditionFailed("conditionNotMet")
        self.generation += 1


def test_a_write_at_a_stale_generation_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    blob = GcsBlob(generation=7)
    monkeypatch.setattr(storage, "_gcs_blob", lambda uri: blob)
    with pytest.raises(storage.PreconditionFailedError, match="changed since generation 6"):
        storage.write_bytes_if_generation("gs://b/models/champion.json", b"{}", "6")
    storage.write_bytes_if_generation("gs://b/models/champion.json", b"{}", "7")
    assert blob.calls == [6, 7]


def test_promote_on_a_bucket_compares_then_writes_conditionally(
    gcs_emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(f"gs://{gcs_emulator}/cas-test")
    a = registry.register({"model.joblib": model_bytes("prior")}, META).version
    b = registry.register({"model.joblib": model_bytes("uniform")}, META).version
    registry.promote(a, expected=None)  # a real conditional write (generation 0: new object)
    assert registry.champion_version() == a
    with pytest.raises(ChampionChangedError):  # the compare, against the emulator
        registry.promote(b, expected=None)
    _, generation = storage.read_with_generation(registry.pointer_uri)
    assert int(generation) > 0

    # Another writer switches the pointer between this read and this write: GCS refuses it.
    # (The stand-in takes the pointer's write; the history entry before it goes to the emulator.)
    blob, real_blob = GcsBlob(generation=int(generation) + 1), storage._gcs_blob
    monkeypatch.setattr(
        storage, "_gcs_blob", lambda uri: blob if uri == registry.pointer_uri else real_blob(uri)
    )
    with pytest.raises(ChampionChangedError, match=f"not promoted: {b}"):
        registry.promote(b, expected=a)
    assert blob.calls == [int(generation)]
    assert registry.champion_version() == a
    # The losing move's entry is gone; the history is the one move that happened.
    assert [m.version for m in registry.history()[0]] == [a]
    assert len(storage.list_files(registry.history_uri)) == 1


def test_a_bucket_s_abandoned_registration_is_removed(gcs_emulator: str) -> None:
    registry = Registry(f"gs://{gcs_emulator}/leftover-test")
    done = registry.register({"model.joblib": model_bytes()}, META).version
    left = registry.version_uri("20260101-000000-dead00")
    storage.write_bytes(storage.join(left, "model.joblib"), b"half")
    claim = {"host": "a-vertex-worker", "pid": 1, "started_at": 0}  # another machine's, old
    storage.write_json(storage.join(left, ".registering.json"), claim)
    assert registry.remove_incomplete() == ["20260101-000000-dead00"]
    assert not storage.exists(storage.join(left, "model.joblib"))
    assert [m.version for m in registry.versions()] == [done]


def test_a_stale_generation_is_refused_by_a_server_that_enforces_it(enforcing_gcs: str) -> None:
    registry = Registry(f"gs://{enforcing_gcs}/root")
    a = registry.register({"model.joblib": model_bytes("prior")}, META).version
    b = registry.register({"model.joblib": model_bytes("uniform")}, META).version
    registry.promote(a, expected=None)
    _, stale = storage.read_with_generation(registry.pointer_uri)
    registry.promote(b, expected=a)  # another writer moves the pointer on
    with pytest.raises(storage.PreconditionFailedError):
        storage.write_bytes_if_generation(registry.pointer_uri, b'{"version": "x"}', stale)
    assert registry.champion_version() == b
    with pytest.raises(ChampionChangedError):
        registry.promote(a, expected=a)  # it expected a, the champion is b: refused
    assert registry.champion_version() == b
