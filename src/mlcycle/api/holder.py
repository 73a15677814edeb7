"""The model holder: loads the champion, verifies it, and swaps in a new one atomically.

A request reads `holder.current` once and uses that object to the end, so a swap never
changes the model under a request in flight. A new champion is loaded beside the old one and
published by one reference assignment. A champion that fails to load or fails its sha256
check is refused: the old model keeps serving, and the refusal is logged and counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from mlcycle.api.requests import request_adapter
from mlcycle.model.champion import ChampionMove, ChampionPointer
from mlcycle.model.input_checks import InputRules
from mlcycle.model.predict import Predictor, load_predictor
from mlcycle.model.registry import Registry, RegistryError
from mlcycle.model.version import FeatureSchema, ModelVersion, OperatingPoint

log = logging.getLogger("mlcycle.api")
# Storage reads (model files, artifacts, the pointer) run in their own few threads, so a
# stalled bucket can hold up at most these, never the threads the other routes answer from.
STORAGE_THREADS = 4


class StorageStalledError(Exception):
    """Storage did not answer within the holder's storage timeout."""


@dataclass(frozen=True)
class ServedModel:
    """Everything one request needs, fixed for the life of this model."""

    version: str
    pointer_sha256: str
    metadata: ModelVersion
    predictor: Predictor
    adapter: TypeAdapter  # this model's request checks
    rules: InputRules  # what this version refuses or warns about (its own serving rules)
    move: ChampionMove | None = None  # how it became champion (none: a pointer before history)
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def schema(self) -> FeatureSchema:
        return self.metadata.feature_schema

    @property
    def operating_point(self) -> OperatingPoint | None:
        """How a probability becomes a label (none: the most probable class)."""
        return self.metadata.operating_point


@dataclass(frozen=True)
class Refresh:
    """What a check of the champion pointer did."""

    outcome: str  # loaded | unchanged | refused | no_champion
    version: str | None
    detail: str = ""


def load_served_model(
    registry: Registry, pointer: ChampionPointer, max_instances: int
) -> ServedModel:
    """Load and verify the version a champion pointer names; RegistryError if anything is off."""
    version = pointer.version
    metadata = registry.get(version)
    if metadata.model.sha256 != pointer.sha256:
        raise RegistryError(
            f"champion pointer's sha256 does not match version {version}'s registered model"
        )
    predictor = load_predictor(registry, version, metadata)
    if list(predictor.classes) != metadata.feature_schema.classes:
        raise RegistryError(
            f"version {version}: model classes {predictor.classes} differ from its schema's"
        )
    return ServedModel(
        version=version,
        pointer_sha256=pointer.sha256 or "",
        metadata=metadata,
        predictor=predictor,
        adapter=request_adapter(metadata.feature_schema, max_instances),
        rules=InputRules(metadata.feature_schema),
        move=pointer.move,
    )


class ModelHolder:
    def __init__(
        self,
        registry: Registry,
        max_instances: int,
        on_refresh: Callable[[Refresh, ServedModel | None], None] | None = None,
        storage_timeout: float = 10.0,
    ) -> None:
        self.registry = registry
        self.max_instances = max_instances
        self.storage_timeout = storage_timeout
        # What went wrong with storage last, cleared by the next check that reads it fine.
        self.storage_problem: str | None = None
        self._storage = ThreadPoolExecutor(STORAGE_THREADS, thread_name_prefix="mlcycle-storage")
        self.current: ServedModel | None = None
        self.last_refusal: dict[str, str] | None = None
        self._refused: tuple[str, str] | None = None
        self._on_refresh = on_refresh
        self._lock = threading.Lock()  # one load at a time (poller and reload endpoint)

    async def in_storage_thread(self, call: Callable[..., Any], *args: Any) -> Any:
        """`call(*args)` in a storage thread; StorageStalledError if it takes over storage_timeout
        seconds (waiting for a free storage thread included). The call itself cannot be
        stopped: it finishes, or fails on gcsfs's own request timeout, in its thread."""
        future = asyncio.get_running_loop().run_in_executor(self._storage, call, *args)
        try:
            return await asyncio.wait_for(future, self.storage_timeout)
        except TimeoutError:
            problem = (
                f"storage at {self.registry.root} did not answer within {self.storage_timeout:g} s"
            )
            self.storage_problem = f"{problem} ({time.strftime('%H:%M:%S', time.gmtime())} UTC)"
            raise StorageStalledError(problem) from None

    async def refresh_async(self, force: bool = False) -> Refresh:
        """`refresh` in a storage thread, bounded by the storage timeout."""
        return await self.in_storage_thread(self.refresh, force)

    def refresh(self, force: bool = False) -> Refresh:
        """Check the champion pointer; load and swap in a new champion if it changed.

        A pointer already refused is not retried until it changes, unless `force`.
        """
        with self._lock:
            try:
                result = self._refresh(force)
            except Exception as exc:  # storage failed: say so in /readyz, then raise
                self.storage_problem = f"reading the registry failed: {type(exc).__name__}: {exc}"
                raise
        self.storage_problem = None
        if self._on_refresh:
            self._on_refresh(result, self.current)
        return result

    def _refuse(self, key: tuple[str, str], reason: str, force: bool) -> Refresh:
        """Record a refusal (logged once per pointer, unless forced); the old model stays."""
        if key != self._refused or force:
            current = self.current
            log.error(
                "refused champion %s, still serving %s: %s",
                key[0] or "(unknown)",
                current.version if current else "nothing",
                reason,
            )
        self._refused = key
        self.last_refusal = {
            "version": key[0],
            "reason": reason,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        return Refresh("refused", key[0] or None, reason)

    def _refresh(self, force: bool) -> Refresh:
        try:
            pointer = self.registry.champion_pointer()
        except RegistryError as exc:  # a malformed pointer (naming its file) is refused too
            return self._refuse(("", str(exc)), str(exc), force)
        if pointer is None:
            return Refresh("no_champion", None, f"no champion in {self.registry.models}")
        key = (pointer.version, pointer.sha256 or "")
        current = self.current
        if current and (current.version, current.pointer_sha256) == key:
            if current.move != pointer.move:  # moved again to the same model: only the story
                self.current = dataclasses.replace(current, move=pointer.move)
            return Refresh("unchanged", current.version)
        if key == self._refused and not force:
            return Refresh("refused", key[0], (self.last_refusal or {}).get("reason", ""))
        try:
            model = load_served_model(self.registry, pointer, self.max_instances)
        except Exception as exc:  # whatever went wrong, the old model keeps serving
            return self._refuse(key, f"{type(exc).__name__}: {exc}", True)
        self.current = model  # the swap: one reference assignment
        self._refused = None
        log.info(
            "serving model %s (%s), was %s",
            model.version,
            model.predictor.backend,
            current.version if current else "nothing",
        )
        return Refresh("loaded", model.version)
