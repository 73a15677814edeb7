"""A malformed champion pointer or a corrupt champion model: a clear error, and a way out."""

from __future__ import annotations

from pathlib import Path

import pytest
from faultkit import as_text, invoke

from mlcycle.model.registry import Registry, RegistryError

BAD_POINTERS = {
    "truncated": b'{"version": "2026',
    "empty": b"",
    "no_version": b'{"sha256": "abc"}',
    "null_version": b'{"version": null}',
    "number_version": b'{"version": 3}',
    "a_list": b'["v1"]',
    "binary": b"\xff\xfe\x00garbage",
}


@pytest.mark.parametrize("content", BAD_POINTERS.values(), ids=BAD_POINTERS.keys())
def test_a_malformed_pointer_names_the_file_and_the_fix(
    registry: Registry, new_version, content: bytes
) -> None:
    new_version()
    Path(registry.pointer_uri).write_bytes(content)
    with pytest.raises(RegistryError) as raised:
        registry.champion_pointer()
    assert registry.pointer_uri in str(raised.value)
    assert "mlcycle promote" in str(raised.value)
    for command in ("models", "run"):
        code, out = invoke(command, "--root", registry.root)
        assert code == 1, out
        text = as_text(out)
        assert "Traceback" not in out
        assert f"champion pointer {registry.pointer_uri}" in text
        assert f"mlcycle promote VERSION --root {registry.root}" in text


def test_promote_repairs_a_malformed_pointer(registry: Registry, new_version) -> None:
    version = new_version()
    Path(registry.pointer_uri).write_bytes(BAD_POINTERS["truncated"])
    code, out = invoke("promote", version, "--root", registry.root)
    assert code == 0, out
    assert registry.champion_version() == version
    code, out = invoke("models", "--root", registry.root)
    assert code == 0 and "★" in out


def test_promote_refuses_an_unknown_or_corrupt_version(registry: Registry, new_version) -> None:
    version = new_version()
    code, out = invoke("promote", "nope", "--root", registry.root)
    assert code == 1 and "no model version 'nope'" in out
    Path(registry.version_uri(version, "model.joblib")).write_bytes(b"corrupt")
    code, out = invoke("promote", version, "--root", registry.root)
    assert code == 1 and "sha256" in out
    assert registry.champion_version() is None


@pytest.mark.parametrize("damage", ["corrupt", "missing_model", "missing_version"])
def test_a_broken_champion_stops_a_run_before_any_step_saying_what_to_do(
    registry: Registry, new_version, damage: str
) -> None:
    version = new_version()
    registry.promote(version)
    model = Path(registry.version_uri(version, "model.joblib"))
    if damage == "corrupt":
        model.write_bytes(model.read_bytes()[:100])
    elif damage == "missing_model":
        model.unlink()
    else:
        Path(registry.version_uri(version, "metadata.json")).unlink()
    code, out = invoke("run", "--root", registry.root)
    assert code == 1, out
    text = as_text(out)
    assert "Traceback" not in out
    assert f"mlcycle promote VERSION --root {registry.root}" in text
    if damage == "missing_version":
        assert f"names version {version}, which is not in" in text
    else:
        assert str(model) in text and f"delete {registry.pointer_uri}" in text
    assert not list(Path(registry.root, "pipeline").glob("mlcycle-training-*/"))  # no step ran
