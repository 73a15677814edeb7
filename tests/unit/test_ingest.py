from pathlib import Path

import pandas as pd
import pytest

from mlcycle import storage
from mlcycle.data.incoming import fingerprint
from mlcycle.data.ingest import content_hash, ingest, parse_file
from mlcycle.data.report import DataRejected


def _files(folder: Path) -> list[storage.FileInfo]:
    return storage.list_files(str(folder))


def test_csv_and_parquet_are_concatenated(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1, 2], "y": ["p", "q"]}).to_csv(tmp_path / "one.csv", index=False)
    pd.DataFrame({"a": [3.5], "y": ["p"]}).to_parquet(tmp_path / "two.parquet")
    frame, report = ingest(_files(tmp_path))
    assert frame["a"].tolist() == [1, 2, 3.5]
    assert report.info["rows_by_file"] == {"one.csv": 2, "two.parquet": 1}
    assert report.info["columns_by_file"]["one.csv"] == ["a", "y"]


def test_a_declared_categorical_column_is_one_text_across_csv_and_parquet(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("shop,zip,y\n12345,00712,p\n")
    pd.DataFrame({"shop": [678.0, None], "zip": ["02134", "00712"], "y": ["q", "p"]}).to_parquet(
        tmp_path / "b.parquet"
    )
    frame, _ = ingest(_files(tmp_path), text_columns=["shop", "zip"])
    assert frame["shop"].tolist()[:2] == ["12345", "678"] and pd.isna(frame["shop"][2])
    assert frame["zip"].tolist() == ["00712", "02134", "00712"]


def test_mixed_types_across_files_survive_as_text(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,p\n")
    (tmp_path / "b.csv").write_text("x,y\nabc,q\n")
    frame, _ = ingest(_files(tmp_path))
    assert frame["x"].tolist() == ["1", "abc"]
    frame.to_parquet(tmp_path / "snap.parquet")  # the snapshot must be writable


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n  \n", "empty"),
        ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin1.csv", "a,y\ncaf\xe9,p\n".encode("latin-1"), "not UTF-8"),
        ("header.csv", b"a,y\n", "no data rows"),
        ("bad.parquet", b"not parquet at all", "Parquet"),
        ("notes.txt", b"hello", "unsupported file type"),
        ("ragged.csv", b"a,y\n1,2,3,4\n", "could not be parsed"),
        ("repeat.csv", b"a,b,a,y\n1,2,3,p\n", r"repeats column name\(s\) 'a' \(columns 1, 3\)"),
        ("spaced.csv", b"a,a ,y\n1,2,p\n", "repeats column name"),
        ("semicolon.csv", b"a;b;y\n1;2;p\n", "looks semicolon-separated"),
        ("decimal.csv", b"a;b;y\n1,5;2,5;p\n", "looks semicolon-separated"),
        ("tabs.csv", b"a\tb\ty\n1\t2\tp\n", "looks tab-separated"),
        ("index.csv", b",a,y\n0,1,p\n", r"1 column without a header name \(column 1\) \(a name"),
        ("trailing.csv", b"a,y,,\n1,p,,\n", r"2 columns without a header name \(columns 3, 4\)$"),
    ],
)
def test_unreadable_files_are_named(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_file(name, data)


def test_one_bad_file_rejects_the_snapshot_and_names_it(tmp_path: Path) -> None:
    (tmp_path / "good.csv").write_text("a,y\n1,p\n")
    (tmp_path / "bad.csv").write_bytes(b"")
    with pytest.raises(DataRejected) as info:
        ingest(_files(tmp_path))
    [issue] = info.value.report.errors
    assert issue.file == "bad.csv"
    assert "bad.csv" in str(info.value)


def test_no_files_is_an_error() -> None:
    with pytest.raises(DataRejected, match="no data files"):
        ingest([])


def test_utf8_with_bom_is_read(tmp_path: Path) -> None:
    frame = parse_file("bom.csv", "\ufeffa,y\n1,p\n".encode())
    assert list(frame.columns) == ["a", "y"]


def test_fingerprint_changes_with_the_listing(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a\n1\n")
    before = fingerprint(_files(tmp_path))
    assert fingerprint(_files(tmp_path)) == before
    (tmp_path / "b.csv").write_text("a\n2\n")
    assert fingerprint(_files(tmp_path)) != before


def test_content_hash_depends_on_values_not_on_files() -> None:
    a = pd.DataFrame({"x": [1.0, 2.0], "y": ["p", "q"]})
    assert content_hash(a) == content_hash(a.copy())
    assert content_hash(a) != content_hash(a.assign(x=[1.0, 2.5]))


def test_columns_empty_in_a_file_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a,b,y\n1,,p\n2,,q\n")
    (tmp_path / "b.csv").write_text("a,b,y\n1,,p\n")  # one row: a missing value, not a column
    _, report = ingest(_files(tmp_path))
    assert report.info["empty_columns_by_file"] == {"a.csv": ["b"]}


def test_boolean_and_date_columns_are_recorded_by_file(tmp_path: Path) -> None:
    """Concatenation turns a Parquet bool column into 0/1: ingest says what it was."""
    pd.DataFrame({"a": [1.5, 2.5], "y": ["p", "q"]}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame(
        {"a": [True, False], "when": pd.to_datetime(["2024-01-01", "2024-02-01"]), "y": ["p", "q"]}
    ).to_parquet(tmp_path / "b.parquet")
    frame, report = ingest(_files(tmp_path))
    assert frame["a"].tolist() == [1.5, 2.5, 1.0, 0.0]
    assert report.info["value_kinds_by_file"] == {"b.parquet": {"a": "boolean", "when": "datetime"}}
