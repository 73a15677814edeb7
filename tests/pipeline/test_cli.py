"""The `mlcycle` command as a user runs it: real processes, exit codes, printed output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def mlcycle(*args: str, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    if root is not None:
        env["MLCYCLE_ROOT"] = str(root)
    return subprocess.run(
        [sys.executable, "-m", "mlcycle.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


# What users and the project's own files (Makefile, Dockerfile, Cloud Build, docs) call, in the
# order `mlcycle --help` lists it; each with the options they pass. A floor: every other
# option must be explained too (test_each_command_s_help_explains_every_option).
COMMANDS: dict[str, tuple[str, ...]] = {
    "up": ("--root", "--config", "--api-port", "--ui-port"),
    "run": ("--root", "--config", "--verbose", "--image", "--user"),
    "data": (),
    "models": ("--root", "--json"),
    "champion": ("--root", "--limit", "--json"),
    "promote": ("--root", "--reason", "--force"),
    "rollback": ("--root", "--to", "--reason", "--force"),
    "report": ("--root", "--version", "--open"),
    "serve": ("--root", "--host", "--port"),
    "ui": ("--api-url", "--host", "--port"),
    "watch": (
        "--root",
        "--config",
        "--interval",
        "--settle",
        "--on-drift",
        "--drift-interval",
        "--drift-since",
    ),
    "feedback": (),
    "monitor": ("--root", "--config", "--since", "--version", "--json", "--once"),
    "compile": ("--output", "--image", "--config"),
    "submit": (
        "--project",
        "--region",
        "--image",
        "--root",
        "--service-account",
        "--wait",
        "--dry-run",
        "--output",
    ),
    "settle": ("--root", "--seconds", "--event-type", "--generation", "--mark"),
}
FEEDBACK_COMMANDS: dict[str, tuple[str, ...]] = {"export": ("--root", "--config", "--version")}
DATA_COMMANDS: dict[str, tuple[str, ...]] = {
    "add": ("--root",),
    "list": ("--root",),
    "rm": ("--root", "--all"),
}


def panel(text: str, title: str) -> list[tuple[str, str]]:
    """The rows of one of rich's help panels (Commands, Options, Arguments): (first word, the
    rest), a wrapped row's continuation lines joined to it."""
    rows: list[tuple[str, str]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith(f"╭─ {title} "):
            inside = True
        elif line.startswith("╰"):
            inside = False
        elif inside and line.startswith("│"):
            content = line[1:].rstrip().removesuffix("│").rstrip()
            body = content.strip()
            if not body:
                continue
            if len(content) - len(content.lstrip()) > 4 and rows:  # a wrapped row goes on
                rows[-1] = (rows[-1][0], f"{rows[-1][1]} {body}")
            else:
                first, _, rest = body.removeprefix("* ").strip().partition(" ")
                rows.append((first, rest.strip()))
    return rows


def words(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def test_help_lists_every_command_and_group_in_order_of_use() -> None:
    result = mlcycle("--help")
    assert result.returncode == 0, result.stderr
    listed = panel(result.stdout, "Commands")
    assert [name for name, _ in listed] == list(COMMANDS)
    assert all(summary for _, summary in listed), listed  # each says what it does
    data = mlcycle("data", "--help")
    assert data.returncode == 0, data.stderr
    assert [name for name, _ in panel(data.stdout, "Commands")] == list(DATA_COMMANDS)
    feedback = mlcycle("feedback", "--help")
    assert feedback.returncode == 0, feedback.stderr
    assert [name for name, _ in panel(feedback.stdout, "Commands")] == list(FEEDBACK_COMMANDS)


@pytest.mark.parametrize(
    "command",
    [(name,) for name in COMMANDS if name not in ("data", "feedback")]
    + [("data", name) for name in DATA_COMMANDS]
    + [("feedback", name) for name in FEEDBACK_COMMANDS],
    ids=" ".join,
)
def test_each_command_s_help_explains_every_option(command: tuple[str, ...]) -> None:
    import typer

    from mlcycle.cli import app

    result = mlcycle(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert f" {' '.join(command)} [OPTIONS]" in result.stdout.splitlines()[1]  # the usage line
    shown = " ".join(words(summary) for _, summary in panel(result.stdout, "Options"))
    names = {name for name, _ in panel(result.stdout, "Options")}
    floor = (COMMANDS | DATA_COMMANDS | FEEDBACK_COMMANDS)[command[-1]]
    assert set(floor) <= names, f"missing: {set(floor) - names}"
    click_command = typer.main.get_command(app)
    for part in command:
        click_command = click_command.commands[part]  # type: ignore[attr-defined]
    arguments = " ".join(words(summary) for _, summary in panel(result.stdout, "Arguments"))
    for param in click_command.params:
        if param.name == "help":
            continue
        help_text = words(param.help or "")
        assert help_text, f"{param.opts} has no help"
        # The first words of its help, as printed beside it (rich wraps the rest).
        assert " ".join(help_text.split()[:6]) in (
            arguments if param.param_type_name == "argument" else shown
        ), param.opts
        if param.param_type_name == "option":
            assert param.opts[0] in names or param.opts[-1] in names, param.opts


def test_run_prints_steps_metrics_and_the_gate(champion_root: Path) -> None:
    result = mlcycle("run", root=champion_root)
    assert result.returncode == 0, result.stderr
    for step in ("ingest", "validate", "clean", "split", "train", "evaluate", "register"):
        assert step in result.stdout
    assert "roc_auc" in result.stdout and "recall" in result.stdout
    assert "gate: rejected" in result.stdout  # the same data retrained: a tie keeps the champion
    assert "ties keep the champion" in result.stdout


def test_rejected_data_exits_2_with_the_report(champion_root: Path) -> None:
    (champion_root / "data/incoming/broken.csv").write_bytes(b"\x00\x01\x02garbage")
    before = (champion_root / "models/champion.json").read_text()
    result = mlcycle("run", root=champion_root)
    assert result.returncode == 2
    assert "data rejected by ingest" in result.stderr
    assert "broken.csv" in result.stderr and "binary" in result.stderr
    assert (champion_root / "models/champion.json").read_text() == before
    # Moved aside, and the message says where and how to bring it back.
    rejected = champion_root / "data/rejected/broken.csv"
    assert rejected.is_file() and not (champion_root / "data/incoming/broken.csv").exists()
    assert f"broken.csv -> {rejected}" in result.stderr
    assert "is unchanged" in result.stderr and "mlcycle data add" in result.stderr


def test_models_json(trained_root: Path) -> None:
    result = mlcycle("models", "--json", root=trained_root)
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["is_champion"] is True
    assert {"version", "created_at", "data_hash", "gate", "metrics"} <= set(row)
    assert set(row["metrics"]) >= {"roc_auc", "accuracy", "precision", "recall", "f1", "brier"}
    assert row["gate"]["decision"] == "promoted" and row["gate"]["reasons"]


def test_champion_shows_the_pipeline_s_promotion(trained_root: Path) -> None:
    from mlcycle.model.registry import Registry

    result = mlcycle("champion", "--json", root=trained_root)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    champion = Registry(str(trained_root)).champion()
    [move] = shown["history"]
    assert shown["champion"]["version"] == move["version"] == champion.version
    assert shown["champion"]["move"] == move and shown["problem"] is None
    assert move["kind"] == "pipeline" and move["previous"] is None and move["seq"] == 1
    assert move["by"]["tool"] == "pipeline"
    assert move["by"]["run_id"] == champion.lineage.pipeline_run and move["by"]["run_id"]
    assert move["sha256"] == champion.model.sha256
    assert move["reasons"] == champion.gate.reasons
    table = mlcycle("champion", root=trained_root)
    assert table.returncode == 0 and f"pipeline run {champion.lineage.pipeline_run}" in words(
        table.stdout
    )
    # The first champion replaced none: nothing to roll back to, and nothing changes.
    rollback = mlcycle("rollback", root=trained_root)
    assert rollback.returncode == 1
    assert f"the champion {champion.version} replaced no other" in words(rollback.stderr)


def test_models_table_marks_the_champion(trained_root: Path) -> None:
    assert "★" in mlcycle("models", root=trained_root).stdout


def test_report_prints_the_champion_s_report(trained_root: Path) -> None:
    result = mlcycle("report", root=trained_root)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.name == "report.html" and "Gate decision" in path.read_text()
    missing = mlcycle("report", "--version", "nope", root=trained_root)
    assert missing.returncode == 1 and "no model version 'nope'" in missing.stderr


def test_data_add_list_rm(tmp_path: Path, bc_frame) -> None:
    file = tmp_path / "new.csv"
    bc_frame.head(5).to_csv(file, index=False)
    root = tmp_path / "root"
    assert mlcycle("data", "add", str(file), root=root).returncode == 0
    again = mlcycle("data", "add", str(file), root=root)
    assert again.returncode == 0 and "nothing added" in again.stdout  # its rows are there
    bc_frame.head(6).to_csv(file, index=False)
    assert mlcycle("data", "add", str(file), root=root).returncode == 0  # renamed, not clobbered
    names = sorted(p.name for p in (root / "data/incoming").iterdir())
    assert len(names) == 2 and names[-1] == "new.csv" and names[0].endswith("-new.csv")
    assert "new.csv" in mlcycle("data", "list", root=root).stdout
    assert mlcycle("data", "rm", "new.csv", root=root).returncode == 0
    assert not (root / "data/incoming/new.csv").exists()
    missing = mlcycle("data", "rm", "nope.csv", root=root)
    assert missing.returncode == 1 and "no incoming file" in missing.stderr
    bad = mlcycle("data", "add", str(tmp_path / "absent.csv"), root=root)
    assert bad.returncode == 1 and "no such file" in bad.stderr
    (tmp_path / "notes.txt").write_text("x")
    wrong = mlcycle("data", "add", str(tmp_path / "notes.txt"), root=root)
    assert wrong.returncode == 1 and ".csv" in wrong.stderr


def test_bad_config_is_named(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("label: y\n")
    result = mlcycle("run", "--config", str(config), root=tmp_path)
    assert result.returncode == 1
    assert str(config) in result.stderr and "name: required" in result.stderr
    assert "candidates" not in result.stderr  # a config needs no candidates: they have a default


def test_compile_writes_a_spec_kfp_loads(tmp_path: Path) -> None:
    from kfp import components

    out = tmp_path / "spec.yaml"
    result = mlcycle("compile", "--output", str(out), "--image", "example/mlcycle:abc")
    assert result.returncode == 0, result.stderr
    spec = yaml.safe_load(out.read_text())
    assert spec["pipelineInfo"]["name"] == "mlcycle-training"
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
    assert images == {"example/mlcycle:abc"}
    resources = {
        json.dumps(e["container"].get("resources"), sort_keys=True)
        for e in spec["deploymentSpec"]["executors"].values()
    }
    assert len(resources) == 1 and "16" in resources.pop()  # the config's memory
    loaded = components.load_component_from_file(str(out))
    assert set(loaded.component_spec.inputs) >= {"root", "config", "incoming_fingerprint"}


def test_a_run_for_another_data_set_is_one_line_before_any_step(tmp_path: Path) -> None:
    """The root's champion was trained for 'wine', the default config is breast cancer's: the
    run says so in one line, shows no step, and leaves the user's file where it was."""
    from support import champion_trained_for

    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "wine.csv").write_text("alcohol,cultivar\n13.2,a\n")
    champion_trained_for(tmp_path, "wine")
    result = mlcycle("run", root=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "trained for data set 'wine'" in result.stderr and "'breast_cancer'" in result.stderr
    assert "ingest" not in result.stdout + result.stderr  # no step table
    assert (incoming / "wine.csv").is_file() and not (tmp_path / "data" / "rejected").exists()
