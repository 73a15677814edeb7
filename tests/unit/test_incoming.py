"""The incoming folder's file-name rules: what `data add` and `data rm` accept."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlcycle.data.incoming import (
    AlreadyIncomingError,
    IncomingError,
    add_file,
    free_name,
    name_problem,
    type_problem,
)

NOON = time.mktime((2026, 12, 2, 12, 0, 0, 0, 0, -1))  # local time, as the names use


def test_a_free_name_is_kept() -> None:
    assert free_name("rows.csv", lambda name: False, NOON) == "rows.csv"


def test_a_taken_name_gets_the_time_in_front() -> None:
    assert free_name("rows.csv", {"rows.csv"}.__contains__, NOON) == "20261202-120000-rows.csv"


def test_a_second_collision_in_the_same_second_is_numbered_not_clobbered() -> None:
    taken = {"rows.csv", "20261202-120000-rows.csv", "20261202-120000-2-rows.csv"}
    assert free_name("rows.csv", taken.__contains__, NOON) == "20261202-120000-3-rows.csv"


@pytest.mark.parametrize("name", ["a.csv", "A.CSV", "b.parquet", "c.pq"])
def test_readable_types(name: str) -> None:
    assert type_problem(name) is None


@pytest.mark.parametrize("name", ["notes.txt", "rows.csv.gz", "csv", "rows.xlsx"])
def test_other_types_are_named_with_what_is_read(name: str) -> None:
    assert type_problem(name) == f"{name}: incoming files must end in .csv, .parquet, .pq"


@pytest.mark.parametrize("name", ["a.csv", "2026-a b.csv", ".hidden", "..a.csv"])
def test_plain_names_have_no_problem(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("  ", "empty"),
        (".", "is a folder"),
        ("..", "is a folder"),
        ("sub/c.csv", "path separator"),
        ("../x.csv", "path separator"),
        ("/etc/passwd", "path separator"),
        ("sub\\c.csv", "path separator"),
    ],
)
def test_names_that_reach_outside_one_file_are_refused(name: str, why: str) -> None:
    problem = name_problem(name)
    assert problem is not None and why in problem


def test_add_file_copies_twice_without_replacing(tmp_path: Path) -> None:
    file = tmp_path / "new.csv"
    file.write_text("x,y\n1,2\n")
    root = str(tmp_path / "root")
    first = add_file(root, file, now=NOON)
    file.write_text("x,y\n3,4\n")
    second = add_file(root, file, now=NOON)
    incoming = tmp_path / "root/data/incoming"
    assert first == str(incoming / "new.csv") and second == str(
        incoming / "20261202-120000-new.csv"
    )
    assert (incoming / "new.csv").read_text() == "x,y\n1,2\n"
    assert (incoming / "20261202-120000-new.csv").read_text() == "x,y\n3,4\n"


def test_the_same_bytes_twice_are_added_once(tmp_path: Path) -> None:
    """Under any name: a second copy would count every row twice."""
    file, again = tmp_path / "new.csv", tmp_path / "copy.csv"
    file.write_text("x,y\n1,2\n")
    again.write_text("x,y\n1,2\n")
    root = str(tmp_path / "root")
    add_file(root, file, now=NOON)
    for twin in (file, again):
        with pytest.raises(
            AlreadyIncomingError, match=r"nothing added: .* as new.csv \(the same bytes"
        ):
            add_file(root, twin, now=NOON)
    again.write_text("x,y\n1,3\n")  # same size, other bytes: new data
    assert add_file(root, again, now=NOON).endswith("copy.csv")
    assert sorted(p.name for p in (tmp_path / "root/data/incoming").iterdir()) == [
        "copy.csv",
        "new.csv",
    ]


def test_add_file_refuses_a_missing_file_and_an_unread_type(tmp_path: Path) -> None:
    with pytest.raises(IncomingError, match="no such file"):
        add_file(str(tmp_path), tmp_path / "absent.csv")
    with pytest.raises(IncomingError, match="is a folder: add its data files one by one"):
        add_file(str(tmp_path), tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(IncomingError, match=r"must end in \.csv"):
        add_file(str(tmp_path), tmp_path / "notes.txt")
    assert not (tmp_path / "data").exists()
