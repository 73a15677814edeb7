"""The model registry: versions and a champion pointer under `<root>/models/`, local or gs://.

    models/versions/<version>/model.joblib     the fitted scikit-learn pipeline
    models/versions/<version>/...              ONNX export, plots, report
    models/versions/<version>/metadata.json    written last: a version exists once this does
    models/champion.json                       the pointer, switched last and atomically

A registration that fails removes what it wrote; a process killed mid-way leaves at most a
folder without metadata.json, which is not a version and is never listed or served.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from mlcycle import storage

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
CHAMPION_FILE = "champion.json"
REPORT_FILE = "report.html"  # the model report (mlcycle.model.report renders it)


class RegistryError(RuntimeError):
    """The registry is inconsistent or a model failed its integrity check."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_version_id(now: datetime | None = None) -> str:
    """Sortable by time, unique across concurrent runs."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


class Registry:
    def __init__(self, root: str) -> None:
        self.root = storage.normalize(root)
        self.models = storage.join(self.root, "models")
        self.versions_uri = storage.join(self.models, "versions")

    def version_uri(self, version: str, name: str = "") -> str:
        uri = storage.join(self.versions_uri, version)
        return storage.join(uri, name) if name else uri

    # -- reading ---------------------------------------------------------------------------

    def versions(self) -> list[dict[str, Any]]:
        """Metadata of every complete version, oldest first."""
        out = []
        for info in storage.list_files(self.versions_uri):
            parts = info.name.split("/")
            if len(parts) == 2 and parts[1] == METADATA_FILE:
                out.append(storage.read_json(info.uri))
        return sorted(out, key=lambda m: (m["created_at"], m["version"]))

    def get(self, version: str) -> dict[str, Any]:
        uri = self.version_uri(version, METADATA_FILE)
        if not storage.exists(uri):
            raise RegistryError(f"no model version {version!r} in {self.models}")
        return storage.read_json(uri)

    def champion_pointer(self) -> dict[str, Any] | None:
        uri = storage.join(self.models, CHAMPION_FILE)
        try:
            return storage.read_json(uri)
        except FileNotFoundError:
            return None

    def champion_version(self) -> str | None:
        pointer = self.champion_pointer()
        return pointer["version"] if pointer else None

    def champion(self) -> dict[str, Any] | None:
        version = self.champion_version()
        return self.get(version) if version else None

    def read_artifact(self, version: str, name: str) -> bytes:
        return storage.read_bytes(self.version_uri(version, name))

    def model_bytes(self, version: str, metadata: dict[str, Any] | None = None) -> bytes:
        """The model file, verified against the sha256 recorded when it was registered."""
        metadata = metadata or self.get(version)
        data = self.read_artifact(version, metadata["model"]["file"])
        if sha256(data) != metadata["model"]["sha256"]:
            raise RegistryError(f"model of version {version} fails its sha256 check")
        return data

    def load_model(self, version: str, metadata: dict[str, Any] | None = None) -> Any:
        import joblib  # only what loads a model pays for it

        return joblib.load(io.BytesIO(self.model_bytes(version, metadata)))

    def find_by_model(self, model_sha256: str) -> dict[str, Any] | None:
        """A version holding exactly this model, if one exists."""
        for meta in reversed(self.versions()):
            if meta["model"]["sha256"] == model_sha256:
                return meta
        return None

    # -- writing ---------------------------------------------------------------------------

    def new_metadata(self, files: dict[str, bytes], metadata: dict[str, Any]) -> dict[str, Any]:
        """The metadata a version of `files` will carry: id, time and the model's sha256."""
        if MODEL_FILE not in files:
            raise RegistryError(f"a version needs a {MODEL_FILE}")
        return {
            **metadata,
            "version": new_version_id(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": {
                **metadata.get("model", {}),
                "file": MODEL_FILE,
                "sha256": sha256(files[MODEL_FILE]),
            },
        }

    def register(self, files: dict[str, bytes], metadata: dict[str, Any]) -> dict[str, Any]:
        """Write a new version: its files first, metadata.json last. Returns the metadata.

        `metadata` may come from `new_metadata` (to render files from it first) or be bare.
        """
        meta = metadata if "version" in metadata else self.new_metadata(files, metadata)
        meta = {**meta, "artifacts": sorted(files)}
        uri = self.version_uri(meta["version"])
        if storage.exists(storage.join(uri, METADATA_FILE)):
            raise RegistryError(f"version {meta['version']} already exists")
        try:
            for name, data in files.items():
                storage.write_bytes(storage.join(uri, name), data)
            storage.write_text(
                storage.join(uri, METADATA_FILE),
                json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n",
            )
        except BaseException:
            storage.remove(uri)
            raise
        return meta

    def promote(self, version: str, reasons: list[str] | None = None) -> dict[str, Any]:
        """Point the champion at `version` (one atomic write)."""
        meta = self.get(version)
        pointer = {
            "version": version,
            "sha256": meta["model"]["sha256"],
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "previous": self.champion_version(),
            "reasons": reasons or [],
        }
        storage.write_json(storage.join(self.models, CHAMPION_FILE), pointer)
        return pointer
