"""Storage through fsspec: a local folder and gs:// behave the same.

Writes are atomic: a local file is written beside its target and renamed over it; a GCS
object only becomes visible once its upload completes. Readers never see half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem


@dataclass(frozen=True)
class FileInfo:
    """One stored file: enough to notice that it changed without reading it."""

    uri: str
    name: str  # relative to the listed folder
    size: int
    modified: str
    generation: str = ""  # a GCS object's generation (changes on overwrite); "" for local files


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def normalize(uri: str) -> str:
    """An absolute path for local folders (subprocesses may run elsewhere); URIs unchanged."""
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    if is_local(uri):
        return str(Path(uri).expanduser().resolve())
    return uri.rstrip("/")


def join(uri: str, *parts: str) -> str:
    """Join path parts onto a local path or URI with forward slashes."""
    out = uri.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


# gcsfs waits forever for a bucket that accepts a connection and never answers; with this,
# each of its HTTP requests gives up (TimeoutError) after this many seconds.
GCS_REQUEST_TIMEOUT_SECONDS = 60.0


def _emulated() -> bool:
    from mlcycle.settings import get_platform  # here: only gs:// pays for pydantic-settings

    return bool(get_platform().storage_emulator_host)


def filesystem(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem serving `uri` and the path within it."""
    options: dict[str, Any] = {}
    if uri.startswith("gs://"):
        options["requests_timeout"] = GCS_REQUEST_TIMEOUT_SECONDS
    if uri.startswith("gs://") and _emulated():
        # The GCS emulator takes no credentials; gcsfs reads the host from the environment.
        options["token"] = "anon"
    return url_to_fs(uri, **options)


def exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.exists(path)


def read_bytes(uri: str) -> bytes:
    fs, path = filesystem(uri)
    return fs.cat_file(path)


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri))


def write_bytes(uri: str, data: bytes) -> None:
    """Write `data` to `uri` atomically, creating parent folders as needed."""
    fs, path = filesystem(uri)
    if isinstance(fs, LocalFileSystem):
        _write_local(Path(path), data, replace=True)
    else:
        fs.pipe_file(path, data)


def _write_local(target: Path, data: bytes, replace: bool) -> None:
    """Write a whole file beside `target`, then replace it (or hard-link it into place, which
    fails if `target` exists): no reader ever sees a partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Hidden (list_files skips it), unique, and created with the usual umask'd mode.
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        with tmp.open("xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            tmp.replace(target)
        else:
            os.link(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # after a replace, already gone


def write_text(uri: str, text: str) -> None:
    write_bytes(uri, text.encode("utf-8"))


def json_bytes(obj: Any) -> bytes:
    """How every JSON file here is written: indented, keys sorted, a final newline."""
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def write_json(uri: str, obj: Any) -> None:
    write_bytes(uri, json_bytes(obj))


class PreconditionFailedError(RuntimeError):
    """A conditional write found the object changed since it was read."""


@contextlib.contextmanager
def exclusive(uri: str) -> Iterator[None]:
    """Hold an exclusive lock on a local file's `.NAME.lock` beside it (blocking until free).

    Local read-compare-write sequences run inside it. A bucket has no such lock: there the
    write itself is conditional (`write_bytes_if_generation`), and this does nothing.
    """
    if not is_local(uri):
        yield
        return
    target = Path(normalize(uri))
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file is closed
        yield


def _gcs_blob(uri: str) -> Any:
    """The google-cloud-storage blob for gs://BUCKET/NAME (it honours STORAGE_EMULATOR_HOST)."""
    from google.cloud import storage as gcs

    bucket, _, name = uri[len("gs://") :].partition("/")
    return gcs.Client().bucket(bucket).blob(name)


def read_with_generation(uri: str) -> tuple[bytes | None, str]:
    """A file's bytes (None if absent) and the token a conditional write of it checks.

    On GCS the token is the object's generation ("0" for an absent object, which is what
    GCS's ifGenerationMatch=0 means); locally it is "" (the caller holds `exclusive`).
    """
    if not uri.startswith("gs://"):
        try:
            return read_bytes(uri), ""
        except FileNotFoundError:
            return None, ""
    fs, path = filesystem(uri)
    fs.invalidate_cache()
    try:
        generation = fs.info(path)["generation"]
        data = fs.cat_file(path)
    except FileNotFoundError:
        return None, "0"
    # Changed between the two calls? Then the conditional write fails: a spurious conflict,
    # never a lost update.
    return data, str(generation)


def write_bytes_if_generation(uri: str, data: bytes, generation: str) -> None:
    """Write `uri` only if it is still at `generation`; PreconditionFailedError otherwise.

    On GCS an ifGenerationMatch precondition makes the write a compare-and-swap. Locally
    the write is atomic, and the caller holds `exclusive(uri)` since it read.
    """
    if not uri.startswith("gs://"):
        write_bytes(uri, data)
        return
    from google.api_core.exceptions import PreconditionFailed as GcsPreconditionFailed

    try:
        _gcs_blob(uri).upload_from_string(
            data, content_type="application/json", if_generation_match=int(generation)
        )
    except GcsPreconditionFailed as exc:
        raise PreconditionFailedError(f"{uri} changed since generation {generation}") from exc


def create(uri: str, data: bytes) -> None:
    """Write `uri` only if it does not exist yet (FileExistsError if it does), atomically.

    Locally the file is written beside its target and hard-linked into place, which fails
    if the target exists; on GCS the upload carries ifGenerationMatch=0.
    """
    fs, path = filesystem(uri)
    if isinstance(fs, LocalFileSystem):
        _write_local(Path(path), data, replace=False)
        return
    try:
        write_bytes_if_generation(uri, data, "0")
    except PreconditionFailedError:
        raise FileExistsError(uri) from None


def read_many(uris: list[str]) -> dict[str, bytes]:
    """The bytes of each of `uris` that exists, by URI (a bucket's are fetched concurrently)."""
    if not uris:
        return {}
    fs, _ = filesystem(uris[0])
    paths = {filesystem(uri)[1]: uri for uri in uris}
    found = fs.cat(list(paths), on_error="omit")
    return {paths[path]: data for path, data in found.items() if path in paths}


def upload(local_path: str | Path, uri: str) -> None:
    """Copy a local file to `uri` atomically."""
    write_bytes(uri, Path(local_path).read_bytes())


def local_path(uri: str, copy_to: Path) -> Path:
    """A local path holding `uri`'s bytes, for a program that only opens local files (a web
    browser): the file itself when `uri` is local, otherwise a copy written to `copy_to`."""
    if is_local(uri):
        return Path(normalize(uri))
    copy_to.write_bytes(read_bytes(uri))
    return copy_to


def list_files(uri: str, suffixes: tuple[str, ...] = ()) -> list[FileInfo]:
    """Files under `uri` (recursively), sorted by name; hidden and temporary files skipped."""
    fs, root = filesystem(uri)
    fs.invalidate_cache()  # listings must be fresh: they decide whether data changed
    if not fs.exists(root):
        return []
    out = []
    for path, info in sorted(fs.find(root, detail=True).items()):
        name = path[len(root.rstrip("/")) + 1 :]
        if any(part.startswith(".") for part in name.split("/")):
            continue
        if suffixes and not name.lower().endswith(suffixes):
            continue
        modified = info.get("mtime") or info.get("updated") or info.get("generation") or ""
        out.append(
            FileInfo(
                uri=join(uri, name),
                name=name,
                size=int(info.get("size") or 0),
                modified=str(modified),
                generation=str(info.get("generation") or ""),
            )
        )
    return out


def list_folders(uri: str) -> list[str]:
    """Names of the folders directly under `uri` (hidden ones skipped), sorted."""
    fs, root = filesystem(uri)
    fs.invalidate_cache()
    if not fs.exists(root):
        return []
    names = (
        info["name"].rstrip("/").rsplit("/", 1)[-1]
        for info in fs.ls(root, detail=True)
        if info["type"] == "directory"
    )
    return sorted(name for name in names if not name.startswith("."))


def newest_modification(uri: str) -> float | None:
    """The latest modification time (epoch seconds) of any file under `uri`, hidden ones
    included; None if there is none."""
    fs, root = filesystem(uri)
    fs.invalidate_cache()
    times = []
    for info in fs.find(root, detail=True).values():
        moment = info.get("mtime") or info.get("updated")
        if isinstance(moment, int | float):
            times.append(float(moment))
        elif moment is not None:
            from datetime import datetime

            times.append(
                moment.timestamp()
                if isinstance(moment, datetime)
                else datetime.fromisoformat(str(moment).replace("Z", "+00:00")).timestamp()
            )
    return max(times, default=None)


def remove_file(uri: str) -> None:
    """Delete one file; never a folder (IsADirectoryError) and never recursively."""
    fs, path = filesystem(uri)
    if fs.isdir(path):
        raise IsADirectoryError(f"{uri} is a folder, not a file")
    fs.rm_file(path)


def remove(uri: str) -> None:
    """Delete a file or a whole folder tree, if it exists."""
    fs, path = filesystem(uri)
    if fs.exists(path):
        fs.rm(path, recursive=True)
