"""The incoming folder: where new data lands, the rules for its file names, and a cheap
fingerprint of what is there.

Kept free of pandas: the CLI and the watcher list the folder often and should start fast.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from mlcycle import storage

# The file types ingest reads; anything else in the folder is rejected by name.
READERS = (".csv", ".parquet", ".pq")


def fingerprint(files: list[storage.FileInfo]) -> str:
    """A hash of the listing (names, sizes, modification times): changes when data changes.

    Passed to the pipeline as a parameter so that new data is never served from the cache.
    """
    listing = [[f.name, f.size, f.modified] for f in files]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def incoming_uri(root: str) -> str:
    """Where new data lands: `<root>/data/incoming/`."""
    return storage.join(root, "data", "incoming")


def incoming_fingerprint(root: str) -> str:
    """The fingerprint of `<root>/data/incoming/` now (local or gs://)."""
    return fingerprint(storage.list_files(incoming_uri(root)))


class IncomingError(ValueError):
    """A file that cannot be added to, or named in, the incoming folder; the message says why."""


class AlreadyIncomingError(IncomingError):
    """The file's very bytes are in the incoming folder already: adding them again would count
    every row twice. Nothing was added."""


def type_problem(name: str) -> str | None:
    """Why ingest would not read a file called `name`, or None."""
    if name.lower().endswith(READERS):
        return None
    return f"{name}: incoming files must end in {', '.join(READERS)}"


def name_problem(name: str) -> str | None:
    """Why `name` cannot name one file directly inside the incoming folder, or None."""
    if not name.strip():
        return "the file name is empty"
    if "/" in name or "\\" in name:
        return f"{name!r} has a path separator: only files directly in the incoming folder"
    if name in (".", ".."):
        return f"{name!r} is a folder, not a file"
    return None


def free_name(name: str, taken: Callable[[str], bool], now: float) -> str:
    """`name`, or when that is taken, `<local time>-name` (`20261202-061500-rows.csv`): an
    upload never replaces a file already there (the earlier rows stay part of the data).

    Two uploads of one name in the same second get `-2`, `-3`, ... before the name.
    """
    if not taken(name):
        return name
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    candidate, n = f"{stamp}-{name}", 2
    while taken(candidate):
        candidate, n = f"{stamp}-{n}-{name}", n + 1
    return candidate


def add_file(root: str, file: Path, now: float | None = None) -> str:
    """Copy the local `file` into `<root>/data/incoming/` under a free name; its URI there."""
    if file.is_dir():
        raise IncomingError(f"{file} is a folder: add its data files one by one")
    if not file.is_file():
        raise IncomingError(f"no such file: {file}")
    if problem := type_problem(file.name):
        raise IncomingError(problem)
    incoming = incoming_uri(root)
    if twin := same_bytes(incoming, file):
        raise AlreadyIncomingError(
            f"nothing added: {file} is in the incoming folder already, as {twin} (the same "
            "bytes; adding it again would count its rows twice)"
        )
    name = free_name(
        file.name,
        lambda candidate: storage.exists(storage.join(incoming, candidate)),
        time.time() if now is None else now,
    )
    target = storage.join(incoming, name)
    storage.upload(file, target)
    return target


def same_bytes(incoming: str, file: Path) -> str | None:
    """The name of a file in `incoming` holding exactly `file`'s bytes, or None. Only files of
    the same size are read."""
    size, data = file.stat().st_size, None
    for info in storage.list_files(incoming):
        if info.size == size:
            data = file.read_bytes() if data is None else data
            if storage.read_bytes(info.uri) == data:
                return info.name
    return None
