"""`mlcycle data rm` removes one file inside the incoming folder, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlcycle import cli


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with two incoming files, a subfolder, a registry and a pipeline folder."""
    root = tmp_path / "root"
    incoming = root / "data/incoming"
    (incoming / "sub").mkdir(parents=True)
    (incoming / "a.csv").write_text("x,y\n1,2\n")
    (incoming / "b.csv").write_text("x,y\n3,4\n")
    (incoming / "sub/c.csv").write_text("x,y\n5,6\n")
    (root / "models/versions/v1").mkdir(parents=True)
    (root / "models/versions/v1/metadata.json").write_text("{}")
    (root / "models/champion.json").write_text('{"version": "v1"}')
    (tmp_path / "outside.csv").write_text("x\n1\n")
    return root


def everything(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root.parent)) for p in root.parent.rglob("*"))


def rm(root: Path, *args: str) -> tuple[int, str]:
    out = CliRunner().invoke(
        cli.app, ["data", "rm", *args, "--root", str(root)], env={"COLUMNS": "200"}
    )
    return out.exit_code, out.output


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        ".",
        "..",
        "../../models",
        "../../models/champion.json",
        "sub",
        "sub/c.csv",
        "../../../outside.csv",
        "/etc/passwd",
        "a.csv/..",
        "sub\\c.csv",
        "nope.csv",
        ".hidden",
    ],
)
def test_a_name_that_is_not_one_incoming_file_removes_nothing(root: Path, name: str) -> None:
    before = everything(root)
    code, out = rm(root, name)
    assert code == 1, out
    assert "error:" in out
    assert everything(root) == before


def test_one_file_is_removed_and_only_it(root: Path) -> None:
    before = everything(root)
    code, out = rm(root, "a.csv")
    assert code == 0, out
    assert "removed" in out and "a.csv" in out
    assert everything(root) == [p for p in before if not p.endswith("incoming/a.csv")]


def test_several_files_need_all(root: Path) -> None:
    before = everything(root)
    code, out = rm(root, "a.csv", "b.csv")
    assert code != 0 and everything(root) == before  # two names: refused, not both removed
    code, out = rm(root, "a.csv", "--all")
    assert code == 1 and "not both" in out and everything(root) == before
    code, out = rm(root, "--all")
    assert code == 0, out
    assert list((root / "data/incoming").rglob("*.csv")) == []
    assert (root / "models/champion.json").exists() and (root / "models/versions/v1").is_dir()
