"""One retraining run per burst of uploads, for the cloud's data trigger.

The bucket notification starts one build per uploaded object, so ten files copied together
would start ten Vertex AI runs. Each build therefore settles first: it waits, looks at the
incoming folder, and goes on only if its own upload is the newest file there (by update time,
ties broken by name). Every build of a burst sees the same listing, so exactly one of them
retrains, on all the files, once the burst has been quiet for the settle period.

`decide` is the rule, a pure function of a listing; `settle` waits and lists. Neither imports
KFP or the cloud SDK: the build runs this before anything heavy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel

from mlcycle import storage
from mlcycle.data.incoming import incoming_uri

# The one notification event that means new data: an object created or overwritten.
FINALIZE = "OBJECT_FINALIZE"


class SettleDecision(BaseModel):
    """Whether this upload's build retrains, and why."""

    upload: str
    retrain: bool
    reason: str
    newer: str | None = None  # the upload whose build retrains instead, if there is one


def moment(modified: str) -> float:
    """A listing's modification time as seconds since the epoch.

    Local files give a float; gcsfs gives the object's `updated` time as a datetime string.
    """
    try:
        return float(modified)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(modified).timestamp()
    except ValueError:
        raise ValueError(f"not a modification time: {modified!r}") from None


def newest(listing: list[storage.FileInfo]) -> storage.FileInfo:
    """The file uploaded last: latest update time, then the greatest name."""
    return max(listing, key=lambda f: (moment(f.modified), f.name))


def _skip(upload: str, reason: str, newer: str | None = None) -> SettleDecision:
    return SettleDecision(upload=upload, retrain=False, reason=reason, newer=newer)


def _incoming_name(upload: str, root: str) -> str | None:
    """The upload's name inside `<root>/data/incoming/`, or None when it lies outside."""
    incoming = incoming_uri(storage.normalize(root)) + "/"
    where = storage.normalize(upload) if storage.is_local(upload) else upload
    return where[len(incoming) :] if where.startswith(incoming) else None


def screen(upload: str, root: str, event_type: str = FINALIZE) -> SettleDecision | None:
    """The decision that needs no listing (and no wait): None if `upload` may retrain."""
    if event_type != FINALIZE:
        return _skip(upload, f"event type {event_type}: only a new or replaced object retrains")
    name = _incoming_name(upload, root)
    if name is None:
        incoming = incoming_uri(storage.normalize(root))
        return _skip(upload, f"outside {incoming}/: only new data there retrains")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return _skip(upload, "not a plain file name (a folder placeholder or a relative path)")
    if any(part.startswith(".") for part in parts):
        return _skip(upload, "a hidden file: the pipeline does not read it")
    return None


def decide(
    upload: str,
    root: str,
    listing: list[storage.FileInfo],
    *,
    event_type: str = FINALIZE,
    generation: str | None = None,
) -> SettleDecision:
    """Whether the build for `upload` should retrain, given `<root>/data/incoming/` now.

    `listing` is `storage.list_files` of that folder. `generation` is the notification's
    objectGeneration: when the object has been overwritten since, the newer version is its
    own upload (with its own build) and this one steps aside.
    """
    if (early := screen(upload, root, event_type)) is not None:
        return early
    name = _incoming_name(upload, root)
    mine = next((f for f in listing if f.name == name), None)
    if mine is None:
        return _skip(upload, "no longer in the incoming folder (deleted since the upload)")
    if generation and mine.generation and mine.generation != generation:
        return _skip(
            upload,
            f"overwritten since this event (generation {mine.generation}, the event's is "
            f"{generation}): the newer version's build retrains",
            newer=mine.uri,
        )
    last = newest(listing)
    if last.name != name:
        return _skip(upload, f"a newer upload, {last.uri}, retrains on this one too", last.uri)
    others = len(listing) - 1
    together = f" ({others} older file(s) train with it)" if others else ""
    return SettleDecision(
        upload=upload,
        retrain=True,
        reason=f"the newest of the {len(listing)} file(s) in the incoming folder{together}",
    )


def settle(
    upload: str,
    root: str,
    seconds: float,
    *,
    event_type: str = FINALIZE,
    generation: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SettleDecision:
    """Wait `seconds` for more uploads, then `decide` on the incoming folder as it is then.

    An upload that cannot retrain whatever the listing says is answered at once.
    """
    if (early := screen(upload, root, event_type)) is not None:
        return early
    sleep(seconds)
    listing = storage.list_files(incoming_uri(storage.normalize(root)))
    return decide(upload, root, listing, event_type=event_type, generation=generation)
