"""The champion pointer and its history, typed: the version served, and every move before.

    models/champion.json                     ChampionPointer: the champion and the move that made it
    models/history/<seq:08d>-<id>.json       ChampionMove: one per move, written before the pointer

A move (a pipeline promotion, a promote, a rollback, a repair) writes its entry first, create-only,
then the pointer, which carries the same entry whole (a compare-and-swap: see registry.py).
The committed history is a chain: the pointer's move, then each entry's `parent`. An entry whose
move was killed before its pointer write, or lost the swap, is on no chain: readers never show it
and the next move deletes it. So the pointer and the history cannot disagree: the newest entry
is the pointer's own, whatever was killed when.

Pointers written before the history have no `move`: they still load, and the first move after
them starts the chain (its `previous` is their champion).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from mlcycle.model.version import FeatureSchema, Record

MoveKind = Literal["pipeline", "promote", "rollback", "repair"]
HISTORY_FOLDER = "history"


class Mover(Record):
    """Who or what moved the champion."""

    tool: str = Field(description="pipeline, cli, or code (a direct Registry.promote call).")
    run_id: str | None = Field(None, description="The pipeline run that promoted (pipeline).")
    user: str | None = Field(None, description="The user who ran the command (cli).")
    host: str | None = Field(None, description="The machine it ran on.")

    @property
    def who(self) -> str:
        """One phrase for people: `pipeline run X`, `cli (alice@host)`."""
        if self.run_id:
            return f"{self.tool} run {self.run_id}"
        where = "@".join(p for p in (self.user, self.host) if p)
        return f"{self.tool} ({where})" if where else self.tool


class ChampionMove(Record):
    """One move of the champion pointer: `models/history/<seq:08d>-<id>.json`."""

    seq: int = Field(description="1 for the first move recorded, then one more each move.")
    id: str = Field(description="Random: tells apart moves that raced for the same seq.")
    at: str = Field(description="When, ISO 8601 UTC.")
    kind: MoveKind = Field(description="pipeline, promote, rollback or repair.")
    version: str = Field(description="The champion it made.")
    previous: str | None = Field(description="The champion it replaced (none: the first).")
    sha256: str = Field(description="The model file's sha256, as registered.")
    reasons: list[str] = Field(default_factory=list, description="Why.")
    by: Mover = Field(description="What moved it: the pipeline run, or the CLI and its user.")
    parent: str | None = Field(description="The entry before this one (none: the first).")

    @property
    def name(self) -> str:
        return entry_name(self.seq, self.id)


class ChampionPointer(Record):
    """`models/champion.json`: the version the API serves."""

    version: str
    sha256: str | None = None
    promoted_at: str | None = Field(None, description="ISO 8601 UTC.")
    previous: str | None = None
    reasons: list[str] = Field(default_factory=list)
    move: ChampionMove | None = Field(
        None, description="The move that made it champion (none: written before the history)."
    )


def entry_name(seq: int, move_id: str) -> str:
    return f"{seq:08d}-{move_id}"


def entry_seq(name: str) -> int | None:
    """The seq of an entry file's name (`00000012-ab12cd34`), None if it is not one."""
    head, _, tail = name.partition("-")
    return int(head) if len(head) == 8 and head.isdigit() and tail else None


def next_move(
    current: ChampionPointer | None,
    version: str,
    sha256: str,
    kind: MoveKind,
    reasons: list[str],
    by: Mover,
    parent: ChampionMove | None = None,
) -> ChampionPointer:
    """The pointer (carrying its history entry) that moves the champion from `current` to
    `version`. `parent` is the history's newest entry, when `current` cannot say it."""
    parent = current.move if current and current.move else parent
    move = ChampionMove(
        seq=parent.seq + 1 if parent else 1,
        id=secrets.token_hex(4),
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        kind=kind,
        version=version,
        previous=current.version if current else parent.version if parent else None,
        sha256=sha256,
        reasons=reasons,
        by=by,
        parent=parent.name if parent else None,
    )
    return ChampionPointer(
        version=version,
        sha256=sha256,
        promoted_at=move.at,
        previous=move.previous,
        reasons=reasons,
        move=move,
    )


def chain(
    top: ChampionMove, entries: dict[str, ChampionMove], limit: int | None = None
) -> tuple[list[ChampionMove], str | None]:
    """The committed history, newest first: `top` (the pointer's move) and its parents, found
    in `entries` (by name; entries on no chain are ignored). Also what broke the chain early,
    if anything did (a parent that is missing)."""
    moves = [top]
    while moves[-1].parent and (limit is None or len(moves) < limit):
        parent = entries.get(moves[-1].parent)
        if parent is None:
            return moves, f"history entry {moves[-1].parent} (before {moves[-1].name}) is missing"
        moves.append(parent)
    return moves, None


def schema_changes(current: FeatureSchema, candidate: FeatureSchema) -> list[str]:
    """How `candidate`'s inputs and outputs differ from `current`'s: feature names, their
    types, the label and the classes. Empty when clients of one can call the other unchanged."""
    changes = []
    old, new = current.feature_types(), candidate.feature_types()
    if missing := [n for n in old if n not in new]:
        changes.append(f"features no longer taken: {', '.join(missing)}")
    if added := [n for n in new if n not in old]:
        changes.append(f"new features required: {', '.join(added)}")
    for name in (n for n in old if n in new and old[n] != new[n]):
        changes.append(f"feature {name} changes type: {old[name]} -> {new[name]}")
    if current.label != candidate.label:
        changes.append(f"label changes: {current.label} -> {candidate.label}")
    if current.classes != candidate.classes:
        changes.append(f"classes change: {current.classes} -> {candidate.classes}")
    return changes
