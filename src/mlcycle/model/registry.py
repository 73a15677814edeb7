"""The model registry: versions and a champion pointer under `<root>/models/`, local or gs://.

    models/versions/<version>/model.joblib     the fitted scikit-learn pipeline
    models/versions/<version>/...              ONNX export, plots, report
    models/versions/<version>/metadata.json    written last: a version exists once this does
    models/champion.json                       the pointer, switched last and atomically
    models/history/<seq:08d>-<id>.json         every move of the pointer (model/champion.py)

The pointer switch is a compare-and-swap on the champion a run started from: under an
exclusive lock file beside the pointer locally, with a generation precondition on GCS. Of
two runs promoting at once, one wins and the other gets ChampionChangedError. Each switch
writes its history entry first (create-only) and the pointer, carrying the entry, last.

A registration that fails removes what it wrote; a process killed mid-way leaves at most a
folder without metadata.json, which is not a version and is never listed or served. The
folder's hidden `.registering.json` names the process writing it: `remove_incomplete`
(every run calls it) deletes the folder once that process is gone, or after an hour.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import socket
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlcycle import storage
from mlcycle.model.champion import (
    HISTORY_FOLDER,
    ChampionMove,
    ChampionPointer,
    MoveKind,
    Mover,
    chain,
    entry_seq,
    next_move,
)
from mlcycle.model.version import ModelVersion

if TYPE_CHECKING:
    from mlcycle.settings import Settings

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
CHAMPION_FILE = "champion.json"
REPORT_FILE = "report.html"  # the model report (mlcycle.model.report renders it)
CLAIM_FILE = ".registering.json"  # hidden: who is writing a version not yet complete
# An incomplete version whose writer cannot be checked (another host) is abandoned after this.
STALE_SECONDS = 3600


class RegistryError(RuntimeError):
    """The registry is inconsistent or a model failed its integrity check."""


class ChampionChangedError(RegistryError):
    """A promotion expected one champion and found another: a concurrent run promoted first."""

    def __init__(self, version: str, expected: str | None, current: str | None) -> None:
        self.version, self.expected, self.current = version, expected, current
        super().__init__(
            f"not promoted: {version} was to replace champion {expected or '(none)'}, but "
            f"another run made {current or '(none)'} the champion meanwhile; run again to "
            "compare with it"
        )


# promote(expected=UNCHECKED): replace whatever the pointer says, even a malformed pointer.
UNCHECKED: Any = object()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_version_id(now: datetime | None = None) -> str:
    """Sortable by time, unique across concurrent runs."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


class Registry:
    def __init__(self, root: str) -> None:
        self.root = storage.normalize(root)
        self.models = storage.join(self.root, "models")
        self.versions_uri = storage.join(self.models, "versions")

    @classmethod
    def from_settings(cls, settings: Settings) -> Registry:
        """The registry under the settings' root (MLCYCLE_ROOT, or --root)."""
        return cls(settings.root)

    def version_uri(self, version: str, name: str = "") -> str:
        uri = storage.join(self.versions_uri, version)
        return storage.join(uri, name) if name else uri

    # -- reading ---------------------------------------------------------------------------

    def versions(self) -> list[ModelVersion]:
        """Every complete version, oldest first."""
        out = []
        for info in storage.list_files(self.versions_uri):
            parts = info.name.split("/")
            if len(parts) == 2 and parts[1] == METADATA_FILE:
                out.append(self._parse(info.uri, storage.read_bytes(info.uri)))
        return sorted(out, key=lambda m: (m.created_at, m.version))

    def get(self, version: str) -> ModelVersion:
        uri = self.version_uri(version, METADATA_FILE)
        try:
            data = storage.read_bytes(uri)
        except FileNotFoundError:
            raise RegistryError(f"no model version {version!r} in {self.models}") from None
        return self._parse(uri, data)

    @staticmethod
    def _parse(uri: str, data: bytes) -> ModelVersion:
        try:
            return ModelVersion.model_validate_json(data)
        except ValueError as exc:  # pydantic's ValidationError is one
            raise RegistryError(f"{uri} is not a model version's metadata: {exc}") from None

    @property
    def pointer_uri(self) -> str:
        return storage.join(self.models, CHAMPION_FILE)

    def champion_pointer(self) -> ChampionPointer | None:
        """The champion pointer, None if there is none; RegistryError naming the file and the
        fix if it is malformed."""
        try:
            data = storage.read_bytes(self.pointer_uri)
        except FileNotFoundError:
            return None
        return self._parse_pointer(data)

    def repair_hint(self) -> str:
        return (
            f"point it at a registered version with `mlcycle promote VERSION --root {self.root}` "
            "(`mlcycle models` lists them), or delete it to start again without a champion"
        )

    def verify_champion(self) -> str | None:
        """The champion's version after checking that its pointer, metadata and model file
        are intact (what every run compares with); RegistryError saying what to do if not."""
        version = self.champion_version()
        if version is None:
            return None
        if not storage.exists(self.version_uri(version, METADATA_FILE)):
            raise RegistryError(
                f"champion pointer {self.pointer_uri} names version {version}, which is not "
                f"in {self.versions_uri}; {self.repair_hint()}"
            )
        try:
            self.model_bytes(version)
        except RegistryError as exc:
            raise RegistryError(
                f"the champion's {exc}. Restore that file, or make another version the "
                f"champion with `mlcycle promote VERSION --root {self.root}` (`mlcycle models` "
                f"lists them), or delete {self.pointer_uri} to train a new champion from scratch"
            ) from None
        return version

    def _parse_pointer(self, data: bytes) -> ChampionPointer:
        where = f"champion pointer {self.pointer_uri}"
        try:
            pointer = json.loads(data)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
            raise RegistryError(
                f"{where} is not valid JSON ({exc}); {self.repair_hint()}"
            ) from None
        if not isinstance(pointer, dict) or not pointer.get("version"):
            raise RegistryError(f'{where} names no "version"; {self.repair_hint()}')
        if not isinstance(pointer["version"], str):
            raise RegistryError(f'{where}: "version" must be a string; {self.repair_hint()}')
        try:
            return ChampionPointer.model_validate(pointer)
        except ValueError as exc:  # pydantic's ValidationError is one
            raise RegistryError(f"{where} is malformed ({exc}); {self.repair_hint()}") from None

    def champion_version(self) -> str | None:
        pointer = self.champion_pointer()
        return pointer.version if pointer else None

    def champion(self) -> ModelVersion | None:
        version = self.champion_version()
        return self.get(version) if version else None

    def read_artifact(self, version: str, name: str) -> bytes:
        return storage.read_bytes(self.version_uri(version, name))

    def model_bytes(self, version: str, metadata: ModelVersion | None = None) -> bytes:
        """The model file, verified against the sha256 recorded when it was registered."""
        metadata = metadata or self.get(version)
        uri = self.version_uri(version, metadata.model.file)
        try:
            data = storage.read_bytes(uri)
        except FileNotFoundError:
            raise RegistryError(f"model file {uri} (version {version}) is missing") from None
        if sha256(data) != metadata.model.sha256:
            raise RegistryError(
                f"model file {uri} (version {version}) fails its sha256 check: corrupt, or "
                "changed since it was registered"
            )
        return data

    def load_model(self, version: str, metadata: ModelVersion | None = None) -> Any:
        import joblib  # only what loads a model pays for it

        return joblib.load(io.BytesIO(self.model_bytes(version, metadata)))

    def find_by_model(self, model_sha256: str) -> ModelVersion | None:
        """A version holding exactly this model, if one exists."""
        for meta in reversed(self.versions()):
            if meta.model.sha256 == model_sha256:
                return meta
        return None

    # -- writing ---------------------------------------------------------------------------

    def new_version(self, files: dict[str, bytes], fields: dict[str, Any]) -> ModelVersion:
        """The record a new version of `files` will carry: `fields` (every ModelVersion field
        but the id, the time and the model file) plus those three."""
        if MODEL_FILE not in files:
            raise RegistryError(f"a version needs a {MODEL_FILE}")
        return ModelVersion.model_validate(
            {
                **fields,
                "version": new_version_id(),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "model": {
                    **fields.get("model", {}),
                    "file": MODEL_FILE,
                    "sha256": sha256(files[MODEL_FILE]),
                },
            }
        )

    def register(
        self, files: dict[str, bytes], metadata: ModelVersion | dict[str, Any]
    ) -> ModelVersion:
        """Write a new version: its files first, metadata.json last. Returns its record.

        `metadata` is a record from `new_version` (to render files from it first) or the
        fields `new_version` takes.
        """
        if not isinstance(metadata, ModelVersion):
            metadata = self.new_version(files, metadata)
        meta = metadata.model_copy(update={"artifacts": sorted(files)})
        uri = self.version_uri(meta.version)
        if storage.exists(storage.join(uri, METADATA_FILE)):
            raise RegistryError(f"version {meta.version} already exists")
        claim = storage.join(uri, CLAIM_FILE)
        try:
            storage.write_json(
                claim,
                {"host": socket.gethostname(), "pid": os.getpid(), "started_at": time.time()},
            )
            for name, data in files.items():
                storage.write_bytes(storage.join(uri, name), data)
            self._write_metadata(meta)
        except BaseException:
            storage.remove(uri)
            raise
        storage.remove(claim)
        return meta

    def remove_incomplete(self, stale_seconds: float = STALE_SECONDS) -> list[str]:
        """Delete version folders a killed registration left (no metadata.json); their ids.

        A folder is left alone while the process that claimed it still runs on this host,
        or, when that cannot be checked, until it is `stale_seconds` old.
        """
        removed = []
        for folder in storage.list_folders(self.versions_uri):
            uri = self.version_uri(folder)
            if storage.exists(storage.join(uri, METADATA_FILE)):
                continue
            if self._abandoned(uri, stale_seconds):
                storage.remove(uri)
                removed.append(folder)
        return removed

    def _abandoned(self, uri: str, stale_seconds: float) -> bool:
        try:
            claim = storage.read_json(storage.join(uri, CLAIM_FILE))
        except (FileNotFoundError, ValueError):
            claim = {}
        if claim.get("host") == socket.gethostname() and isinstance(claim.get("pid"), int):
            return not _process_exists(claim["pid"])
        started = claim.get("started_at")
        if not isinstance(started, int | float):
            started = storage.newest_modification(uri)
        return started is None or time.time() - started > stale_seconds

    def amend(self, meta: ModelVersion, files: dict[str, bytes]) -> ModelVersion:
        """Correct a version's record: rewrite `files` (never the model), then its metadata."""
        if MODEL_FILE in files:
            raise RegistryError("a version's model is never rewritten")
        uri = self.version_uri(meta.version)
        for name, data in files.items():
            storage.write_bytes(storage.join(uri, name), data)
        self._write_metadata(meta)
        return meta

    def _write_metadata(self, meta: ModelVersion) -> None:
        storage.write_json(self.version_uri(meta.version, METADATA_FILE), meta.to_json())

    # -- the champion's history ---------------------------------------------------------------

    @property
    def history_uri(self) -> str:
        return storage.join(self.models, HISTORY_FOLDER)

    def entry_uri(self, name: str) -> str:
        return storage.join(self.history_uri, f"{name}.json")

    def _entries(self, newer_than: int = 0) -> dict[str, str]:
        """Entry name -> URI of every history file with a seq above `newer_than`, committed
        or not (a reader picks the committed ones by following the chain)."""
        out = {}
        for info in storage.list_files(self.history_uri, (".json",)):
            name = info.name.removesuffix(".json")
            seq = entry_seq(name)
            if "/" not in name and seq is not None and seq > newer_than:
                out[name] = info.uri
        return out

    def _read_entries(self, uris: dict[str, str]) -> dict[str, ChampionMove]:
        found = storage.read_many(list(uris.values()))
        out = {}
        for name, uri in uris.items():
            if uri in found:
                try:
                    out[name] = ChampionMove.model_validate_json(found[uri])
                except ValueError:  # unreadable: the chain says it is missing, if it needs it
                    continue
        return out

    def history(
        self, limit: int | None = None, top: ChampionMove | None = None
    ) -> tuple[list[ChampionMove], str | None]:
        """The champion's moves, newest first (at most `limit`): the pointer's own (or `top`,
        a move read before), then each one's parent. Also what cut the history short, if
        something did (a missing entry).

        Entries a killed or losing move wrote are on no chain, so they are never returned.
        """
        if top is None:
            pointer = self.champion_pointer()
            top = pointer.move if pointer else None
        if top is None:
            return [], None
        oldest = 0 if limit is None else top.seq - limit
        entries = self._read_entries(
            {n: u for n, u in self._entries(oldest).items() if entry_seq(n) < top.seq}
        )
        return chain(top, entries, limit)

    def _newest_entry(self) -> ChampionMove | None:
        """The readable entry with the highest seq: what a repair of an unreadable pointer
        continues from (it cannot tell an entry a killed move left from a committed one)."""
        for name, uri in sorted(self._entries().items(), reverse=True):
            if entry := self._read_entries({name: uri}).get(name):
                return entry
        return None

    def _write_entry(self, move: ChampionMove) -> None:
        storage.create(self.entry_uri(move.name), storage.json_bytes(move.to_json()))

    def _write_pointer(self, pointer: ChampionPointer, generation: str) -> None:
        """The pointer switch itself (a fault test kills a process just before it)."""
        data = storage.json_bytes(pointer.to_json())
        storage.write_bytes_if_generation(self.pointer_uri, data, generation)

    def _remove_uncommitted(self, move: ChampionMove) -> None:
        """Delete the entries of moves that can no longer commit: those beside `move` (its seq:
        they lost to it) and beside its parent (a move killed before its pointer write)."""
        keep = {move.name, move.parent}
        for name, uri in self._entries(move.seq - 2).items():
            if name not in keep and entry_seq(name) in (move.seq, move.seq - 1):
                self._remove_entry(uri)

    @staticmethod
    def _remove_entry(uri: str) -> None:
        """Delete an uncommitted entry; tidying only (readers never see one), so a loser that
        removes its own meanwhile, or storage failing here, never fails a move."""
        with contextlib.suppress(OSError):  # FileNotFoundError among them
            storage.remove_file(uri)

    def promote(
        self,
        version: str,
        reasons: list[str] | None = None,
        *,
        expected: str | None = UNCHECKED,
        kind: MoveKind | None = None,
        by: Mover | None = None,
    ) -> ChampionPointer:
        """Point the champion at `version`, if the champion is still `expected` (None: no
        champion). ChampionChangedError if it is not; the pointer is then left as it was.

        Without `expected` the pointer is replaced whatever it holds (a repair). The move is
        recorded in the history: `kind` (default: promote, or repair when the pointer was
        unreadable) and `by` (default: code, this host).
        """
        meta = self.get(version)
        uri = self.pointer_uri
        by = by or Mover(tool="code", host=socket.gethostname())
        with storage.exclusive(uri):
            data, generation = storage.read_with_generation(uri)
            parent = None
            if expected is UNCHECKED:
                try:
                    current = self._parse_pointer(data) if data else None
                except RegistryError:  # a malformed pointer is what a repair replaces
                    current, parent = None, self._newest_entry()
                    kind = kind or "repair"
            else:
                current = self._parse_pointer(data) if data else None
                if (current.version if current else None) != (expected or None):
                    raise ChampionChangedError(
                        version, expected or None, current.version if current else None
                    )
            kind = kind or "promote"
            pointer = next_move(
                current, version, meta.model.sha256, kind, reasons or [], by, parent
            )
            assert pointer.move is not None
            # The entry first: a pointer never names a missing entry. If this process dies
            # before the pointer write, the entry is on no chain, and the next move removes it.
            self._write_entry(pointer.move)
            try:
                self._write_pointer(pointer, generation)
            except storage.PreconditionFailedError:
                self._remove_entry(self.entry_uri(pointer.move.name))
                was = (current.version if current else None) if expected is UNCHECKED else expected
                raise ChampionChangedError(version, was, self.champion_version()) from None
        self._remove_uncommitted(pointer.move)
        return pointer
