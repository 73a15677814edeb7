"""What `mlcycle` prints, with the pipeline and the registry stood in for (fast)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlcycle import cli
from mlcycle.cli import models as model_commands
from mlcycle.cli.options import dataset_config
from mlcycle.pipeline import local

METRICS = {
    "roc_auc": 0.99,
    "accuracy": 0.95,
    "precision": 0.9,
    "recall": 0.96,
    "f1": 0.93,
    "specificity": 0.94,
    "false_alarms_per_100": 3.5,
    "ece": 0.02,
}


def registration(onnx: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "version": "20260101-000000-abcdef",
        "registered": True,
        "promoted": True,
        "gate": {"decision": "promoted", "promote": True, "reasons": ["no champion yet"]},
        "metrics": {**METRICS, "brier": 0.04},
        "champion_before": None,
        "champion": "20260101-000000-abcdef",
        "candidate": "logreg",
        "warnings": [],
        "onnx": onnx,
    }


def run_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reg: dict[str, Any]) -> str:
    log = tmp_path / "log.txt"
    log.write_text("")
    result = local.RunResult(True, None, str(log), 1.0, registration=reg)
    monkeypatch.setattr(local, "run_pipeline", lambda *a, **k: result)
    out = CliRunner().invoke(
        cli.app, ["run", "--root", str(tmp_path / "root")], env={"COLUMNS": "200"}
    )
    assert out.exit_code == 0, out.output
    # rich wraps at the console's width, which it fixed when cli was imported: compare words.
    return " ".join(out.output.split())


def test_run_says_when_a_version_falls_back_to_scikit_learn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    onnx = {"status": "failed", "reason": "no ONNX graph matched scikit-learn within 1e-05"}
    out = run_with(monkeypatch, tmp_path, registration(onnx))
    assert "serving: scikit-learn" in out
    assert "the ONNX export failed: no ONNX graph matched scikit-learn within 1e-05" in out


def test_run_says_the_fast_path_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = run_with(monkeypatch, tmp_path, registration({"status": "exported"}))
    assert "serving: onnxruntime" in out


def test_models_cuts_nothing_even_at_80_columns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    version = "20261201-213000-0123ab"  # begins with its creation time, UTC
    row = {
        "version": version,
        "is_champion": True,
        "created_at": "2026-12-01T21:30:00.123456+00:00",
        "candidate": "hist_gradient_boosting_big",
        "data_hash": "f" * 64,
        "gate": {"decision": "promoted"},
        "metrics": METRICS,
    }
    monkeypatch.setattr(model_commands, "model_rows", lambda root: [row])
    out = CliRunner().invoke(cli.app, ["models", "--root", str(tmp_path)], env={"COLUMNS": "80"})
    assert out.exit_code == 0, out.output
    assert version in out.output and "ffffffffffff" in out.output and "promoted" in out.output
    assert "…" not in out.output and max(map(len, out.output.splitlines())) <= 80
    # The candidate's name folds onto more lines, whole: read down its column.
    lines = out.output.splitlines()
    [header] = [i for i, line in enumerate(lines) if "candidate" in line]
    start = lines[header].index("candidate")
    below = lines[header + 2 :]  # past the rule
    folded = "".join(line[start:].split(" ")[0] for line in below if line.strip())
    assert folded == "hist_gradient_boosting_big"


def test_data_list_shows_readable_times_and_sizes(tmp_path: Path) -> None:
    incoming = tmp_path / "data/incoming"
    incoming.mkdir(parents=True)
    (incoming / "rows.csv").write_bytes(b"x" * 12_345)
    os.utime(incoming / "rows.csv", (1_764_624_000, 1_764_624_000))  # 2025-12-01 21:20 UTC
    out = CliRunner().invoke(cli.app, ["data", "list", "--root", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "rows.csv" in out.output and "12.3 kB" in out.output
    assert "2025-12-01 21:20:00" in out.output and "1764624000" not in out.output


def help_of(*args: str) -> str:
    out = CliRunner().invoke(cli.app, [*args, "--help"], prog_name="mlcycle", env={"COLUMNS": "80"})
    assert out.exit_code == 0, out.output
    return out.output


def test_help_has_no_placeholder_on_flags_and_plain_usage() -> None:
    for args in ((), ("run",), ("data", "add"), ("settle",), ("models",)):
        text = help_of(*args)
        assert "<bool>" not in text, args
        assert "{" not in text, args
    assert "Usage: mlcycle data add [OPTIONS] FILE" in help_of("data", "add")


def test_commands_are_listed_by_use_up_first() -> None:
    text = help_of()
    listed = [
        line.split()[1]
        for line in text.splitlines()
        if line.startswith("│ ") and len(line.split()) > 2 and not line.split()[1].startswith("-")
    ]
    assert listed[0] == "up" and listed.index("run") < listed.index("settle")


def test_help_paragraphs_are_not_broken_where_the_source_wraps() -> None:
    joined = " ".join(help_of("run").split())
    assert "when the data was rejected (the report says why)" in joined
    assert "rejected (the\n" not in help_of("run")


def test_version() -> None:
    import mlcycle

    out = CliRunner().invoke(cli.app, ["--version"])
    assert out.exit_code == 0 and out.output.strip() == f"mlcycle {mlcycle.__version__}"


def test_the_default_config_works_from_any_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLCYCLE_CONFIG", raising=False)
    assert dataset_config(None).name == "breast_cancer"


def test_a_missing_relative_config_says_what_it_is_relative_to(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(cli.app, ["compile", "--config", "configs/mine.yaml"])
    assert out.exit_code == 1
    text = " ".join(out.output.split())
    assert (
        f"config file not found: configs/mine.yaml (relative to the current folder, {tmp_path})"
        in text
    )


def test_the_copy_in_configs_is_the_packaged_default() -> None:
    from mlcycle.settings import DEFAULT_CONFIG

    repo = Path(__file__).resolve().parents[2]
    assert (repo / "configs/breast_cancer.yaml").read_text() == DEFAULT_CONFIG.read_text()


def test_the_step_view_shows_each_step_s_time_and_cache_hits() -> None:
    from rich.console import Console

    from mlcycle.cli.progress import Progress
    from mlcycle.cli.render import steps_table

    progress = Progress()
    progress.update("ingest", "running", now=1.0)
    progress.update("ingest", "done", now=3.5)
    progress.update("validate", "cached", now=3.6)
    progress.update("clean", "running", now=3.7)
    progress.update("clean", "failed", now=4.0)
    assert progress.get("ingest").seconds(now=99.0) == 2.5
    assert progress.get("split").state == "pending" and progress.get("split").seconds(9.0) is None
    assert progress.running() == []
    progress.update("split", "running")
    assert progress.running() == ["split"]
    console = Console(width=80, record=True)
    console.print(steps_table(progress))
    lines = {line.split()[1]: line.split() for line in console.export_text().splitlines()}
    assert lines["ingest"][0] == "✓" and lines["ingest"][2] == "2.5s"
    assert lines["validate"][2] == "cached"
    assert lines["clean"][0] == "✗" and lines["clean"][2] == "0.3s"
    assert lines["split"][0] == "…" and lines["split"][2].endswith("s")
    assert lines["train"] == ["·", "train"]


def test_the_summary_lists_every_metric_the_model_scores(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlcycle.model.metrics import NAMES

    out = run_with(monkeypatch, tmp_path, registration(None))
    for name in NAMES:
        value = registration(None)["metrics"][name]
        assert re.search(rf"\b{name} │ +{value:.4f} │", out), name  # one row per metric
