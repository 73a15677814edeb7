from pathlib import Path

import joblib
import pytest
from sklearn.dummy import DummyClassifier

from mlcycle import storage
from mlcycle.model.registry import Registry, RegistryError


def _model_bytes(tmp_path: Path) -> bytes:
    model = DummyClassifier().fit([[0], [1]], ["a", "b"])
    joblib.dump(model, tmp_path / "m.joblib")
    return (tmp_path / "m.joblib").read_bytes()


# The fields a version needs beside its id, time and model file (Registry.new_version adds them).
META = {
    "metrics": {"roc_auc": 0.5},
    "gate": {"decision": "rejected"},
    "lineage": {},
    "schema": {"label": "y", "classes": ["a", "b"], "features": [{"name": "x", "type": "numeric"}]},
}


def test_register_then_promote(tmp_path: Path) -> None:
    registry = Registry(str(tmp_path))
    assert registry.versions() == [] and registry.champion() is None
    meta = registry.register({"model.joblib": _model_bytes(tmp_path), "x.png": b"png"}, META)
    assert [m.version for m in registry.versions()] == [meta.version]
    assert registry.champion_version() is None  # registering never promotes
    registry.promote(meta.version, ["because"])
    assert registry.champion().version == meta.version
    assert registry.champion_pointer().sha256 == meta.model.sha256
    assert registry.read_artifact(meta.version, "x.png") == b"png"
    assert list(registry.load_model(meta.version).classes_) == ["a", "b"]


def test_tampered_model_is_refused(tmp_path: Path) -> None:
    registry = Registry(str(tmp_path))
    meta = registry.register({"model.joblib": _model_bytes(tmp_path)}, META)
    storage.write_bytes(registry.version_uri(meta.version, "model.joblib"), b"evil")
    with pytest.raises(RegistryError, match="sha256"):
        registry.load_model(meta.version)


def test_failed_registration_leaves_no_version(tmp_path: Path, monkeypatch) -> None:
    registry = Registry(str(tmp_path))
    real = storage.write_bytes

    def flaky(uri: str, data: bytes) -> None:
        if uri.endswith("roc.png"):
            raise OSError("network down")
        real(uri, data)

    monkeypatch.setattr(storage, "write_bytes", flaky)
    with pytest.raises(OSError, match="network down"):
        registry.register({"model.joblib": _model_bytes(tmp_path), "roc.png": b"x"}, META)
    monkeypatch.undo()
    assert registry.versions() == []
    assert storage.list_files(registry.versions_uri) == []


def test_folder_without_metadata_is_not_a_version(tmp_path: Path) -> None:
    registry = Registry(str(tmp_path))
    storage.write_bytes(registry.version_uri("20990101-000000-abcdef", "model.joblib"), b"x")
    assert registry.versions() == []
    with pytest.raises(RegistryError, match="no model version"):
        registry.get("20990101-000000-abcdef")


def test_find_by_model(tmp_path: Path) -> None:
    registry = Registry(str(tmp_path))
    meta = registry.register({"model.joblib": _model_bytes(tmp_path)}, META)
    assert registry.find_by_model(meta.model.sha256).version == meta.version
    assert registry.find_by_model("0" * 64) is None
