"""The typed model version: old records load, and rewriting one loses nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlcycle.model.registry import Registry, RegistryError
from mlcycle.model.version import ModelVersion

OLD = Path(__file__).parents[1] / "data" / "registry-a1f9801"
OLD_VERSION = "20261202-060209-8656e5"
OLD_METADATA = OLD / "models/versions" / OLD_VERSION / "metadata.json"


@pytest.fixture
def old_registry(tmp_path: Path) -> Registry:
    shutil.copytree(OLD / "models", tmp_path / "models")
    return Registry(str(tmp_path))


def test_a_record_written_before_the_type_loads_whole() -> None:
    stored = json.loads(OLD_METADATA.read_text())
    meta = ModelVersion.model_validate(stored)
    assert meta.to_json() == stored  # every field read, none added
    assert meta.model.candidate == "logistic_regression" and meta.gate.promote
    assert meta.onnx is not None and meta.onnx.exported and meta.onnx.input_dtype == "float32"
    assert meta.lineage.git_commit and len(meta.lineage.data_hash) == 64
    types = meta.feature_schema.feature_types()
    assert len(types) == 30 and set(types.values()) == {"numeric"}
    assert list(types) == meta.feature_schema.feature_names() == meta.onnx.features
    assert meta.feature_schema.features[0].bounds.min == 0.0  # the config's non_negative rule


def test_the_registry_reads_and_serves_an_old_version(old_registry: Registry) -> None:
    champion = old_registry.champion()
    assert champion is not None and champion.version == OLD_VERSION
    assert [m.version for m in old_registry.versions()] == [OLD_VERSION]
    model = old_registry.load_model(OLD_VERSION)  # its sha256 still checks
    assert [str(c) for c in model.classes_] == champion.feature_schema.classes


def test_amending_an_old_record_keeps_its_bytes_and_unknown_fields(
    old_registry: Registry,
) -> None:
    uri = Path(old_registry.version_uri(OLD_VERSION, "metadata.json"))
    stored = json.loads(uri.read_text())
    stored["written_by_a_later_release"] = {"x": 1}  # a field this code does not know
    stored["lineage"]["runner"] = "vertex"
    uri.write_text(json.dumps(stored))
    meta = old_registry.get(OLD_VERSION)
    old_registry.amend(meta.model_copy(update={"gate": meta.gate.refused("by a test")}), {})
    rewritten = json.loads(uri.read_text())
    assert rewritten["written_by_a_later_release"] == {"x": 1}
    assert rewritten["lineage"]["runner"] == "vertex"
    assert rewritten["gate"]["decision"] == "rejected" and not rewritten["gate"]["promote"]
    assert rewritten["gate"]["reasons"][-1] == "by a test"
    del rewritten["gate"], stored["gate"]
    assert rewritten == stored


def test_a_record_that_is_not_a_version_is_named(old_registry: Registry) -> None:
    uri = Path(old_registry.version_uri(OLD_VERSION, "metadata.json"))
    uri.write_text('{"version": "x"}')
    with pytest.raises(RegistryError, match=f"{uri}.* is not a model version's metadata"):
        old_registry.get(OLD_VERSION)


def test_the_record_needs_only_the_core_dependencies() -> None:
    """The pipeline image has no API extra: the record must not pull FastAPI in."""
    import subprocess
    import sys

    code = (
        "import sys, mlcycle.model.version, mlcycle.model.registration; "
        "print(sorted(m for m in ('fastapi', 'starlette', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
