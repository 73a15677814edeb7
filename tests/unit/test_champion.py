"""The champion's records and rules: old pointers load, the chain skips what never committed,
a schema change is named, an entry is created once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcycle import storage
from mlcycle.model.champion import (
    ChampionPointer,
    Mover,
    chain,
    entry_seq,
    next_move,
    schema_changes,
)
from mlcycle.model.version import FeatureSchema

OLD_POINTER = Path(__file__).parents[1] / "data/registry-a1f9801/models/champion.json"
CLI = Mover(tool="cli", user="alice", host="lab")


def test_a_pointer_from_before_the_history_loads_and_rewrites_unchanged() -> None:
    stored = json.loads(OLD_POINTER.read_text())
    pointer = ChampionPointer.model_validate(stored)
    assert pointer.move is None and pointer.version == stored["version"]
    assert pointer.to_json() == stored


def test_moves_chain_from_the_pointer_and_skip_entries_that_never_committed() -> None:
    first = next_move(None, "v1", "s1", "pipeline", ["gate"], Mover(tool="pipeline", run_id="r1"))
    second = next_move(first, "v2", "s2", "promote", ["asked"], CLI)
    orphan = next_move(second, "v9", "s9", "promote", [], CLI)  # killed before its pointer
    third = next_move(second, "v1", "s1", "rollback", [], CLI)  # took the same seq
    assert third.move.seq == orphan.move.seq == 3 and third.move.name != orphan.move.name
    entries = {p.move.name: p.move for p in (first, second, orphan, third)}
    moves, problem = chain(third.move, entries)
    assert [(m.kind, m.version, m.previous) for m in moves] == [
        ("rollback", "v1", "v2"),
        ("promote", "v2", "v1"),
        ("pipeline", "v1", None),
    ]
    assert problem is None and moves[2].by.who == "pipeline run r1"
    assert moves[0].by.who == "cli (alice@lab)"
    assert chain(third.move, entries, limit=2)[0] == moves[:2]
    del entries[second.move.name]
    cut, problem = chain(third.move, entries)
    assert cut == [third.move] and f"history entry {second.move.name}" in problem


def test_a_move_after_an_old_pointer_starts_the_history() -> None:
    old = ChampionPointer.model_validate(json.loads(OLD_POINTER.read_text()))
    new = next_move(old, "v2", "s2", "promote", [], CLI)
    assert new.move.seq == 1 and new.move.parent is None and new.previous == old.version


def test_entry_names() -> None:
    assert entry_seq("00000012-ab12cd34") == 12
    assert entry_seq("12-ab") is None and entry_seq("0000001x-ab") is None
    assert entry_seq("00000012") is None


def schema(features: dict[str, str], classes: list[str], label: str = "y") -> FeatureSchema:
    return FeatureSchema.model_validate(
        {
            "label": label,
            "classes": classes,
            "features": [{"name": n, "type": t} for n, t in features.items()],
        }
    )


def test_schema_changes_name_features_types_label_and_classes() -> None:
    base = schema({"a": "numeric", "b": "categorical"}, ["0", "1"])
    assert schema_changes(base, schema({"b": "categorical", "a": "numeric"}, ["0", "1"])) == []
    changed = schema({"a": "categorical", "c": "numeric"}, ["0", "1", "2"], label="z")
    assert schema_changes(base, changed) == [
        "features no longer taken: b",
        "new features required: c",
        "feature a changes type: numeric -> categorical",
        "label changes: y -> z",
        "classes change: ['0', '1'] -> ['0', '1', '2']",
    ]


def test_create_writes_once(tmp_path: Path) -> None:
    uri = str(tmp_path / "history" / "00000001-aa.json")
    storage.create(uri, b"first")
    with pytest.raises(FileExistsError):
        storage.create(uri, b"second")
    assert Path(uri).read_bytes() == b"first"
    assert [p.name for p in Path(uri).parent.iterdir()] == ["00000001-aa.json"]  # no temp left
    other = str(tmp_path / "history" / "absent.json")
    assert storage.read_many([uri, other]) == {uri: b"first"}
