"""The settle rule: of a burst of uploads, only the newest one's build retrains."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlcycle import storage
from mlcycle.cli import app
from mlcycle.trigger import decide, moment, screen, settle

ROOT = "gs://bkt/mlcycle"
IN = f"{ROOT}/data/incoming"


def info(name: str, modified: str, generation: str = "") -> storage.FileInfo:
    return storage.FileInfo(f"{IN}/{name}", name, 10, modified, generation)


LISTING = [
    info("a.csv", "2026-12-01 20:00:00.100000+00:00", "1"),
    info("b.csv", "2026-12-01 20:00:00.300000+00:00", "2"),
    info("c.csv", "2026-12-01 20:00:00.200000+00:00", "3"),
]


def test_only_the_newest_upload_retrains() -> None:
    outcomes = {f.name: decide(f.uri, ROOT, LISTING) for f in LISTING}
    assert [n for n, d in outcomes.items() if d.retrain] == ["b.csv"]
    assert outcomes["a.csv"].newer == f"{IN}/b.csv"
    assert "2 older file(s) train with it" in outcomes["b.csv"].reason


def test_a_tie_in_time_goes_to_the_greatest_name() -> None:
    same = "2026-12-01 20:00:00+00:00"
    tied = [info("x.csv", same), info("y.csv", same)]
    assert [f.name for f in tied if decide(f.uri, ROOT, tied).retrain] == ["y.csv"]


def test_times_compare_as_times_not_as_text() -> None:
    # As text, "9.5" sorts after "10.0"; local listings give floats, gcsfs gives datetimes.
    local = [info("old.csv", "9.5"), info("new.csv", "10.0")]
    assert decide(f"{IN}/new.csv", ROOT, local).retrain
    assert moment("2026-12-01 20:00:00+00:00") == moment("2026-12-01T21:00:00+01:00")
    with pytest.raises(ValueError, match="not a modification time"):
        moment("")


@pytest.mark.parametrize(
    ("upload", "why"),
    [
        (f"{ROOT}/models/champion.json", "outside gs://bkt/mlcycle/data/incoming/"),
        (f"{ROOT}/pipeline/run/x.csv", "outside"),
        ("gs://other/mlcycle/data/incoming/b.csv", "outside"),
        (f"{ROOT}/data/incoming-not/b.csv", "outside"),
        (f"{IN}/sub/", "not a plain file name"),
        (f"{IN}/../models/x.csv", "not a plain file name"),
        (f"{IN}/.b.csv.tmp", "hidden"),
        (f"{IN}/gone.csv", "no longer in the incoming folder"),
    ],
)
def test_uploads_that_never_retrain(upload: str, why: str) -> None:
    decision = decide(upload, ROOT, LISTING)
    assert not decision.retrain and why in decision.reason


def test_a_delete_or_metadata_event_never_retrains() -> None:
    decision = decide(f"{IN}/b.csv", ROOT, LISTING, event_type="OBJECT_DELETE")
    assert not decision.retrain and "OBJECT_DELETE" in decision.reason


def test_an_overwritten_object_leaves_the_run_to_its_newer_version() -> None:
    assert decide(f"{IN}/b.csv", ROOT, LISTING, generation="2").retrain
    older = decide(f"{IN}/b.csv", ROOT, LISTING, generation="1")
    assert not older.retrain and "overwritten" in older.reason
    assert decide(f"{IN}/b.csv", ROOT, LISTING, generation=None).retrain  # not checked


def test_screen_answers_without_a_listing_only_when_it_can() -> None:
    assert screen(f"{ROOT}/models/x", ROOT) is not None
    assert screen(f"{IN}/b.csv", ROOT) is None


def test_settle_waits_then_sees_uploads_made_meanwhile(tmp_path: Path) -> None:
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    first = incoming / "first.csv"
    first.write_text("a\n1\n")
    os.utime(first, (1_000, 1_000))

    def upload_more(seconds: float) -> None:  # another file lands during the wait
        assert seconds == 30
        (incoming / "second.csv").write_text("a\n2\n")

    decision = settle(str(first), str(tmp_path), 30, sleep=upload_more)
    assert not decision.retrain
    assert decision.newer == str(incoming / "second.csv")
    assert settle(str(incoming / "second.csv"), str(tmp_path), 0).retrain


def test_settle_never_waits_for_an_upload_outside_incoming(tmp_path: Path) -> None:
    def never(seconds: float) -> None:
        raise AssertionError("waited for an upload that cannot retrain")

    decision = settle(str(tmp_path / "models" / "x.json"), str(tmp_path), 60, sleep=never)
    assert not decision.retrain


# -- the command ---------------------------------------------------------------------------


def test_the_command_marks_only_the_upload_that_retrains(tmp_path: Path) -> None:
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    for i, name in enumerate(["a.csv", "b[1].csv"]):
        (incoming / name).write_text("x\n1\n")
        os.utime(incoming / name, (1_000 + i, 1_000 + i))
    runner = CliRunner()
    mark = tmp_path / "retrain"
    args = ["--root", str(tmp_path), "--seconds", "0", "--mark", str(mark)]

    out = runner.invoke(app, ["settle", str(incoming / "a.csv"), *args])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("no run:") and "b[1].csv" in out.output
    assert not mark.exists()

    out = runner.invoke(app, ["settle", str(incoming / "b[1].csv"), *args])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("retrain:")
    assert mark.read_text() == f"{incoming / 'b[1].csv'}\n"


@pytest.mark.parametrize("upload", ["", "gs:///", "gs://bkt/", "gs:///mlcycle/x.csv"])
def test_the_command_refuses_a_missing_bucket_or_object(upload: str) -> None:
    # What a manual build that left _BUCKET_ID or _OBJECT_ID empty passes.
    out = CliRunner().invoke(app, ["settle", upload, "--root", ROOT, "--seconds", "0"])
    assert out.exit_code == 2
    assert "gs://BUCKET/OBJECT" in out.output
