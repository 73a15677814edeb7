"""Too much data is rejected by ingest, before it is read or trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcycle import storage
from mlcycle.config import Limits
from mlcycle.data import ingest as ingest_module
from mlcycle.data.ingest import ingest
from mlcycle.data.report import DataRejected


def test_files_over_the_size_limit_are_rejected_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "big.csv").write_text("x,y\n" + "1,a\n" * 300)
    (tmp_path / "small.csv").write_text("x,y\n2,b\n")
    read = []
    monkeypatch.setattr(ingest_module, "parse_file", lambda name, data: read.append(name))
    with pytest.raises(DataRejected) as rejected:
        ingest(storage.list_files(str(tmp_path)), Limits(max_bytes=1000))
    [issue] = rejected.value.report.errors
    assert issue.rule == "too_large"
    assert "1,212 bytes, over the limit of 1,000 (limits.max_bytes" in issue.message
    assert "big.csv (1,204 B)" in issue.message
    assert read == []  # a 345 MB upload is refused before anything parses it


def test_rows_over_the_row_limit_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,a\n2,b\n")
    (tmp_path / "b.csv").write_text("x,y\n3,a\n")
    files = storage.list_files(str(tmp_path))
    with pytest.raises(DataRejected) as rejected:
        ingest(files, Limits(max_rows=2))
    [issue] = rejected.value.report.errors
    assert issue.rule == "too_many_rows"
    assert "3 rows, over the limit of 2 (limits.max_rows" in issue.message
    frame, _ = ingest(files, Limits(max_rows=3))  # at the limit: accepted
    assert len(frame) == 3


def test_the_default_config_carries_the_limits(config) -> None:
    assert config.limits == Limits(max_bytes=100_000_000, max_rows=1_000_000)
