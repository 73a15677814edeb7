from pathlib import Path

import pytest

from mlcycle import storage


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    uri = str(tmp_path / "a" / "b.json")
    storage.write_json(uri, {"x": 1})
    storage.write_json(uri, {"x": 2})
    assert storage.read_json(uri) == {"x": 2}
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = str(tmp_path / "f.txt")
    storage.write_text(uri, "old")

    def broken_replace(self: Path, target: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        storage.write_text(uri, "new")
    monkeypatch.undo()
    assert storage.read_text(uri) == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_list_files_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.csv").write_text("1")
    (tmp_path / "sub" / "a.csv").write_text("22")
    (tmp_path / ".hidden.csv").write_text("x")
    files = storage.list_files(str(tmp_path))
    assert [(f.name, f.size) for f in files] == [("b.csv", 1), ("sub/a.csv", 2)]
    assert storage.list_files(str(tmp_path / "missing")) == []


def test_join_and_normalize() -> None:
    assert storage.join("gs://b/p/", "models", "/v1/") == "gs://b/p/models/v1"
    assert storage.normalize("gs://b/p/") == "gs://b/p"
    assert storage.normalize("relative").startswith("/")
    assert storage.normalize("file:///tmp/x") == "/tmp/x"


@pytest.mark.timeout(20)  # without the request timeout this read would hang
def test_a_bucket_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import time

    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setattr(storage, "GCS_REQUEST_TIMEOUT_SECONDS", 0.5)
        began = time.monotonic()
        with pytest.raises(TimeoutError):
            storage.read_bytes("gs://stalled-bucket/models/champion.json")
        assert time.monotonic() - began < 5


def test_local_path_is_the_file_itself_or_a_copy_of_a_remote_one(tmp_path: Path) -> None:
    local = tmp_path / "report.html"
    local.write_text("<p>local</p>")
    copy = tmp_path / "copy.html"
    assert storage.local_path(str(local), copy) == local and not copy.exists()
    assert storage.local_path(f"file://{local}", copy) == local and not copy.exists()
    remote = "memory://bucket/models/versions/v1/report.html"
    storage.write_bytes(remote, b"<p>remote</p>")
    assert storage.local_path(remote, copy) == copy
    assert copy.read_bytes() == b"<p>remote</p>"
