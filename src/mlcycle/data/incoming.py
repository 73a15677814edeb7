"""The incoming folder: where new data lands, and a cheap fingerprint of what is there.

Kept free of pandas: the CLI and the watcher list the folder often and should start fast.
"""

from __future__ import annotations

import hashlib
import json

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
